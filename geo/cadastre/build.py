"""Cadastral layers from a clerk's file: AA.HH./urbanizaciones, manzanas and lotes.

:func:`import_cadastre` reads a GeoJSON, GeoPackage or Shapefile (reprojected from its CRS to
EPSG:4326 by :func:`geo.importer.read_layer`), maps its columns (:mod:`geo.cadastre.mapping`),
validates geometries and values, links each manzana and lote to its AA.HH. (and each lote to
its manzana) and returns a :class:`CadastreSet` in the store's layer format. Nothing is
persisted here.

Layers (store name: columns):

- ``aa_hh``: code, name (without its type), type (``AA.HH.``, ``Urb.`` ...), district_code;
  polygons.
- ``manzanas``: code (``<aa_hh_code>-<mz>``), name (the manzana), aa_hh_code, mz,
  district_code; polygons (parts of one manzana drawn apart are joined).
- ``lotes``: code (``<aa_hh_code>-<mz>-<lt>``), aa_hh_code, mz, lt, district_code; the
  lote's point: a representative point inside its polygon (``shapely.point_on_surface``),
  or the point itself when the file has points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.boundaries import check_not_empty, invalid_row_error, repair_polygonal
from geo.cadastre import values as V
from geo.cadastre.errors import CoordinatesError, InvalidValueError, MissingLayerError
from geo.cadastre.mapping import KINDS, fields_of, resolve
from geo.errors import DuplicateCodeError, GeoError
from geo.importer import read_layer

Progress = Callable[[str, int, int], None]
STORE_LAYER = {"aahh": "aa_hh", "manzanas": "manzanas", "lotes": "lotes"}
POLYGONAL = (3, 6)
POINT = (0,)
NEAR_DISTRICT_DEG = 0.01  # ~1 km: a file wholly farther than this from the city is refused


@dataclass
class CadastreSet:
    """A validated cadastral layer ready to store.

    ``columns``: the file's column used for each field (None: not in the file).
    ``repaired``/``dropped``: ``{"row", "name", "reason"}`` of rows fixed or left out.
    """

    kind: str
    frame: gpd.GeoDataFrame
    source: str
    source_crs: str
    columns: dict[str, str | None]
    repaired: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def layer(self) -> str:
        """The store layer it replaces (``aa_hh``, ``manzanas``, ``lotes``)."""
        return STORE_LAYER[self.kind]

    @property
    def districts(self) -> set[str | None]:
        """Districts the layer covers (None: features outside every district)."""
        return {None if pd.isna(d) else str(d) for d in self.frame["district_code"]}

    @property
    def covers(self) -> tuple[str, set[str | None]]:
        """What a re-import replaces: (property, values). AA.HH. by district (a municipality
        sends its district); manzanas and lotes by AA.HH., so a file of one urbanización
        does not remove the lotes of the district's others."""
        if self.kind == "aahh":
            return "district_code", self.districts
        return "aa_hh_code", {str(c) for c in self.frame["aa_hh_code"]}

    def summary(self) -> str:
        """One paragraph for the command line."""
        used = ", ".join(f"{k}={v}" for k, v in self.columns.items() if v is not None)
        return (
            f"{self.kind}: {len(self.frame):,} features from {self.source} (CRS {self.source_crs});"
            f" columns {used}; {len(self.repaired)} repaired, {len(self.dropped)} dropped"
        )


