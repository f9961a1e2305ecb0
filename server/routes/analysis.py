"""Analysis endpoints: hotspots, emerging hotspots, rates, PAI and patrol dosage.

Officers and chiefs see their station; analysts the whole city (or one station they name).
Answers carry no personal data: cells, districts and counts only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from h3.api import basic_int as h3int
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.analysis.density import rates
from geo.analysis.dosage import compute_dosage
from geo.analysis.pai import score_prediction
from server.answers import answer_of
from server.answers.analysis import DosageAnswer, PaiAnswer, RatesAnswer
from server.auth import require
from server.context import ctx
from server.maps.analysis import AnalysisKey
from server.routes.analysis_compstat import routes as compstat_routes
from server.routes.analysis_params import Window, parse_time, parse_window
from server.routes.analysis_tactical import routes as tactical_routes
from server.routes.common import int_param, json_response
from sync.errors import InvalidRequest

READERS = ("officer", "chief", "analyst")


def _window_json(w: Window) -> dict[str, Any]:
    return {
        "stations": w.stations,
        "start": w.since_s,
        "end": w.until_s,
        "categories": w.categories,
        "resolution": w.resolution,
        "k": w.k,
    }


def _key(kind: str, w: Window, slices: int = 0) -> AnalysisKey:
    return AnalysisKey(
        kind, w.stations, w.since_s, w.until_s, w.categories, w.resolution, w.k, slices
    )


def _cached(answer: dict[str, Any], version: str, request: Request) -> Response:
    # Hotspots and emerging answer one object per cell (thousands): built as dicts, not
    # through their models (server/answers/__init__.py); test_answer_models checks them.
    etag = f'"{version}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return json_response(answer, headers={"ETag": etag, "Cache-Control": "private, no-cache"})


async def hotspots(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, *READERS)
    window = await parse_window(request, c, who)
    result, version = await c.analysis.hotspots(_key("hotspots", window))
    show = (result.counts > 0) | (result.gi_bin != 0)
    cells = [
        {
            "cell": h3int.int_to_str(int(cell)),
            "count": int(n),
            "z": round(float(z), 4),
            "p": float(p),
            "p_fdr": float(q),
            "gi_bin": int(b),
        }
        for cell, n, z, p, q, b in zip(
            result.cells[show],
            result.counts[show],
            result.z[show],
            result.p[show],
            result.p_fdr[show],
            result.gi_bin[show],
            strict=True,
        )
    ]
    classes = {str(b): int((result.gi_bin == b).sum()) for b in range(-3, 4)}
    answer = {
        "version": version,
        "window": _window_json(window),
        "method": {
            "statistic": "Getis-Ord Gi*",
            "weights": f"binary {result.k}-ring, self included",
            "study_area": result.area_rule,
            "fdr": "Benjamini-Hochberg" if result.fdr else None,
        },
        "n_incidents": result.n_incidents,
        "n_cells": int(result.cells.size),
        "classes": classes,
        "cells": cells,
    }
    return _cached(answer, version, request)


async def emerging(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, *READERS)
    window = await parse_window(request, c, who)
    slices = int_param(request, "slices", 12, 4, 104)
    result, version = await c.analysis.emerging(_key("emerging", window, slices))
    names = result.pattern_names()
    show = names != "no pattern"
    answer = {
        "version": version,
        "window": _window_json(window),
        "slice_edges": [int(e) for e in result.slice_edges],
        "method": {"space_time": "Gi* with k-ring neighbours, same slice", "trend": "Mann-Kendall"},
        "patterns": {str(p): int((names == p).sum()) for p in result.patterns},
        "cells": [
            {
                "cell": h3int.int_to_str(int(cell)),
                "pattern": str(name),
                "trend_z": round(float(tz), 4),
                "trend_p": float(tp),
            }
            for cell, name, tz, tp in zip(
                result.cells[show], names[show], result.mk_z[show], result.mk_p[show], strict=True
            )
        ],
    }
    return _cached(answer, version, request)


async def district_rates(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, *READERS)
    window = await parse_window(request, c, who)
    points = await c.store.points(window.query(), ("district",))
    districts = await c.store.boundaries("districts")
    codes = np.array([d.code for d in districts], dtype=object)
    population = np.array([float(d.props.get("population") or 0) for d in districts])
    known = {code: i for i, code in enumerate(codes)}
    counts = np.zeros(codes.size)
    for code in points["district"]:
        if code in known:
            counts[known[code]] += 1
    table = rates(codes, counts, population)
    rows = [
        {
            "district": str(code),
            "name": d.name,
            "count": int(n),
            "population": int(pop),
            "rate_per_10k": None if not np.isfinite(r) else round(float(r), 3),
            "lower": None if not np.isfinite(lo) else round(float(lo), 3),
            "upper": None if not np.isfinite(hi) else round(float(hi), 3),
        }
        for code, d, n, pop, r, lo, hi in zip(
            codes,
            districts,
            table.counts,
            population,
            table.rate,
            table.lower,
            table.upper,
            strict=True,
        )
        if n > 0 or window.stations is None
    ]
    rated = {"window": _window_json(window), "per": 10_000, "districts": rows}
    return json_response(answer_of(RatesAnswer, rated))


async def pai(request: Request) -> Response:
    """How well the hotspots of one period predicted the incidents of the next."""
    c = ctx(request)
    who = await require(request, *READERS)
    train = await parse_window(request, c, who)
    test_end = parse_time(request, "test_end", end=True)
    if test_end is None:
        test_end = train.until_s + (train.until_s - train.since_s)
    if test_end <= train.until_s:
        raise InvalidRequest("test_end must be after end", {"end": train.until_s})
    result, version = await c.analysis.hotspots(_key("hotspots", train))
    test = Window(train.stations, train.until_s, test_end, train.categories, train.resolution, 1)
    later = await c.store.points(test.query(), ("lon", "lat"))
    score = await asyncio.to_thread(score_prediction, result, later["lon"], later["lat"])
    answer = {
        "version": version,
        "train": _window_json(train),
        "test": {"start": train.until_s, "end": test_end},
        "min_bin": score.min_bin,
        "hot_cells": int(score.hot_cells.size),
        "area_hot_km2": score.area_hot_km2,
        "area_total_km2": score.area_total_km2,
        "hit_rate": _num(score.hit_rate),
        "pai": _num(score.pai),
        "rri": _num(score.rri),
        "pei": _num(score.pei),
        "n_test": score.n2_total,
        "n_test_in_hotspots": score.n2_hot,
    }
    return json_response(answer_of(PaiAnswer, answer))


async def dosage(request: Request) -> Response:
    """Patrol minutes per cell, station and shift against each cell's hotspot class."""
    c = ctx(request)
    who = await require(request, "chief", "analyst")
    window = await parse_window(request, c, who)
    result, version = await c.analysis.hotspots(_key("hotspots", window))
    tracks = await c.store.tracks(window.query())
    dose = await asyncio.to_thread(
        compute_dosage,
        tracks["officer_id"],
        tracks["at_s"],
        tracks["lon"],
        tracks["lat"],
        tracks["station_id"],
        hotspots=result,
    )
    summary = [
        {
            "station": str(st),
            "shift": dose.shift_names[int(sh)],
            "minutes_by_class": {
                str(b): round(float(m), 1) for b, m in zip(range(-3, 4), row, strict=True)
            },
        }
        for st, sh, row in zip(
            dose.summary_station, dose.summary_shift, dose.summary_minutes_by_bin, strict=True
        )
    ]
    dosed = {"version": version, "window": _window_json(window), "summary": summary}
    return json_response(answer_of(DosageAnswer, dosed))


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)


routes = [
    Route("/v1/analysis/hotspots", hotspots, methods=["GET"]),
    Route("/v1/analysis/emerging", emerging, methods=["GET"]),
    Route("/v1/analysis/rates", district_rates, methods=["GET"]),
    Route("/v1/analysis/pai", pai, methods=["GET"]),
    Route("/v1/analysis/dosage", dosage, methods=["GET"]),
]

# Tactical analysis (near repeats, repeats, concentration) and CompStat: their own modules.
routes += tactical_routes + compstat_routes
