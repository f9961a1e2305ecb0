"""Patrol plan endpoints (``/v1/plans``): hot cells to plan, publish, list, withdraw, dosage.

Each takes a device token (``Authorization: Bearer``) or the signed-in browser session of the
plans page; a session's writes must carry its CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import re
from typing import Any

import h3
from h3.api import basic_int as h3int
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import plans
from server.answers import answer_of
from server.answers.plans import HotCellsAnswer, PlanDoc, PlanDosageAnswer, PlanList
from server.auth import require
from server.context import ctx
from server.maps.analysis import AnalysisKey
from server.routes.analysis_params import parse_window
from server.routes.common import int_param, json_response, read_model
from sync.errors import Forbidden, InvalidRequest, Unauthorized
from sync.protocol import ID_PATTERN
from sync.protocol_plans import PlanBody
from sync.store.records import Identity

HOT_CELLS = "hot-cells"  # not a plan id (ids are plan-<hex>)

HOT_ROLES = ("chief", "analyst")
MIN_BIN_DEFAULT = 2  # hot at 95 % confidence or more
_DAY = r"^\d{4}-\d{2}-\d{2}$"


async def caller(request: Request, roles: tuple[str, ...], write: bool = False) -> Identity:
    """The device or signed-in officer calling, if their role is one of ``roles``."""
    if request.headers.get("authorization"):
        return await require(request, *roles)
    from server.web.sessions import check_csrf, signed_in  # the web package builds on routes

    user = await signed_in(request)
    if user is None:
        raise Unauthorized("a bearer token or a signed-in session is required")
    request.state.role = user.who.role
    if write:
        check_csrf(request, user, None)
    if user.who.role not in roles:
        raise Forbidden(
            "your role may not do this", {"role": user.who.role, "allowed": list(roles)}
        )
    return user.who


async def hot_cells_of(request: Request, who: Identity) -> dict[str, Any]:
    """The window's hot cells (Gi_Bin at least ``min_bin``), hottest first."""
    c = ctx(request)
    window = await parse_window(request, c, who)
    min_bin = int_param(request, "min_bin", MIN_BIN_DEFAULT, 1, 3)
    key = AnalysisKey(
        "hotspots",
        window.stations,
        window.since_s,
        window.until_s,
        window.categories,
        window.resolution,
        window.k,
    )
    result, version = await c.analysis.hotspots(key)
    hot = result.gi_bin >= min_bin
    rows = sorted(
        zip(result.cells[hot], result.counts[hot], result.z[hot], result.gi_bin[hot], strict=True),
        key=lambda r: (-int(r[3]), -float(r[2]), int(r[0])),
    )
    cells = []
    for cell, count, z, gbin in rows:
        name = h3int.int_to_str(int(cell))
        lat, lon = h3.cell_to_latlng(name)
        cells.append(
            {
                "cell": name,
                "count": int(count),
                "z": round(float(z), 4),
                "gi_bin": int(gbin),
                "lon": round(lon, 6),
                "lat": round(lat, 6),
            }
        )
    return {
        "version": version,
        "start": window.since_s,
        "end": window.until_s,
        "resolution": window.resolution,
        "min_bin": min_bin,
        "cells": cells,
    }


async def hot_cells(request: Request) -> Response:
    who = await caller(request, HOT_ROLES)
    return json_response(answer_of(HotCellsAnswer, await hot_cells_of(request, who)))


def _plan_id(request: Request) -> str:
    plan_id = str(request.path_params["plan_id"])
    if not re.match(ID_PATTERN, plan_id):
        raise InvalidRequest("not a plan id", {"parameter": "plan_id"})
    return plan_id


async def list_plans(request: Request) -> Response:
    who = await caller(request, plans.READ_ROLES)
    day = request.query_params.get("date")
    if day is not None and not re.match(_DAY, day):
        raise InvalidRequest("date must be YYYY-MM-DD", {"parameter": "date"})
    station = request.query_params.get("station") or None
    found = await plans.plans(ctx(request).engine, who, day, station)
    return json_response(answer_of(PlanList, {"plans": found}))


async def publish_plan(request: Request) -> Response:
    who = await caller(request, plans.PUBLISH_ROLES, write=True)
    body = await read_model(request, PlanBody)
    doc = await plans.publish(ctx(request).engine, who, body)
    return json_response(answer_of(PlanDoc, doc), status=201)


async def get_plan(request: Request) -> Response:
    who = await caller(request, plans.READ_ROLES)
    record = await plans.find(ctx(request).engine, who, _plan_id(request))
    return json_response(answer_of(PlanDoc, record.doc))


async def withdraw_plan(request: Request) -> Response:
    if request.path_params["plan_id"] == HOT_CELLS:  # a path of its own: GET only
        raise HTTPException(405)
    who = await caller(request, plans.PUBLISH_ROLES, write=True)
    doc = await plans.withdraw(ctx(request).engine, who, _plan_id(request))
    return json_response(answer_of(PlanDoc, doc))


async def plan_dosage(request: Request) -> Response:
    who = await caller(request, plans.DOSAGE_ROLES)
    answer = await plans.dosage(ctx(request).engine, who, _plan_id(request))
    checked = answer_of(PlanDosageAnswer, answer)
    return json_response(checked, headers={"Cache-Control": "private, no-store"})


routes = [
    Route(f"/v1/plans/{HOT_CELLS}", hot_cells, methods=["GET"]),
    Route("/v1/plans", list_plans, methods=["GET"]),
    Route("/v1/plans", publish_plan, methods=["POST"]),
    Route("/v1/plans/{plan_id}", get_plan, methods=["GET"]),
    Route("/v1/plans/{plan_id}", withdraw_plan, methods=["DELETE"]),
    Route("/v1/plans/{plan_id}/dosage", plan_dosage, methods=["GET"]),
]
