"""The geocoder's gazetteer: streets (per cuadra), intersections, AA.HH. lotes, landmarks,
districts, built once from boundary/street layers and held as numpy arrays and dicts.

All coordinates are kept in local metres (:class:`~geo.boundaries.LocalMetric`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.boundaries import LocalMetric
from geo.geocode_normalise import STREET_TYPES, normalise

ARTICLES = ("los", "las", "el", "la")

#: Names officers use for Lima districts besides the official ones.
LIMA_ALIASES: dict[str, str] = {
    "sjl": "150132",
    "smp": "150135",
    "ves": "150142",
    "vmt": "150143",
    "sjm": "150133",
    "cercado": "150101",
    "cercado de lima": "150101",
    "surco": "150140",
    "magdalena": "150120",
    "brena": "150105",
    "jesus maria": "150113",
    "rimac": "150128",
    "lurin": "150119",
}


@dataclass
class Street:
    """One named street in one district: its cuadra segments, in numbering order."""

    key: str
    stype: str | None
    label: str
    district: str | None
    segs: np.ndarray  # indices into the Gazetteer segment arrays
    seg_list: list[int] = field(default_factory=list)
    nodes: set[tuple[int, int]] = field(default_factory=set)


def _int_col(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), -1, dtype=np.int64)
    return pd.to_numeric(frame[col], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)


def _with_districts(streets: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Streets with a ``district_code``; when the data has none, the district of each midpoint."""
    if "district_code" in streets.columns and streets["district_code"].notna().all():
        return streets
    from geo.place import PolygonIndex  # placement is only needed for such data

    mid = shapely.line_interpolate_point(np.asarray(streets.geometry.values), 0.5, normalized=True)
    index = PolygonIndex(np.asarray(districts.geometry.values), districts["code"].to_numpy(str))
    codes, _ = index.assign(shapely.get_x(mid), shapely.get_y(mid))
    out = streets.copy()
    if "district_code" in out.columns:
        codes = np.where(out["district_code"].notna(), out["district_code"], codes)
    out["district_code"] = codes
    return out


def _node_key(x: float, y: float) -> tuple[int, int]:
    return round(x * 2), round(y * 2)  # half-metre grid: shared vertices coincide


