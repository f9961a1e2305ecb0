"""The geocoder's gazetteer: streets (per cuadra), intersections, AA.HH. lotes, landmarks,
districts, built once from boundary/street layers and held as numpy arrays and dicts.

All coordinates are kept in local metres (:class:`~geo.boundaries.LocalMetric`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.boundaries import LocalMetric
from geo.geocode.normalise import STREET_TYPES, normalise

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
    result: np.ndarray = (
        pd.to_numeric(frame[col], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
    )
    return result


def _with_districts(streets: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Streets with a ``district_code``; when the data has none, the district of each midpoint."""
    if "district_code" in streets.columns and streets["district_code"].notna().all():
        return streets
    from geo.placement.polygons import PolygonIndex  # placement is only needed for such data

    mid = shapely.line_interpolate_point(np.asarray(streets.geometry.values), 0.5, normalized=True)
    index = PolygonIndex(np.asarray(districts.geometry.values), districts["code"].to_numpy(str))
    codes, _ = index.assign(shapely.get_x(mid), shapely.get_y(mid))
    out = streets.copy()
    if "district_code" in out.columns:
        codes = np.where(out["district_code"].notna(), out["district_code"], codes)
    out["district_code"] = codes
    return out


def street_key(name: str, stype: Any = None) -> tuple[str | None, str]:
    """(street type, name key) of a street name: "Av. Los Próceres" -> ("av", "los proceres")."""
    st = normalise(str(stype)) if isinstance(stype, str) else None
    key = normalise(name)
    if st is None and key.split(" ", 1)[0] in STREET_TYPES and " " in key:
        st, key = key.split(" ", 1)
    return st, key


def _split_aliases(value: Any) -> list[str]:
    """Alternative names stored as "a|b" (or a list, as they come back from the store)."""
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v]
    if isinstance(value, str) and value:
        return [v for v in value.split("|") if v]
    return []


_HOUSE_NUMBER = re.compile(r"^\s*(\d{1,5})\s*([a-z]?)\b")


def house_number(text: str) -> tuple[int, str] | None:
    """(number, letter) of a house number tag: "12" (12, ""), "5 A" (5, "a"), "15-17" (15, "")."""
    m = _HOUSE_NUMBER.match(text.lower())
    if m is None:
        return None
    return int(m.group(1)), m.group(2)


