"""Builders of the feature tables behind every layer except incident points.

Each takes the caller's scope and filters and returns a :class:`FeatureTable` (lon/lat
geometries sorted by feature id); :meth:`Layers.feature_table` caches them by data version.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import h3.api.basic_int as h3i
import numpy as np
import shapely

from geo.analysis.density import compute_density
from geo.analysis.hotspots import compute_hotspots
from geo.grid.cells import unproject
from geo.public import month_label
from geo.tiles.tilemath import world_to_lonlat
from server.maps.layers import FeatureTable, Layers, iso, table
from server.maps.public_summary import build_summary
from server.maps.registry import LayerDef, Scope
from server.maps.window import Window

MIN_GI_INCIDENTS = 3  # fewer, and Gi* has nothing to compare a cell with


async def build_table(layers: Layers, layer: LayerDef, scope: Scope, f: Window) -> FeatureTable:
    builder = BUILDERS[layer.id]
    return await builder(layers, scope, f)


async def scoped_points(
    layers: Layers, scope: Scope, f: Window, columns: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Columns of the incident points in scope that pass the filters (plus lon, lat)."""
    parts: dict[str, list[np.ndarray]] = {c: [] for c in (*columns, "lon", "lat")}
    for index in await layers.point_indexes(scope):
        keep = f.mask(index.columns["occurred_s"], index.columns["category"])
        pick = slice(None) if keep is None else keep
        lon, lat = world_to_lonlat(index.wx[pick], index.wy[pick])
        parts["lon"].append(lon)
        parts["lat"].append(lat)
        for c in columns:
            parts[c].append(index.columns[c][pick])
    return {c: np.concatenate(v) if v else np.zeros(0, dtype=object) for c, v in parts.items()}


async def _hotspots(layers: Layers, scope: Scope, f: Window) -> FeatureTable:
    """Gi* as the chief's map, its hotspot pop-up and the briefing compute it
    (``geo.analysis.hotspots.compute_hotspots``: the H3 resolution chosen from the incidents,
    7..10), so the cells drawn from tiles are the cells those describe."""
    pts = await layers.store.points(f.query(scope), ("lon", "lat"))
    lon, lat = pts["lon"].astype(float), pts["lat"].astype(float)
    if lon.size < MIN_GI_INCIDENTS:  # nothing to compare a cell with
        return table([], [], {k: [] for k in ("cell", "count", "z", "p_fdr", "gi_bin")})
    zero = np.zeros(lon.size, dtype=np.int64)
    hs = await asyncio.to_thread(compute_hotspots, lon, lat, zero, zero)
    cells = [int(c) for c in hs.cells]
    geoms = [shapely.Polygon([(lng, lat) for lat, lng in h3i.cell_to_boundary(c)]) for c in cells]
    ids = [h3i.int_to_str(c) for c in cells]
    return table(
        ids,
        geoms,
        {
            "cell": ids,
            "count": [int(v) for v in hs.counts],
            "z": [round(float(v), 4) for v in hs.z],
            "p_fdr": [round(float(v), 6) for v in hs.p_fdr],
            "gi_bin": [int(v) for v in hs.gi_bin],
        },
    )


async def _density(layers: Layers, scope: Scope, f: Window) -> FeatureTable:
    pts = await scoped_points(layers, scope, f, ())
    geoms, dens = density_cells(pts["lon"].astype(float), pts["lat"].astype(float))
    top = float(dens.max()) if dens.size else 1.0
    klass = np.minimum(5, 1 + (dens / top * 5).astype(int)) if dens.size else dens
    ids = [f"{i:07d}" for i in range(len(geoms))]
    values = {"density": [round(float(v), 3) for v in dens], "class": [int(k) for k in klass]}
    return table(ids, geoms, values)


async def _district_counts(layers: Layers, scope: Scope, f: Window) -> dict[str, int]:
    pts = await scoped_points(layers, scope, f, ("district",))
    codes = pts["district"]
    codes = codes[np.array([c is not None for c in codes], dtype=bool)] if codes.size else codes
    if not codes.size:
        return {}
    uniq, n = np.unique(codes.astype(str), return_counts=True)
    return {str(u): int(c) for u, c in zip(uniq.tolist(), n.tolist(), strict=True)}


