"""CompStat's places and patrols for one of its periods (``period``: 7d, 28d or ytd; default
28d): the top hot places with street and sector names and their change, patrol hours and
kilometres per sector and shift with the time spent in hot cells, and the PAI of the
previous period's hotspot map against this period's incidents.

Two hotspot maps are made, both as the chief's map makes them
(``server.web.hotspot_places``: Gi* on H3 cells, its defaults): one of this period (its hot
places, each compared with its count in the period before) and one of the period before
(its hot cells, Gi_Bin >= +2, are what the patrols were to cover and what the PAI scores).
"""

from __future__ import annotations

from typing import Any

import h3
import numpy as np
import shapely
from starlette.requests import Request

from geo.analysis.compstat import Comparison
from geo.analysis.compstat_patrol import GAP_CAP_S, SPEED_CAP_KMH, PatrolTable, patrol_table
from geo.analysis.pai import score_prediction
from geo.grid.cells import point_cells
from server.context import ctx
from server.web.hotspot_places import HotCells, PlaceIndex, hot_cells, place_index
from sync.store.records import PointQuery

HOT_MIN_BIN = 2  # 95 % hot and above: the PAI's and the dosage's hot cells
TOP_PLACES = 10


def _num(value: float, digits: int = 4) -> float | None:
    return None if not np.isfinite(value) else round(float(value), digits)


async def places_and_patrols(
    request: Request,
    stations: tuple[str, ...] | None,
    district: str | None,
    categories: tuple[str, ...] | None,
    period: Comparison,
) -> dict[str, Any]:
    """The report's ``hot_places``, ``patrol`` and ``pai`` for ``period``."""
    c = ctx(request)
    current, previous = period.current, period.previous
    now = PointQuery(stations, current.start_s, current.end_s, categories)
    before = PointQuery(stations, previous.start_s, previous.end_s, categories)
    places = await place_index(request)
    this_map = await hot_cells(c.store, now, before, district)
    last_map = await hot_cells(c.store, before, now, district)
    return {
        "hot_places": _hot_places(this_map, places),
        "patrol": await _patrol(request, stations, district, period, last_map, places),
        "pai": _pai(last_map, await _incidents(request, now, district)),
    }


def _hot_places(found: HotCells, places: PlaceIndex) -> list[dict[str, Any]]:
    return found.top(places, TOP_PLACES)


async def _incidents(request: Request, query: PointQuery, district: str | None) -> Any:
    store = ctx(request).store
    if district is None:
        return await store.points(query, ("lon", "lat"))
    cols = await store.points(query, ("lon", "lat", "district"))
    keep = cols["district"] == district
    return {"lon": cols["lon"][keep], "lat": cols["lat"][keep]}


def _pai(last_map: HotCells, now: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """The previous period's map scored against this period's incidents (None: that period
    had too few incidents for a map)."""
    if last_map.result is None:
        return None
    score = score_prediction(last_map.result, now["lon"], now["lat"], min_bin=HOT_MIN_BIN)
    return {
        "min_bin": score.min_bin,
        "hot_cells": int(score.hot_cells.size),
        "cells": sorted(h3.int_to_str(int(cell)) for cell in score.hot_cells),
        "area_hot_km2": _num(score.area_hot_km2),
        "area_total_km2": _num(score.area_total_km2),
        "n_incidents": score.n2_total,
        "n_in_hotspots": score.n2_hot,
        "n_outside_area": score.n_outside,
        "hit_rate": _num(score.hit_rate),
        "pai": _num(score.pai),
    }


def _hot_mask(last_map: HotCells, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    r = last_map.result
    if r is None or lon.size == 0:
        return np.zeros(lon.size, dtype=bool)
    hot = r.cells[r.gi_bin >= HOT_MIN_BIN]
    return np.isin(point_cells(lon, lat, r.spec), hot)


def sector_of_points(places: PlaceIndex, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index of the sector holding each point (-1: none; on a shared edge, the sector listed
    first in the store)."""
    out = np.full(lon.size, -1, dtype=np.int64)
    if lon.size == 0:
        return out
    points = shapely.points(lon, lat)
    which, sector = places.sectors.tree.query(points, predicate="intersects")
    order = np.lexsort((sector, which))  # per point, the lowest sector index first
    which, sector = which[order], sector[order]
    first = np.ones(which.size, dtype=bool)
    first[1:] = which[1:] != which[:-1]
    out[which[first]] = sector[first]
    return out


async def _district_mask(request: Request, district: str, lon: np.ndarray, lat: np.ndarray) -> Any:
    found = [b for b in await ctx(request).store.boundaries("districts") if b.code == district]
    if not found or lon.size == 0:
        return np.zeros(lon.size, dtype=bool)
    shape = shapely.from_wkb(found[0].geometry)
    return shapely.intersects(shape, shapely.points(lon, lat))


async def _patrol(
    request: Request,
    stations: tuple[str, ...] | None,
    district: str | None,
    period: Comparison,
    last_map: HotCells,
    places: PlaceIndex,
) -> dict[str, Any]:
    c = ctx(request)
    span = period.current
    cols = ("officer_id", "at_s", "lon", "lat")
    tracks = await c.store.tracks(PointQuery(stations, span.start_s, span.end_s), cols)
    if district is not None:  # positions inside the district's boundary
        keep = await _district_mask(request, district, tracks["lon"], tracks["lat"])
        tracks = {k: v[keep] for k, v in tracks.items()}
    lon, lat = tracks["lon"].astype(np.float64), tracks["lat"].astype(np.float64)
    table = patrol_table(
        tracks["officer_id"],
        tracks["at_s"],
        lon,
        lat,
        sector_of_points(places, lon, lat),
        _hot_mask(last_map, lon, lat),
        utc_offset_s=c.settings.public.utc_offset_minutes * 60,
    )
    return _patrol_json(table, places)


def _figures(seconds: float, metres: float, hot_seconds: float) -> dict[str, Any]:
    return {
        "hours": round(seconds / 3600, 3),
        "km": round(metres / 1000, 3),
        "hot_hours": round(hot_seconds / 3600, 3),
        "hot_share": round(hot_seconds / seconds, 4) if seconds > 0 else None,
    }


def _patrol_json(table: PatrolTable, places: PlaceIndex) -> dict[str, Any]:
    rows = []
    for sector, shift, secs, metres, hot in zip(
        table.sector.tolist(),
        table.shift.tolist(),
        table.seconds.tolist(),
        table.metres.tolist(),
        table.hot_seconds.tolist(),
        strict=True,
    ):
        rows.append(
            {
                "sector": places.sectors.codes[sector] if sector >= 0 else None,
                "sector_name": places.sectors.names[sector] if sector >= 0 else None,
                "shift": table.shifts[shift],
                **_figures(secs, metres, hot),
            }
        )
    rows.sort(key=lambda r: (r["sector"] is None, r["sector"] or "", r["shift"]))
    return {
        "shifts": list(table.shifts),
        "gap_cap_s": GAP_CAP_S,
        "speed_cap_kmh": SPEED_CAP_KMH,
        "hot_min_bin": HOT_MIN_BIN,
        "intervals": table.intervals,
        "dropped_gaps": table.dropped_gaps,
        "dropped_jumps": table.dropped_jumps,
        "rows": rows,
        "total": _figures(
            float(table.seconds.sum()), float(table.metres.sum()), float(table.hot_seconds.sum())
        ),
    }
