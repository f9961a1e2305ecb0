"""The three cadastral kinds: which geometries each takes and how its rows become features.

:data:`KIND_TABLE` is the one place a kind is described; :func:`geo.cadastre.build.import_cadastre`
reads it. Each builder returns the layer's frame and the rows it dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import shapely

from geo.cadastre import values as V
from geo.cadastre.errors import MissingLayerError
from geo.cadastre.rows import Source, aahh_entry, containing, districts_of, link, points_of
from geo.errors import DuplicateCodeError

Built = tuple[pd.DataFrame, list[dict[str, Any]]]
POLYGONAL = (3, 6)  # shapely type ids: Polygon, MultiPolygon
POINT = (0,)


def _aahh(src: Source) -> Built:
    placed = districts_of(points_of(src.geoms), src.districts)
    rows, dropped = [], []
    for i, geom, raw_name, raw_code, raw_type, raw_district in src.rows(
        src.geoms, "name", "code", "type", "district"
    ):
        name, named_type = V.settlement(raw_name)
        if name is None:
            dropped.append(src.drop(i, None, "missing_name"))
            continue
        district = V.ubigeo(raw_district) or placed[i]
        code = V.text(raw_code) or f"ah-{district or 'x'}-{V.slug(name)}"
        kind = V.settlement_type(raw_type) or named_type
        rows.append(
            {
                "row": i,
                "code": code,
                "name": name,
                "type": kind,
                "district_code": district,
                "geometry": geom,
            }
        )
    out = pd.DataFrame(rows, columns=["row", "code", "name", "type", "district_code", "geometry"])
    dup = out[out["code"].duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]
        how = (
            "two rows have this code"
            if src.columns["code"]
            else f"two AA.HH. named {first['name']!r} in district {first['district_code']}; "
            "map their code column with --map code=COLUMN"
        )
        raise DuplicateCodeError(
            f"aahh: {how}", {"code": str(first["code"]), "rows": dup["row"].tolist()[:20]}
        )
    return out.drop(columns="row"), dropped


def _manzanas(src: Source) -> Built:
    ln = link(src)
    index = ln.index
    parts: dict[str, dict[str, Any]] = {}
    dropped = []
    for i, geom, raw_mz, raw_aahh, raw_district in src.rows(src.geoms, "mz", "aahh", "district"):
        mz = V.manzana(raw_mz)
        if mz is None:
            dropped.append(src.drop(i, raw_mz, "missing_mz"))
            continue
        district = V.ubigeo(raw_district) or ln.placed[i]
        entry, why = aahh_entry(index, raw_aahh, district, ln.inside[i])
        if entry is None:
            dropped.append(src.drop(i, f"Mz. {mz}", why))
            continue
        code = f"{index.codes[entry]}-{mz}"
        if code in parts:  # one manzana drawn in parts (cut by a pasaje): joined
            parts[code]["geometry"] = shapely.union(parts[code]["geometry"], geom)
            continue
        parts[code] = {
            "code": code,
            "name": mz,
            "aa_hh_code": index.codes[entry],
            "mz": mz,
            "district_code": index.district[entry] or V.ubigeo(raw_district) or ln.placed[i],
            "geometry": geom,
        }
    cols = ["code", "name", "aa_hh_code", "mz", "district_code", "geometry"]
    return pd.DataFrame(list(parts.values()), columns=cols), dropped


def _lotes(src: Source) -> Built:
    ln = link(src)
    index = ln.index
    manzanas = src.manzanas
    mz_frame = None if manzanas is None or manzanas.empty else manzanas.reset_index(drop=True)
    mz_codes = [] if mz_frame is None else mz_frame["code"].astype(str).tolist()
    in_mz = containing(ln.points, mz_frame, mz_codes)
    if src.columns["mz"] is None and mz_frame is None:
        raise MissingLayerError(
            "lotes: the file has no manzana column (map it with --map mz=COLUMN) and no "
            "manzanas are imported to find each lote's manzana",
            {"needs": "manzanas", "option": "mz"},
        )
    rows, dropped, seen = [], [], set()
    for i, point, raw_lt, raw_mz, raw_aahh, raw_district in src.rows(
        ln.points, "lt", "mz", "aahh", "district"
    ):
        lt = V.lote(raw_lt)
        if lt is None:
            dropped.append(src.drop(i, raw_lt, "lot_number_not_whole"))
            continue
        mz = V.manzana(raw_mz)
        k = in_mz[i]
        district = V.ubigeo(raw_district) or ln.placed[i]
        if src.columns["aahh"] is None and k is not None and mz_frame is not None:
            aahh_code = str(mz_frame["aa_hh_code"].iat[k])  # through the manzana it lies in
            entry = index.by_code.get(V.key(aahh_code))
            why = "" if entry is not None else "unknown_aahh"
        else:
            entry, why = aahh_entry(index, raw_aahh, district, ln.inside[i])
        if entry is None:
            dropped.append(src.drop(i, f"Lt. {lt}", why))
            continue
        if (
            mz is None
            and k is not None
            and mz_frame is not None
            and str(mz_frame["aa_hh_code"].iat[k]) == index.codes[entry]
        ):
            mz = str(mz_frame["mz"].iat[k])
        if mz is None:
            dropped.append(src.drop(i, f"Lt. {lt}", "no_manzana"))
            continue
        code = f"{index.codes[entry]}-{mz}-{lt}"
        if code in seen:
            dropped.append(src.drop(i, f"Mz. {mz} Lt. {lt}", "duplicate_lote"))
            continue
        seen.add(code)
        rows.append(
            {
                "code": code,
                "aa_hh_code": index.codes[entry],
                "mz": mz,
                "lt": lt,
                "district_code": index.district[entry] or district,
                "geometry": point,
            }
        )
    cols = ["code", "aa_hh_code", "mz", "lt", "district_code", "geometry"]
    return pd.DataFrame(rows, columns=cols), dropped


@dataclass(frozen=True)
class Kind:
    """What a kind's file may hold and how its rows become the layer."""

    geometries: tuple[int, ...]  # shapely type ids it accepts
    build: Callable[[Source], Built]


KIND_TABLE: dict[str, Kind] = {
    "aahh": Kind(POLYGONAL, _aahh),
    "manzanas": Kind(POLYGONAL, _manzanas),
    "lotes": Kind(POLYGONAL + POINT, _lotes),  # a lote may be its polygon or a point
}