def import_cadastre(
    path: str | Path,
    kind: str,
    mapping: dict[str, str] | None = None,
    *,
    districts: gpd.GeoDataFrame | None = None,
    aa_hh: gpd.GeoDataFrame | None = None,
    manzanas: gpd.GeoDataFrame | None = None,
    crs: Any = None,
    layer: str | None = None,
    invalid: str = "repair",
    progress: Progress | None = None,
) -> CadastreSet:
    """Read and validate one cadastral layer (see the module docstring).

    ``districts``, ``aa_hh``, ``manzanas``: the city's layers already stored (standard
    columns, EPSG:4326), used to place features in districts and to link manzanas and lotes
    to their AA.HH. by containment when the file has no column saying so. ``crs`` is used
    only when the file declares none. ``invalid``: ``"repair"`` (fix or drop bad rows and
    list them) or ``"refuse"`` (raise on the first).
    """
    fields_of(kind)
    if invalid not in ("repair", "refuse"):
        raise GeoError(f"unknown invalid-geometry policy {invalid!r}", {"invalid": invalid})
    if kind != "aahh" and (aa_hh is None or aa_hh.empty):
        raise MissingLayerError(
            f"{kind}: import the AA.HH./urbanizaciones first "
            "(ronda import cadastre FILE --kind aahh)",
            {"needs": "aa_hh"},
        )
    frame, source_crs = read_layer(path, layer=layer, crs=crs, progress=progress)
    frame = frame.reset_index(drop=True)
    columns = resolve(kind, mapping or {}, [c for c in frame.columns if c != frame.geometry.name])
    _check_coordinates(frame, districts, source_crs)
    allowed = POLYGONAL + POINT if kind == "lotes" else POLYGONAL
    geoms, repaired, dropped = _clean(frame, allowed, invalid)
    builder = {"aahh": _aahh, "manzanas": _manzanas, "lotes": _lotes}[kind]
    out, more = builder(frame, geoms, columns, districts, aa_hh, manzanas, invalid)
    dropped += more
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=4326)
    check_not_empty(out, kind)
    dropped.sort(key=lambda d: d["row"])
    return CadastreSet(kind, out, str(path), source_crs, columns, repaired, dropped)


# -- validation ---------------------------------------------------------------------------


def _check_coordinates(
    frame: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None, source_crs: str
) -> None:
    """Refuse a file whose features cannot be in the city: a wrong or missing CRS puts UTM
    metres where degrees belong (or the whole layer somewhere else)."""
    present = frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty]
    if present.empty:
        return
    x0, y0, x1, y1 = (float(v) for v in present.total_bounds)
    bounds = [round(v, 6) for v in (x0, y0, x1, y1)]
    hint = "is the CRS right? Peruvian cadastres are often UTM 18S (EPSG:32718), 17S or 19S"
    finite = bool(np.isfinite([x0, y0, x1, y1]).all())
    if not (finite and x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90):
        raise CoordinatesError(
            f"coordinates out of range after reading as {source_crs}; {hint}",
            {"bounds": bounds, "crs": source_crs},
        )
    if districts is None or districts.empty:
        return
    city = shapely.union_all(np.asarray(districts.geometry.values))
    area = shapely.buffer(city, NEAR_DISTRICT_DEG)
    if not bool(shapely.intersects(area, shapely.box(x0, y0, x1, y1))):
        raise CoordinatesError(
            f"the layer lies outside the city's districts (read as {source_crs}); {hint}",
            {"bounds": bounds, "crs": source_crs, "districts_bounds": list(districts.total_bounds)},
        )