class Gazetteer:
    """Everything the geocoder matches against; see :meth:`build`."""

    def __init__(self, metric: LocalMetric) -> None:
        self.metric = metric
        self.streets: list[Street] = []
        self.street_keys: dict[str | None, dict[str, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.aahh: list[dict[str, Any]] = []
        self.aahh_keys: dict[str | None, dict[str, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.lotes: dict[tuple[int, str, int], tuple[float, float]] = {}
        self.manzanas: dict[tuple[int, str], tuple[float, float]] = {}
        self.landmarks: list[dict[str, Any]] = []
        self.landmark_keys: dict[str | None, dict[str, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.districts: dict[str, dict[str, Any]] = {}
        self.district_keys: dict[str, str] = {}
        self.station_district: dict[str, str] = {}

    @classmethod
    def build(
        cls,
        streets: gpd.GeoDataFrame,
        districts: gpd.GeoDataFrame,
        *,
        lotes: gpd.GeoDataFrame | None = None,
        aa_hh: gpd.GeoDataFrame | None = None,
        landmarks: gpd.GeoDataFrame | None = None,
        stations: gpd.GeoDataFrame | None = None,
        aliases: dict[str, str] | None = None,
    ) -> Gazetteer:
        """Build from layers with our standard columns (see ``geo.boundaries``)."""
        gaz = cls(LocalMetric.around(np.asarray(districts.geometry.values)))
        gaz._add_districts(districts, LIMA_ALIASES if aliases is None else aliases)
        gaz._add_streets(_with_districts(streets, districts))
        if aa_hh is not None and lotes is not None:
            gaz._add_aahh(aa_hh, lotes)
        if landmarks is not None:
            gaz._add_landmarks(landmarks)
        if stations is not None:
            gaz.station_district = dict(
                zip(stations["code"], stations["district_code"], strict=True)
            )
        return gaz

    def _add_districts(self, districts: gpd.GeoDataFrame, aliases: dict[str, str]) -> None:
        cent = shapely.centroid(self.metric.geometry(np.asarray(districts.geometry.values)))
        for code, name, c in zip(districts["code"], districts["name"], cent, strict=True):
            key = normalise(str(name))
            self.districts[str(code)] = {"name": str(name), "key": key, "xy": (c.x, c.y)}
            self.district_keys[key] = str(code)
        for alias, code in aliases.items():
            if code in self.districts:
                self.district_keys.setdefault(alias, code)

    def _add_streets(self, streets: gpd.GeoDataFrame) -> None:
        geoms = self.metric.geometry(np.asarray(streets.geometry.values))
        first = shapely.get_point(geoms, 0)
        last = shapely.get_point(geoms, -1)
        self.seg_code = streets["code"].astype(str).to_numpy()
        self.x0, self.y0 = shapely.get_x(first), shapely.get_y(first)
        self.x1, self.y1 = shapely.get_x(last), shapely.get_y(last)
        self.seg_geom = geoms
        self.from_l, self.to_l = _int_col(streets, "from_left"), _int_col(streets, "to_left")
        self.from_r, self.to_r = _int_col(streets, "from_right"), _int_col(streets, "to_right")
        types = (
            streets["street_type"] if "street_type" in streets.columns else [None] * len(streets)
        )
        dists = (
            streets["district_code"]
            if "district_code" in streets.columns
            else [None] * len(streets)
        )
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, (name, stype, dist) in enumerate(zip(streets["name"], types, dists, strict=True)):
            st = normalise(str(stype)) if isinstance(stype, str) else None
            key = normalise(str(name))
            if st is None and key.split(" ", 1)[0] in STREET_TYPES and " " in key:
                st, key = key.split(" ", 1)
            groups[(key, st, None if pd.isna(dist) else str(dist))].append(i)
        for (key, st, dist), idx in groups.items():
            order = np.asarray(idx)[np.argsort(np.maximum(self.from_r[idx], self.from_l[idx]))]
            label = f"{streets['street_type'].iat[idx[0]]} " if st else ""
            street = Street(key, st, label + str(streets["name"].iat[idx[0]]), dist, order)
            for s in order:
                street.nodes.add(_node_key(self.x0[s], self.y0[s]))
                street.nodes.add(_node_key(self.x1[s], self.y1[s]))
            self._index(self.street_keys, key, dist, len(self.streets))
            self.streets.append(street)
        self.ranges = list(
            zip(
                self.from_l.tolist(),
                self.to_l.tolist(),
                self.from_r.tolist(),
                self.to_r.tolist(),
                strict=True,
            )
        )
        for street in self.streets:
            street.seg_list = street.segs.tolist()
        self.seg_tree = shapely.STRtree(geoms)
        self.seg_street = np.empty(len(streets), dtype=np.int64)
        for n, street in enumerate(self.streets):
            self.seg_street[street.segs] = n

    @staticmethod
    def _index(table: dict, key: str, dist: str | None, n: int) -> None:
        keys = {key}
        head, _, rest = key.partition(" ")
        if head in ARTICLES and rest:
            keys.add(rest)  # officers often drop the article: "Av. Proceres"
        for k in keys:
            table[dist][k].append(n)
            table[None][k].append(n)

    def _add_aahh(self, aa_hh: gpd.GeoDataFrame, lotes: gpd.GeoDataFrame) -> None:
        cent = shapely.centroid(self.metric.geometry(np.asarray(aa_hh.geometry.values)))
        index = {}
        for code, name, dist, c in zip(
            aa_hh["code"], aa_hh["name"], aa_hh["district_code"], cent, strict=True
        ):
            index[str(code)] = len(self.aahh)
            self._index(self.aahh_keys, normalise(str(name)), str(dist), len(self.aahh))
            self.aahh.append(
                {"code": str(code), "name": str(name), "district": str(dist), "xy": (c.x, c.y)}
            )
        x, y = self.metric.forward(lotes.geometry.x.to_numpy(), lotes.geometry.y.to_numpy())
        mz_pts: dict[tuple[int, str], list] = defaultdict(list)
        for a, mz, lt, px, py in zip(
            lotes["aa_hh_code"], lotes["mz"], lotes["lt"], x, y, strict=True
        ):
            k = index.get(str(a))
            if k is None:
                continue
            self.lotes[(k, str(mz).upper(), int(lt))] = (float(px), float(py))
            mz_pts[(k, str(mz).upper())].append((px, py))
        self.manzanas = {k: tuple(np.mean(v, axis=0)) for k, v in mz_pts.items()}

    def _add_landmarks(self, landmarks: gpd.GeoDataFrame) -> None:
        x, y = self.metric.forward(landmarks.geometry.x.to_numpy(), landmarks.geometry.y.to_numpy())
        for label, dist, px, py in zip(
            landmarks["label"], landmarks["district_code"], x, y, strict=True
        ):
            self._index(self.landmark_keys, normalise(str(label)), str(dist), len(self.landmarks))
            self.landmarks.append(
                {"label": str(label), "district": str(dist), "xy": (float(px), float(py))}
            )