async def _districts(layers: Layers, scope: Scope, f: Window) -> FeatureTable:
    items = await layers.store.boundaries("districts")
    counts = await _district_counts(layers, scope, f)
    cols: dict[str, list[Any]] = {k: [] for k in ("code", "name", "population", "count")}
    cols["rate_per_10k"] = []
    for b in items:
        pop = b.props.get("population")
        n = counts.get(b.code, 0)
        cols["code"].append(b.code)
        cols["name"].append(b.name)
        cols["population"].append(None if pop is None else int(pop))
        cols["count"].append(n)
        cols["rate_per_10k"].append(round(n / pop * 1e4, 3) if pop else None)
    geoms = list(shapely.from_wkb([b.geometry for b in items])) if items else []
    return table([b.code for b in items], geoms, cols)


async def _public(layers: Layers, scope: Scope, f: Window) -> FeatureTable:
    """The district totals of the latest published month, exactly as /public shows them.

    Only fixed months under the publication rules: a time filter here would let anyone
    difference overlapping periods and recover counts /public withholds.
    """
    summary = await build_summary(layers.store, layers.public, int(time.time()))
    items = await layers.store.boundaries("districts")
    geoms = list(shapely.from_wkb([b.geometry for b in items])) if items else []
    rows = (
        {r["district"]: r for r in summary.tables[summary.months[-1]]["districts"]}
        if (summary.months)
        else {}
    )
    month = month_label(summary.months[-1]) if summary.months else None
    cols: dict[str, list[Any]] = {k: [] for k in ("code", "name", "month", "count")}
    cols |= {"suppressed": [], "rate_per_10k": []}
    for b in items:
        row = rows.get(b.code, {})
        total = row.get("total")
        cols["code"].append(b.code)
        cols["name"].append(b.name)
        cols["month"].append(month)
        cols["count"].append(total)
        cols["suppressed"].append(total is None)
        cols["rate_per_10k"].append(row.get("rate"))
    return table([b.code for b in items], geoms, cols)


async def _stations(layers: Layers, scope: Scope, f: Window) -> FeatureTable:
    items = await layers.store.boundaries("stations")
    geoms = []
    for b in items:
        if b.props.get("lon") is not None and b.props.get("lat") is not None:
            geoms.append(shapely.Point(float(b.props["lon"]), float(b.props["lat"])))
        else:
            geoms.append(shapely.from_wkb(b.geometry).representative_point())
    cols = {
        "code": [b.code for b in items],
        "name": [b.name for b in items],
        "district_code": [b.props.get("district_code") for b in items],
    }
    return table([b.code for b in items], geoms, cols)


async def _sectors(layers: Layers, scope: Scope, f: Window) -> FeatureTable:
    items = await layers.store.boundaries("sectors")
    items = [b for b in items if scope is None or b.props.get("station_code") in scope]
    cols = {
        "code": [b.code for b in items],
        "name": [b.name for b in items],
        "station_code": [b.props.get("station_code") for b in items],
    }
    geoms = list(shapely.from_wkb([b.geometry for b in items])) if items else []
    return table([b.code for b in items], geoms, cols)


STREETS_MARGIN_DEG = 0.01  # about 1 km: the streets just across a station's border


async def _street_items(layers: Layers) -> list[Any]:
    """Every street block, read once: 13,000 rows take a second or more to read, and another
    process's commit (which makes every table stale) changes no street. Like the geocoder,
    a new street import is seen after ``POST /v1/admin/places/reload`` or a restart (or with
    new districts, stations, sectors)."""
    held = layers.street_items
    if held is None or held[0] != layers.boundary_sig:
        held = (layers.boundary_sig, await layers.store.boundaries("streets"))
        layers.street_items = held
    return held[1]