def _clean(
    frame: gpd.GeoDataFrame, allowed: tuple[int, ...], invalid: str
) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Geometries, with invalid polygons repaired (``make_valid``) or the row dropped."""
    geoms = list(frame.geometry.values)
    repaired: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for i, geom in enumerate(geoms):
        reason = None
        if geom is None:
            reason = "missing_geometry"
        elif shapely.is_empty(geom):
            reason = "empty_geometry"
        elif shapely.get_type_id(geom) not in allowed:
            reason = f"wrong_geometry_type:{geom.geom_type}"
        elif not shapely.is_valid(geom):
            reason = "invalid"
        if reason is None:
            continue
        if invalid == "refuse":
            raise invalid_row_error(i, None, None, reason)
        fixed = repair_polygonal(geom) if reason == "invalid" else None
        if fixed is None:
            geoms[i] = None
            dropped.append({"row": i, "name": None, "reason": reason})
        else:
            geoms[i] = fixed
            repaired.append({"row": i, "name": None, "reason": shapely.is_valid_reason(geom)})
    return geoms, repaired, dropped


def _column(frame: pd.DataFrame, column: str | None) -> list[Any]:
    return frame[column].tolist() if column is not None else [None] * len(frame)


def _drop(row: int, name: Any, reason: str, invalid: str) -> dict[str, Any]:
    if invalid == "refuse":
        raise InvalidValueError(f"row {row} ({name}): {reason}", {"row": row, "reason": reason})
    return {"row": row, "name": None if name is None else str(name), "reason": reason}


# -- linking ------------------------------------------------------------------------------


def _containing(
    points: np.ndarray, polygons: gpd.GeoDataFrame | None, codes: list[str]
) -> list[int | None]:
    """Index of the polygon holding each point (lowest code on shared borders), or None."""
    out: list[int | None] = [None] * len(points)
    if polygons is None or polygons.empty:
        return out
    tree = shapely.STRtree(np.asarray(polygons.geometry.values))
    ok = np.flatnonzero([p is not None for p in points])
    if not len(ok):
        return out
    pts, polys = tree.query(points[ok], predicate="intersects")
    for p, k in zip(pts.tolist(), polys.tolist(), strict=True):
        i = int(ok[p])
        current = out[i]
        if current is None or codes[k] < codes[current]:
            out[i] = int(k)
    return out


def _districts_of(points: np.ndarray, districts: gpd.GeoDataFrame | None) -> list[str | None]:
    if districts is None or districts.empty:
        return [None] * len(points)
    codes = districts["code"].astype(str).tolist()
    return [None if k is None else codes[k] for k in _containing(points, districts, codes)]


class _AahhIndex:
    """The stored AA.HH.: by code, by name (per district), and by area."""

    def __init__(self, aa_hh: gpd.GeoDataFrame) -> None:
        self.frame = aa_hh.reset_index(drop=True)
        self.codes = self.frame["code"].astype(str).tolist()
        self.district = [
            None if d is None or pd.isna(d) else str(d)
            for d in self.frame.get("district_code", [None] * len(self.frame))
        ]
        self.by_code = {V.key(c): i for i, c in enumerate(self.codes)}
        self.by_name: dict[str, list[int]] = {}
        for i, name in enumerate(self.frame["name"].astype(str)):
            bare, _ = V.settlement(name)
            self.by_name.setdefault(V.key(bare or name), []).append(i)

    def named(self, value: Any, district: str | None) -> tuple[int | None, bool]:
        """(entry, ambiguous) for a code or a name in the file's column."""
        raw = V.text(value)
        if raw is None:
            return None, False
        if V.key(raw) in self.by_code:
            return self.by_code[V.key(raw)], False
        bare, _ = V.settlement(raw)
        found = self.by_name.get(V.key(bare or raw), [])
        if district is not None:
            found = [i for i in found if self.district[i] == district] or found
        if len(found) == 1:
            return found[0], False
        return None, len(found) > 1


def _points(geoms: list[Any]) -> np.ndarray:
    """A representative point inside each geometry (a point stays itself)."""
    arr = np.array(geoms, dtype=object)
    ok = np.array([g is not None for g in geoms], dtype=bool)
    out = np.full(len(geoms), None, dtype=object)
    if ok.any():
        out[ok] = shapely.point_on_surface(arr[ok])
    return out


# -- layers -------------------------------------------------------------------------------


def _aahh(
    frame: gpd.GeoDataFrame,
    geoms: list[Any],
    columns: dict[str, str | None],
    districts: gpd.GeoDataFrame | None,
    aa_hh: gpd.GeoDataFrame | None,
    manzanas: gpd.GeoDataFrame | None,
    invalid: str,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    placed = _districts_of(_points(geoms), districts)
    rows, dropped = [], []
    for i, (geom, raw_name, raw_code, raw_type, raw_district) in enumerate(
        zip(
            geoms,
            _column(frame, columns["name"]),
            _column(frame, columns["code"]),
            _column(frame, columns["type"]),
            _column(frame, columns["district"]),
            strict=True,
        )
    ):
        if geom is None:
            continue
        name, named_type = V.settlement(raw_name)
        if name is None:
            dropped.append(_drop(i, None, "missing_name", invalid))
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
            if columns["code"]
            else f"two AA.HH. named {first['name']!r} in district {first['district_code']}; "
            "map their code column with --map code=COLUMN"
        )
        raise DuplicateCodeError(
            f"aahh: {how}", {"code": str(first["code"]), "rows": dup["row"].tolist()[:20]}
        )
    return out.drop(columns="row"), dropped