def lotes_frame() -> gpd.GeoDataFrame:
    """An empty lotes layer (aa_hh_code, mz, lt; points)."""
    empty = pd.DataFrame({"aa_hh_code": [], "mz": [], "lt": []})
    return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=4326), crs=4326)


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
        # address points: (street entry, "12b"/"12") -> xy, and per street sorted numbers
        self.addr_exact: dict[tuple[int, str], tuple[float, float]] = {}
        self.addr_model: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.unplaced_addresses = 0
        self.seg_inferred = np.zeros(0, dtype=bool)

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
        addresses: gpd.GeoDataFrame | None = None,
        manzanas: gpd.GeoDataFrame | None = None,
    ) -> Gazetteer:
        """Build from layers with our standard columns (see ``geo.boundaries``)."""
        gaz = cls(LocalMetric.around(np.asarray(districts.geometry.values)))
        gaz._add_districts(districts, LIMA_ALIASES if aliases is None else aliases)
        gaz._add_streets(_with_districts(streets, districts))
        if aa_hh is not None and lotes is not None:
            gaz._add_aahh(aa_hh, lotes)
        elif aa_hh is not None and manzanas is not None:  # a cadastre of manzanas, no lotes
            gaz._add_aahh(aa_hh, lotes_frame())
        if aa_hh is not None and manzanas is not None:
            gaz._add_manzanas(manzanas)
        if landmarks is not None:
            gaz._add_landmarks(landmarks)
        if addresses is not None:
            gaz.unplaced_addresses = len(addresses)
            gaz._add_addresses(addresses)
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
        # OSM imports say which segments form one street (merged by connectivity): two
        # streets of the same name in one district stay apart there.
        ids = streets["osm_street"] if "osm_street" in streets.columns else [None] * len(streets)
        aliases = streets["aliases"] if "aliases" in streets.columns else [None] * len(streets)
        self.seg_inferred = (
            streets["numbering"].isin(["addresses", "centre"]).to_numpy()
            if "numbering" in streets.columns
            else np.zeros(len(streets), dtype=bool)
        )
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, (name, stype, dist, sid) in enumerate(
            zip(streets["name"], types, dists, ids, strict=True)
        ):
            st, key = street_key(str(name), stype)
            groups[(key, st, None if pd.isna(dist) else str(dist), sid)].append(i)
        for (key, st, dist, _), idx in groups.items():
            order = np.asarray(idx)[np.argsort(np.maximum(self.from_r[idx], self.from_l[idx]))]
            own_type = types[idx[0]]
            label = f"{own_type} " if st and isinstance(own_type, str) else ""
            street = Street(key, st, label + str(streets["name"].iat[idx[0]]), dist, order)
            for s in order:
                street.nodes.add(_node_key(self.x0[s], self.y0[s]))
                street.nodes.add(_node_key(self.x1[s], self.y1[s]))
            n = len(self.streets)
            self._index(self.street_keys, key, dist, n)
            for alias in _split_aliases(aliases[idx[0]]):
                alias_key = street_key(alias, None)[1]
                if alias_key != key:
                    self._index(self.street_keys, alias_key, dist, n)
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
    def _index(
        table: dict[str | None, dict[str, list[int]]], key: str, dist: str | None, n: int
    ) -> None:
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
        mz_pts: dict[tuple[int, str], list[tuple[float, float]]] = defaultdict(list)
        for a, mz, lt, px, py in zip(
            lotes["aa_hh_code"], lotes["mz"], lotes["lt"], x, y, strict=True
        ):
            k = index.get(str(a))
            if k is None:
                continue
            self.lotes[(k, str(mz).upper(), int(lt))] = (float(px), float(py))
            mz_pts[(k, str(mz).upper())].append((px, py))
        self.manzanas = {k: tuple(np.mean(v, axis=0)) for k, v in mz_pts.items()}

    def _add_manzanas(self, manzanas: gpd.GeoDataFrame) -> None:
        """Manzana polygons (``ronda import cadastre``): a point inside each answers for it,
        in place of the mean of its lotes (which can fall outside an L-shaped manzana)."""
        index = {a["code"]: k for k, a in enumerate(self.aahh)}
        points = shapely.point_on_surface(np.asarray(manzanas.geometry.values))
        x, y = self.metric.forward(shapely.get_x(points), shapely.get_y(points))
        for code, mz, px, py in zip(manzanas["aa_hh_code"], manzanas["mz"], x, y, strict=True):
            k = index.get(str(code))
            if k is not None:
                self.manzanas[(k, str(mz).upper())] = (float(px), float(py))

    def _add_landmarks(self, landmarks: gpd.GeoDataFrame) -> None:
        x, y = self.metric.forward(landmarks.geometry.x.to_numpy(), landmarks.geometry.y.to_numpy())
        aliases = (
            landmarks["aliases"] if "aliases" in landmarks.columns else [None] * len(landmarks)
        )
        kinds = landmarks["kind"] if "kind" in landmarks.columns else [None] * len(landmarks)
        for label, dist, kind, alias, px, py in zip(
            landmarks["label"], landmarks["district_code"], kinds, aliases, x, y, strict=True
        ):
            n = len(self.landmarks)
            key = normalise(str(label))
            self._index(self.landmark_keys, key, str(dist), n)
            for other in _split_aliases(alias):  # "Tuomiokirkko" also as "iglesia Domkyrkan"
                other_key = normalise(other if kind is None else f"{kind} {other}")
                if other_key != key:
                    self._index(self.landmark_keys, other_key, str(dist), n)
            self.landmarks.append(
                {"label": str(label), "district": str(dist), "xy": (float(px), float(py))}
            )

    def _add_addresses(self, addresses: gpd.GeoDataFrame) -> None:
        """Address points, each on the nearest street of its ``street`` name."""
        x, y = self.metric.forward(addresses.geometry.x.to_numpy(), addresses.geometry.y.to_numpy())
        per_street: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
        exact: dict[tuple[int, str], list[tuple[float, float]]] = defaultdict(list)
        for street, number, px, py in zip(
            addresses["street"], addresses["housenumber"], x, y, strict=True
        ):
            entry = self._street_near(street_key(str(street))[1], float(px), float(py))
            parsed = house_number(str(number))
            if entry is None or parsed is None:
                continue
            self.unplaced_addresses -= 1
            value, suffix = parsed
            for key in {f"{value}{suffix}", str(value)}:
                exact[(entry, key)].append((float(px), float(py)))
            per_street[entry].append((value, float(px), float(py)))
        # an address with several points (a building and its entrances): their mean
        self.addr_exact = {k: tuple(np.mean(v, axis=0)) for k, v in exact.items()}
        for entry, pts in per_street.items():
            # one point per number: the mean of its points (a building and its entrances)
            frame = pd.DataFrame(pts, columns=["n", "x", "y"]).groupby("n").mean()
            self.addr_model[entry] = (
                frame.index.to_numpy(np.int64),
                frame["x"].to_numpy(float),
                frame["y"].to_numpy(float),
            )

    def _street_near(self, key: str, x: float, y: float) -> int | None:
        """The street called ``key`` nearest to (x, y), within 300 m."""
        best, best_d = None, 300.0
        point = shapely.Point(x, y)
        for entry in set(self.street_keys[None].get(key, [])):
            d = float(shapely.distance(self.seg_geom[self.streets[entry].segs], point).min())
            if d < best_d:
                best, best_d = entry, d
        return best
