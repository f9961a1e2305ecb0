"""An OSM extract turned into the gazetteer's layers: streets (cuadras), landmarks, addresses.

``import_osm(path)`` reads the file once (:mod:`geo.osm.read`), builds the street network
(:mod:`geo.osm.streets`) and returns GeoDataFrames with the columns the geocoder and the
store use, plus the import's figures (size, time, peak memory).
"""

from __future__ import annotations

import functools
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.boundaries import LocalMetric
from geo.errors import EmptyLayerError
from geo.geocode import Geocoder
from geo.geocode.normalise import normalise
from geo.osm.read import OsmData, Progress, read_osm
from geo.osm.streets import build_streets
from geo.placement.polygons import PolygonIndex

HULL_MARGIN_DEG = 0.003  # ~300 m around the data when the extract itself is the district


@dataclass
class OsmImport:
    """The layers of one import (EPSG:4326) and how the import went."""

    streets: gpd.GeoDataFrame
    landmarks: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    intersections: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    figures: dict[str, Any] = field(default_factory=dict)

    def geocoder(self, *, without: set[str] | None = None) -> Geocoder:
        """A geocoder on these layers; ``without``: address codes to leave out (held out)."""
        addresses = self.addresses
        if without:
            addresses = addresses[~addresses["code"].isin(without)]
        return Geocoder.from_layers(
            self.streets,
            self.districts,
            landmarks=self.landmarks,
            addresses=addresses,
            aliases={},
        )

    def summary(self) -> str:
        """One line for the command line."""
        f = self.figures
        return (
            f"{f['ways']:,} named ways -> {f['streets']:,} streets, {len(self.streets):,} cuadra"
            f" segments, {len(self.intersections):,} intersection points,"
            f" {len(self.addresses):,} address points, {len(self.landmarks):,} landmarks;"
            f" {f['mb']:.1f} MB read at {f['mb_s']:.1f} MB/s, total {f['seconds']:.1f} s,"
            f" peak RSS {f['peak_rss_mb']:.0f} MB"
        )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def extract_district(data: OsmData, code: str, name: str) -> gpd.GeoDataFrame:
    """One district covering the extract (its streets' hull), for data with no districts;
    ``source`` = "osm" marks it as made by the import (a re-import may replace it)."""
    lons = np.frombuffer(data.lons, dtype=float)
    lats = np.frombuffer(data.lats, dtype=float)
    if len(lons) == 0:
        raise EmptyLayerError("no named streets in the extract", {"kind": "streets"})
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([lons, lats])))
    return gpd.GeoDataFrame(
        {"code": [code], "name": [name], "population": [None], "source": ["osm"]},
        geometry=[shapely.buffer(hull, HULL_MARGIN_DEG)],
        crs="EPSG:4326",
    )


class _Districts:
    """District code of points (one polygon index, built once per import)."""

    def __init__(self, districts: gpd.GeoDataFrame) -> None:
        self.single = str(districts["code"].iat[0]) if len(districts) == 1 else None
        self.geom = districts.geometry.iat[0]
        self.index = (
            None
            if self.single
            else PolygonIndex(
                np.asarray(districts.geometry.values), districts["code"].to_numpy(str)
            )
        )

    def codes(self, lon: Any, lat: Any) -> np.ndarray:
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        if self.index is None:  # one district: inside it or not
            inside = np.asarray(shapely.intersects_xy(self.geom, lon, lat), dtype=bool)
            out = np.full(len(lon), None, dtype=object)
            out[inside] = self.single
            return out
        codes, _ = self.index.assign(lon, lat)
        return np.asarray(codes, dtype=object)


def import_osm(
    path: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    districts: gpd.GeoDataFrame | None = None,
    district_code: str = "osm",
    district_name: str = "OSM extract",
    progress: Progress | None = None,
    node_index: str = "flex_mem",
) -> OsmImport:
    """Read an extract and build the layers (see the module docstring)."""
    started = time.perf_counter()
    data = read_osm(path, bbox=bbox, progress=progress, node_index=node_index)
    if not data.ways:
        raise EmptyLayerError("no named streets in the extract", {"kind": "streets"})
    if districts is None or districts.empty:
        districts = extract_district(data, district_code, district_name)
    lons, lats = np.frombuffer(data.lons, dtype=float), np.frombuffer(data.lats, dtype=float)
    metric = LocalMetric((lons.min() + lons.max()) / 2, (lats.min() + lats.max()) / 2)
    centre_lonlat = data.city_centre or (float(np.median(lons)), float(np.median(lats)))
    cx, cy = metric.forward(centre_lonlat[0], centre_lonlat[1])
    addresses = _addresses(data)
    numbers = _numbers_by_key(addresses, metric)
    network = build_streets(
        data, metric, centre=(float(cx), float(cy)), numbers_by_key=numbers, progress=progress
    )
    streets = network.segments
    mid = shapely.line_interpolate_point(np.asarray(streets.geometry.values), 0.5, normalized=True)
    placer = _Districts(districts)
    streets["district_code"] = placer.codes(shapely.get_x(mid), shapely.get_y(mid))
    streets = streets[streets["district_code"].notna()].reset_index(drop=True)
    landmarks = _landmarks(data)
    for frame in (landmarks, addresses):
        frame["district_code"] = placer.codes(
            frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
        )
    landmarks = landmarks[landmarks["district_code"].notna()].reset_index(drop=True)
    addresses = addresses[addresses["district_code"].notna()].reset_index(drop=True)
    seconds = time.perf_counter() - started
    mb = data.bytes_read / 1e6
    figures = {
        "ways": network.ways,
        "streets": network.streets,
        "mb": mb,
        "read_seconds": data.seconds,
        "seconds": seconds,
        "mb_s": mb / seconds if seconds else 0.0,
        "peak_rss_mb": peak_rss_mb(),
    }
    return OsmImport(streets, landmarks, addresses, network.intersections, districts, figures)


def _addresses(data: OsmData) -> gpd.GeoDataFrame:
    rows = data.addresses
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "street": [r[1] for r in rows],
            "housenumber": [r[2] for r in rows],
        },
        geometry=shapely.points([r[3] for r in rows], [r[4] for r in rows]) if rows else [],
        crs="EPSG:4326",
    )


def _numbers_by_key(
    addresses: gpd.GeoDataFrame, metric: LocalMetric
) -> dict[str, list[tuple[float, float, int]]]:
    from geo.geocode.gazetteer import house_number

    x, y = metric.forward(addresses.geometry.x.to_numpy(), addresses.geometry.y.to_numpy())
    out: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    _key = functools.lru_cache(maxsize=65536)(normalise)
    for street, number, px, py in zip(
        addresses["street"], addresses["housenumber"], x, y, strict=True
    ):
        parsed = house_number(str(number))
        if parsed is not None:
            out[_key(str(street))].append((float(px), float(py), parsed[0]))
    return out


def _landmarks(data: OsmData) -> gpd.GeoDataFrame:
    rows = []
    for oid, kind, name, aliases, lon, lat in data.pois:
        # "Parque Kennedy" already says its kind; "Tuomiokirkko" becomes "iglesia Tuomiokirkko"
        label = name if normalise(name).split(" ", 1)[0] == kind else f"{kind} {name}"
        rows.append((oid, kind, name, label, "|".join(aliases), lon, lat))
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "name": [r[2] for r in rows],
            "label": [r[3] for r in rows],
            "aliases": [r[4] for r in rows],
        },
        geometry=shapely.points([r[5] for r in rows], [r[6] for r in rows]) if rows else [],
        crs="EPSG:4326",
    )
