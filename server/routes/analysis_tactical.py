"""Tactical analysis endpoints: near repeats (Knox), repeat locations, repeat victims and the
concentration of incidents.

Chiefs see their station, analysts the city (or one station they name); officers are
refused (these are the station's analysis, not a patrol tool).  Only repeat victims touch
personal data: callers whose role sees personal data (``pii_roles``, chiefs by default) get
the DNI and names, and each incident shown is audited (``view_pii``); the others get the
counts only, which name nobody.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.analysis.near_repeat import KnoxBands, KnoxResult, knox_test, local_day
from geo.analysis.repeats import concentration, group_places
from geo.grid.cells import h3_bin, project, utm_epsg
from server.answers import answer_of
from server.answers.analysis import (
    ConcentrationAnswer,
    NearRepeatAnswer,
    RepeatLocationsAnswer,
    RepeatVictimsAnswer,
)
from server.auth import require
from server.context import AppContext, ctx
from server.routes.analysis_params import Window, parse_window
from server.routes.analysis_queries import VictimRow, victims
from server.routes.common import int_param, json_response
from server.shedding import busy
from sync.clock import now_ms
from sync.errors import InvalidRequest
from sync.store.records import AuditEvent

ANALYSTS = ("chief", "analyst")
MAX_NEAR_REPEAT_INCIDENTS = 200_000
KNOX_WAITING = 4  # near-repeat requests queued behind the running one; more get 429 busy


@dataclass
class KnoxGate:
    """One Knox test runs at a time (it keeps every core busy, and the kernel launches one
    parallel count at a time anyway); a few more wait here, on the event loop, not in the
    thread pool: before this gate each request took a worker thread and blocked it on the
    kernel's lock, so a burst of near-repeat requests tied up every thread that other
    requests (hotspots, PAI, places) need."""

    running: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    waiting: int = 0


def knox_gate(request: Request) -> KnoxGate:
    state = request.app.state
    gate: KnoxGate | None = getattr(state, "knox_gate", None)
    if gate is None:
        gate = KnoxGate()
        state.knox_gate = gate
    return gate


def window_json(w: Window) -> dict[str, Any]:
    return {
        "stations": w.stations,
        "start": w.since_s,
        "end": w.until_s,
        "categories": w.categories,
    }


def _metres(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if lon.size == 0:
        return lon, lat
    return project(lon, lat, utm_epsg(lon, lat))


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)


def knox_json(result: KnoxResult) -> dict[str, Any]:
    cells = [
        {
            "space": result.space_labels[r],
            "time": result.time_labels[c],
            "observed": int(result.observed[r, c]),
            "expected": round(float(result.mean_permuted[r, c]), 4),
            "knox_ratio": _num(result.knox_ratio[r, c]),
            "p": float(result.p_value[r, c]),
        }
        for r in range(result.observed.shape[0])
        for c in range(result.observed.shape[1])
    ]
    b = result.bands
    return {
        "bands": {
            "distance_m": b.distance_m,
            "distance_bands": b.n_space,
            "days": b.days,
            "time_bands": b.n_time,
        },
        "permutations": result.permutations,
        "seed": result.seed,
        "n_incidents": result.n_events,
        "n_close_pairs": result.n_close_pairs,
        "space_bands": result.space_labels,
        "time_bands": result.time_labels,
        "cells": cells,
    }


async def near_repeat(request: Request) -> Response:
    """Knox test of the placed incidents of the window (bands as the NRC's)."""
    c = ctx(request)
    who = await require(request, *ANALYSTS)
    window = await parse_window(request, c, who)
    bands = KnoxBands(
        int_param(request, "distance_m", 100, 1, 5000),
        int_param(request, "distance_bands", 5, 1, 10),
        int_param(request, "days", 7, 1, 365),
        int_param(request, "time_bands", 5, 1, 10),
    )
    permutations = int_param(request, "permutations", 99, 19, 999)
    seed = int_param(request, "seed", 42, 0, 2**31 - 1)
    gate = knox_gate(request)
    if gate.waiting >= KNOX_WAITING:
        raise busy(
            "too many near-repeat tests at once; retry after Retry-After seconds",
            c.settings.sync.busy_retry_after_s,
            "near_repeat_tests",
            c.rng,
        )
    gate.waiting += 1
    try:
        await gate.running.acquire()
    finally:
        gate.waiting -= 1
    # The gate is let go when the computation ends, not when the request does: a cancelled
    # request (client gone, request timeout) leaves its thread computing, and the next test
    # must wait for it, not start beside it.
    job = asyncio.ensure_future(_knox(c, window, bands, permutations, seed))
    job.add_done_callback(lambda done: _release(gate, done))
    result = await asyncio.shield(job)
    method = {
        "test": "Knox, Monte Carlo permutation of dates (Near Repeat Calculator layout)",
        "distance": "Euclidean, whole metres (UTM)",
        "days": "difference of calendar dates in Lima",
        "p_value": "(permutations with count >= observed + 1) / (permutations + 1)",
    }
    knox = {"window": window_json(window), "method": method, **knox_json(result)}
    return json_response(answer_of(NearRepeatAnswer, knox))


def _release(gate: KnoxGate, done: asyncio.Future[KnoxResult]) -> None:
    gate.running.release()
    if not done.cancelled():
        done.exception()  # retrieved: a request that went away does not log it as lost


async def _knox(
    c: AppContext, window: Window, bands: KnoxBands, permutations: int, seed: int
) -> KnoxResult:
    points = await c.store.points(window.query(), ("lon", "lat", "occurred_s"))
    if points["lon"].size > MAX_NEAR_REPEAT_INCIDENTS:
        raise InvalidRequest(
            "too many incidents for one near-repeat test: narrow the window or categories",
            {"incidents": int(points["lon"].size), "maximum": MAX_NEAR_REPEAT_INCIDENTS},
        )
    x, y = _metres(points["lon"], points["lat"])
    # Days are local calendar days by the one rule of the server (public.utc_offset_minutes).
    day = local_day(points["occurred_s"], c.settings.public.utc_offset_minutes * 60)
    return await asyncio.to_thread(knox_test, x, y, day, bands, permutations, seed)


async def repeat_locations(request: Request) -> Response:
    """Places with two or more incidents (within ``tolerance_m`` of each other)."""
    c = ctx(request)
    who = await require(request, *ANALYSTS)
    window = await parse_window(request, c, who)
    tolerance = int_param(request, "tolerance_m", 5, 0, 50)
    limit = int_param(request, "limit", 50, 1, 500)
    cols = ("id", "lon", "lat", "occurred_s", "category")
    points = await c.store.points(window.query(), cols)
    x, y = _metres(points["lon"], points["lat"])
    places = await asyncio.to_thread(group_places, x, y, float(tolerance))
    repeated = places.repeated()
    rows = []
    for place in repeated[:limit]:
        members = np.flatnonzero(places.label == place)
        rows.append(
            {
                "lon": round(float(points["lon"][members].mean()), 6),
                "lat": round(float(points["lat"][members].mean()), 6),
                "count": int(members.size),
                "first": int(points["occurred_s"][members].min()),
                "last": int(points["occurred_s"][members].max()),
                "categories": _tally(points["category"][members]),
                "incidents": [str(i) for i in points["id"][members]],
            }
        )
    in_repeats = int(places.counts[repeated].sum())
    answer = {
        "window": window_json(window),
        "tolerance_m": tolerance,
        "n_incidents": int(places.label.size),
        "n_places": int(places.counts.size),
        "n_repeat_places": int(repeated.size),
        "n_incidents_at_repeat_places": in_repeats,
        "places": rows,
    }
    return json_response(answer_of(RepeatLocationsAnswer, answer))


def _tally(values: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(values.astype(str), return_counts=True)
    return {str(n): int(k) for n, k in zip(names, counts, strict=True)}


async def repeat_victims(request: Request) -> Response:
    """Victims (by DNI) in two or more incidents; names and DNI only for personal-data roles."""
    c = ctx(request)
    who = await require(request, *ANALYSTS)
    window = await parse_window(request, c, who)
    limit = int_param(request, "limit", 50, 1, 500)
    rows = await victims(c.store, window.query())
    by_dni: dict[str, list[VictimRow]] = defaultdict(list)
    for row in rows:
        by_dni[row.dni].append(row)
    repeated = sorted(
        (group for group in by_dni.values() if len(group) >= 2),
        key=lambda g: (-len(g), g[0].occurred_s, g[0].dni),
    )
    personal = c.engine.scope(who).pii == "all"
    answer: dict[str, Any] = {
        "window": window_json(window),
        "personal_data": personal,
        "n_victims_with_dni": len(by_dni),
        "n_repeat_victims": len(repeated),
        "n_incidents_of_repeat_victims": len({r.incident_id for g in repeated for r in g}),
        "victims": None,
    }
    if personal:
        shown = repeated[:limit]
        answer["victims"] = [_victim_json(group) for group in shown]
        await _audit(c.store, who.officer_id, shown)
    return json_response(answer_of(RepeatVictimsAnswer, answer))


def _victim_json(group: list[VictimRow]) -> dict[str, Any]:
    return {
        "dni": group[0].dni,
        "name": group[-1].name,  # as the latest incident wrote it
        "count": len(group),
        "incidents": [
            {
                "id": r.incident_id,
                "station": r.station_id,
                "category": r.category,
                "occurred": r.occurred_s,
            }
            for r in group
        ],
    }


async def _audit(store: Any, officer_id: str, shown: list[list[VictimRow]]) -> None:
    """One ``view_pii`` event per incident whose victims were shown (as the map does)."""
    at = now_ms()
    seen: set[str] = set()
    for group in shown:
        for row in group:
            if row.incident_id not in seen:
                seen.add(row.incident_id)
                details = {"via": "repeat_victims"}
                await store.add_audit(
                    AuditEvent(at, officer_id, "view_pii", row.incident_id, details)
                )


async def concentration_view(request: Request) -> Response:
    """Share of incidents in the top X % of places and of H3 cells (80/20)."""
    c = ctx(request)
    who = await require(request, *ANALYSTS)
    window = await parse_window(request, c, who)
    tolerance = int_param(request, "tolerance_m", 5, 0, 50)
    points = await c.store.points(window.query(), ("lon", "lat"))
    x, y = _metres(points["lon"], points["lat"])
    places = await asyncio.to_thread(group_places, x, y, float(tolerance))
    # Cells from the points themselves: the stored cell is empty where no boundaries are.
    _, inverse = h3_bin(points["lon"], points["lat"], window.resolution)
    per_cell = np.bincount(inverse)
    answer = {
        "window": window_json(window),
        "tolerance_m": tolerance,
        "resolution": window.resolution,
        "places": _concentration_json(places.counts),
        "cells": _concentration_json(per_cell),
    }
    return json_response(answer_of(ConcentrationAnswer, answer))


def _concentration_json(counts: np.ndarray) -> dict[str, Any]:
    result = concentration(counts)
    return {
        "units": result.units,
        "incidents": result.incidents,
        "top": [{"percent": p, "units": k, "share": round(s, 4)} for p, k, s in result.top],
        "holding": [{"share": s, "units": k, "percent": round(p, 4)} for s, k, p in result.holding],
    }


routes = [
    Route("/v1/analysis/near-repeat", near_repeat, methods=["GET"]),
    Route("/v1/analysis/repeat-locations", repeat_locations, methods=["GET"]),
    Route("/v1/analysis/repeat-victims", repeat_victims, methods=["GET"]),
    Route("/v1/analysis/concentration", concentration_view, methods=["GET"]),
]