def _manzanas(
    frame: gpd.GeoDataFrame,
    geoms: list[Any],
    columns: dict[str, str | None],
    districts: gpd.GeoDataFrame | None,
    aa_hh: gpd.GeoDataFrame | None,
    manzanas: gpd.GeoDataFrame | None,
    invalid: str,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    assert aa_hh is not None
    index = _AahhIndex(aa_hh)
    points = _points(geoms)
    placed = _districts_of(points, districts)
    inside = _containing(points, index.frame, index.codes)
    parts: dict[str, dict[str, Any]] = {}
    dropped = []
    for i, (geom, raw_mz, raw_aahh, raw_district) in enumerate(
        zip(
            geoms,
            _column(frame, columns["mz"]),
            _column(frame, columns["aahh"]),
            _column(frame, columns["district"]),
            strict=True,
        )
    ):
        if geom is None:
            continue
        mz = V.manzana(raw_mz)
        if mz is None:
            dropped.append(_drop(i, raw_mz, "missing_mz", invalid))
            continue
        entry, why = _aahh_entry(index, raw_aahh, V.ubigeo(raw_district) or placed[i], inside[i])
        if entry is None:
            dropped.append(_drop(i, f"Mz. {mz}", why, invalid))
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
            "district_code": index.district[entry] or V.ubigeo(raw_district) or placed[i],
            "geometry": geom,
        }
    cols = ["code", "name", "aa_hh_code", "mz", "district_code", "geometry"]
    return pd.DataFrame(list(parts.values()), columns=cols), dropped


def _aahh_entry(
    index: _AahhIndex, raw: Any, district: str | None, inside: int | None
) -> tuple[int | None, str]:
    """The AA.HH. named in the row's column, else the one the feature lies in."""
    entry, ambiguous = index.named(raw, district)
    if entry is not None:
        return entry, ""
    if inside is not None and (V.text(raw) is None or ambiguous):
        return inside, ""
    if V.text(raw) is not None:
        return None, "ambiguous_aahh" if ambiguous else "unknown_aahh"
    return None, "outside_every_aahh"


def _lotes(
    frame: gpd.GeoDataFrame,
    geoms: list[Any],
    columns: dict[str, str | None],
    districts: gpd.GeoDataFrame | None,
    aa_hh: gpd.GeoDataFrame | None,
    manzanas: gpd.GeoDataFrame | None,
    invalid: str,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    assert aa_hh is not None
    index = _AahhIndex(aa_hh)
    points = _points(geoms)
    placed = _districts_of(points, districts)
    inside = _containing(points, index.frame, index.codes)
    mz_frame = None if manzanas is None or manzanas.empty else manzanas.reset_index(drop=True)
    mz_codes = [] if mz_frame is None else mz_frame["code"].astype(str).tolist()
    in_mz = _containing(points, mz_frame, mz_codes)
    if columns["mz"] is None and mz_frame is None:
        raise MissingLayerError(
            "lotes: the file has no manzana column (map it with --map mz=COLUMN) and no "
            "manzanas are imported to find each lote's manzana",
            {"needs": "manzanas", "option": "mz"},
        )
    rows, dropped, seen = [], [], set()
    for i, (point, raw_lt, raw_mz, raw_aahh, raw_district) in enumerate(
        zip(
            points,
            _column(frame, columns["lt"]),
            _column(frame, columns["mz"]),
            _column(frame, columns["aahh"]),
            _column(frame, columns["district"]),
            strict=True,
        )
    ):
        if point is None:
            continue
        lt = V.lote(raw_lt)
        if lt is None:
            dropped.append(_drop(i, raw_lt, "lot_number_not_whole", invalid))
            continue
        mz = V.manzana(raw_mz)
        k = in_mz[i]
        district = V.ubigeo(raw_district) or placed[i]
        if columns["aahh"] is None and k is not None and mz_frame is not None:
            aahh_code = str(mz_frame["aa_hh_code"].iat[k])  # through the manzana it lies in
            entry = index.by_code.get(V.key(aahh_code))
            why = "" if entry is not None else "unknown_aahh"
        else:
            entry, why = _aahh_entry(index, raw_aahh, district, inside[i])
        if entry is None:
            dropped.append(_drop(i, f"Lt. {lt}", why, invalid))
            continue
        if (
            mz is None
            and k is not None
            and mz_frame is not None
            and str(mz_frame["aa_hh_code"].iat[k]) == index.codes[entry]
        ):
            mz = str(mz_frame["mz"].iat[k])
        if mz is None:
            dropped.append(_drop(i, f"Lt. {lt}", "no_manzana", invalid))
            continue
        code = f"{index.codes[entry]}-{mz}-{lt}"
        if code in seen:
            dropped.append(_drop(i, f"Mz. {mz} Lt. {lt}", "duplicate_lote", invalid))
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


__all__ = ["KINDS", "STORE_LAYER", "CadastreSet", "import_cadastre"]