async def _streets(layers: Layers, scope: Scope, f: Window) -> FeatureTable:
    """One line per street (its blocks merged), near the scope's station areas: a chief's
    map needs the streets of one station, not the 13,000 of a city."""
    items = await _street_items(layers)
    if scope is not None:
        areas = [
            shapely.from_wkb(b.geometry)
            for b in await layers.store.boundaries("stations")
            if b.code in scope
        ]
        if not areas:
            items = []
        else:
            w, s, e, n = shapely.total_bounds(areas).tolist()
            m = STREETS_MARGIN_DEG
            box = shapely.box(w - m, s - m, e + m, n + m)
            near = shapely.intersects(shapely.from_wkb([b.geometry for b in items]), box)
            items = [b for b, keep in zip(items, near.tolist(), strict=True) if keep]
    groups: dict[str, list[Any]] = {}
    for b in items:
        street = b.props.get("street_id") or (
            f"{b.props.get('district_code')}|{b.name}" if b.name else b.code
        )
        groups.setdefault(str(street), []).append(b)
    ids, geoms = [], []
    cols: dict[str, list[Any]] = {k: [] for k in ("code", "name", "type", "district_code")}
    for street, parts in groups.items():
        lines = shapely.from_wkb([b.geometry for b in parts])
        ids.append(street)
        geoms.append(shapely.line_merge(shapely.union_all(lines)) if len(parts) > 1 else lines[0])
        first = parts[0]
        cols["code"].append(street)
        cols["name"].append(first.name)
        cols["type"].append(first.props.get("street_type"))
        cols["district_code"].append(first.props.get("district_code"))
    return table(ids, geoms, cols)


async def _tracks(layers: Layers, scope: Scope, f: Window) -> FeatureTable:
    cols = await layers.store.tracks(f.query(scope))
    at = cols["at_s"].astype(np.int64)
    device = cols["device_id"]
    if at.size == 0:
        return table([], [], {k: [] for k in ("id", "device_id", "officer_id", "station_id")})
    gap = layers.settings.shift_gap_s
    new = np.ones(at.size, dtype=bool)
    new[1:] = (device[1:] != device[:-1]) | (np.diff(at) > gap)
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], at.size)
    keep = (ends - starts) >= 2
    starts, ends = starts[keep], ends[keep]
    xy = np.column_stack([cols["lon"].astype(float), cols["lat"].astype(float)])
    geoms = [shapely.LineString(xy[s:e]) for s, e in zip(starts, ends, strict=True)]
    ids = [f"{device[s]}-{at[s]}" for s in starts]
    values = {
        "id": ids,
        "device_id": list(device[starts]),
        "officer_id": list(cols["officer_id"][starts]),
        "station_id": list(cols["station_id"][starts]),
        "start": list(iso(at[starts])),
        "end": list(iso(at[ends - 1])),
        "points": [int(v) for v in ends - starts],
    }
    return table(ids, geoms, values)


BUILDERS = {
    "hotspots": _hotspots,
    "density": _density,
    "districts": _districts,
    "public": _public,
    "stations": _stations,
    "sectors": _sectors,
    "streets": _streets,
    "tracks": _tracks,
}


def density_cells(lon: np.ndarray, lat: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Grid squares (lon/lat polygons) where the kernel density is at least 10 % of its
    maximum (200 m cells), and their density."""
    if lon.size < 2:
        return [], np.zeros(0)
    zeros = np.zeros(lon.size)
    grid = compute_density(lon, lat, zeros, zeros, cell_m=200.0)
    dens = grid.density
    top = float(dens.max())
    rows, cols = np.nonzero(dens >= 0.1 * top) if top > 0 else (np.zeros(0, int),) * 2
    x0, cell, _, y1, _, _ = grid.transform
    xs = x0 + np.stack([cols, cols + 1, cols + 1, cols, cols], axis=1) * cell
    ys = y1 - np.stack([rows, rows, rows + 1, rows + 1, rows], axis=1) * cell
    lo, la = unproject(xs.ravel(), ys.ravel(), grid.epsg)
    rings = np.stack([lo.reshape(xs.shape), la.reshape(xs.shape)], axis=2)
    return list(shapely.polygons(rings)), dens[rows, cols]
