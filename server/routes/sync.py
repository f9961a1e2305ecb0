"""Sync endpoints: push, pull, who am I, conflicts, chain verification."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import conflict_view
from server.answers import answer, answer_of
from server.answers.admin import MeAnswer, MeLimits, MeScope
from server.answers.sync import ChainReport, ConflictPage
from server.attachment_service import attachment_report, with_received
from server.auth import authenticate, require
from server.body import read_body
from server.context import ctx
from server.routes.common import int_param, json_response
from server.routes.snapshot import audit_pii
from sync.chain import verify_chain
from sync.clock import now_ms
from sync.errors import Forbidden, InvalidCursor, NotFound


async def push(request: Request) -> Response:
    c = ctx(request)
    who = await authenticate(request)
    limits = c.settings.sync
    body = await read_body(request, limits.max_body_bytes, limits.max_decompressed_bytes)
    await c.places.wait()  # a worker still loading its boundaries places the push after
    outcome = await c.engine.push_json(who, body)
    c.metrics.syncs.labels("push").inc()
    for status, count in outcome.counts.items():
        c.metrics.changes.labels(status).inc(count)
    headers = {"Ronda-Replayed": "true"} if outcome.replayed else None
    return Response(outcome.answer, 200, headers, media_type="application/json")


async def pull(request: Request) -> Response:
    c = ctx(request)
    who = await authenticate(request)
    limit = int_param(request, "limit", c.settings.sync.pull_default_limit, 1, 100_000)
    page, with_pii = await c.engine.pull_page(who, request.query_params.get("cursor"), limit)
    c.metrics.syncs.labels("pull").inc()
    await audit_pii(c, who, with_pii)
    page = await with_received(request, page)  # whether each named attachment has arrived
    return Response(page, 200, media_type="application/json")


async def me(request: Request) -> Response:
    c = ctx(request)
    who = await authenticate(request)
    scope = MeScope(stations=[], pii="none")
    try:
        pull_scope = c.engine.scope(who)
        ids = pull_scope.station_ids
        scope = MeScope(stations=None if ids is None else list(ids), pii=pull_scope.pii)
    except Forbidden:
        pass  # admins, and officers without a station, sync nothing
    limits = c.settings.sync
    found = MeAnswer(
        device_id=who.device_id,
        device_name=who.device_name,
        officer_id=who.officer_id,
        role=who.role,
        station_id=who.station_id,
        scope=scope,
        server_time_ms=now_ms(),
        limits=MeLimits(
            max_changes=limits.max_changes,
            max_body_bytes=limits.max_body_bytes,
            max_decompressed_bytes=limits.max_decompressed_bytes,
            max_clock_ahead_ms=limits.max_clock_ahead_ms,
            pull_max_limit=limits.pull_max_limit,
        ),
    )
    return json_response(answer(found))


async def conflicts(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, "chief", "analyst")
    scope = c.engine.scope(who)
    after = int_param(request, "after", 0, 0, 2**62)
    limit = int_param(request, "limit", 100, 1, 1000)
    rows = await c.store.conflicts(scope.station_ids, after, limit + 1)
    if not rows and after > 0 and not await c.store.conflicts(None, after - 1, 1):
        # Beyond every conflict id: never given, and paging on from it would skip the
        # conflicts that take those ids later.
        raise InvalidCursor(
            "after is beyond every conflict id given: page again from 0",
            {"reason": "not_issued", "after": after},
        )
    has_more = len(rows) > limit
    rows = rows[:limit]
    shown = conflict_view.visible(scope, rows)
    await conflict_view.audit_shown(c.store, who.officer_id, shown, "api")
    items = [conflict_view.as_json(conflict_id, cf) for conflict_id, cf in shown]
    next_after = rows[-1][0] if rows else after
    page = {"conflicts": items, "after": next_after, "has_more": has_more}
    return json_response(answer_of(ConflictPage, page))


async def chain(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, "chief", "admin")
    device_id = request.path_params["device_id"]
    # The device's officer decides, not the entries: a device of another station with no
    # entries yet, or no device at all, answered 200 "intact" before.
    device = next((d for d in await c.store.list_devices() if d.id == device_id), None)
    if device is None:
        raise NotFound("no such device")
    if who.role == "chief":
        officer = await c.store.get_officer(device.officer_id)
        if officer is None or officer.station_id != who.station_id:
            raise Forbidden("this device's log belongs to another station")
    entries = await c.store.chain(device_id)
    if who.role == "chief" and any(e.station_id != who.station_id for e in entries):
        raise Forbidden("this device's log belongs to another station")
    report = verify_chain(device_id, entries, await c.store.chain_base(device_id)).as_dict()
    # Evidence files of the entries are hashed again too: a changed one breaks the report.
    report["attachments"] = await attachment_report(request, entries)
    attachments = report["attachments"]
    report["intact"] = report["intact"] and not (attachments["tampered"] or attachments["missing"])
    return json_response(answer_of(ChainReport, report))


routes = [
    Route("/v1/sync/push", push, methods=["POST"]),
    Route("/v1/sync/pull", pull, methods=["GET"]),
    Route("/v1/me", me, methods=["GET"]),
    Route("/v1/conflicts", conflicts, methods=["GET"]),
    Route("/v1/chains/{device_id}", chain, methods=["GET"]),
]
