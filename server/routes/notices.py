"""Notices (BOLO) over HTTP and the wake-up long-poll (docs/protocol.md, "Notices", "Wake-up").

Chiefs and analysts post, list, read and withdraw notices with their device token (the web
page, ``server/web/notices_page.py``, does the same for a signed-in chief). Officers' phones
receive notices by pulling and acknowledge them by pushing; ``GET /v1/sync/wait`` tells an
online phone when to pull.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.answers import answer, answer_of
from server.answers.notices import NoticeAnswer, NoticeList, NoticeWithAcks, WaitAnswer
from server.auth import authenticate, require
from server.cluster import leader_only_forever, worker_name
from server.context import AppContext, ctx
from server.routes.common import int_param, json_response, read_model
from server.wake import WakeHub
from sync.clock import now_ms
from sync.cursor import parse_cursor
from sync.notices import acks_of, end_notice, expire_due, notice_for, notices_for, post_notice
from sync.protocol_notices import NoticeDraft

log = logging.getLogger("ronda.notices")

SWEEP_EVERY_S = 2.0  # how late a tombstone may come after an expiry (phones drop on time)
READER_ROLES = ("chief", "analyst")


async def post(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, *READER_ROLES)
    draft = await read_model(request, NoticeDraft)
    notice = await post_notice(c.engine, who, draft, now_ms())
    return json_response(answer_of(NoticeAnswer, {"notice": notice.as_json()}), 201)


async def index(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, *READER_ROLES)
    ended = request.query_params.get("include_ended", "false") == "true"
    limit = int_param(request, "limit", 100, 1, 500)
    found = await notices_for(c.engine, who, ended, limit)
    return json_response(answer_of(NoticeList, {"notices": [n.as_json() for n in found]}))


async def show(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, *READER_ROLES)
    notice = await notice_for(c.engine, who, request.path_params["notice_id"])
    acks = await acks_of(c.engine, who, notice)
    return json_response(answer_of(NoticeWithAcks, {"notice": notice.as_json(), "acks": acks}))


async def withdraw(request: Request) -> Response:
    c = ctx(request)
    who = await require(request, *READER_ROLES)
    notice = await notice_for(c.engine, who, request.path_params["notice_id"])
    ended = await end_notice(c.engine, notice.notice_id, "withdrawn", now_ms(), who)
    return json_response(answer_of(NoticeAnswer, {"notice": ended.as_json()}))


def hub(request: Request) -> WakeHub:
    """This worker's waiters (made on first use)."""
    found: WakeHub | None = getattr(request.app.state, "wake", None)
    if found is None:
        s = ctx(request).settings.sync
        found = WakeHub(ctx(request).engine, s.wait_waiters, s.busy_retry_after_s, ctx(request).rng)
        request.app.state.wake = found
    return found


async def wait(request: Request) -> Response:
    c = ctx(request)
    who = await authenticate(request)
    # Never past the request timeout (a long-poll cut by it would be a 503, not an answer).
    limit = max(1, min(c.settings.sync.wait_max_s, int(c.settings.server.request_timeout_s) - 2))
    timeout = min(int_param(request, "timeout_s", limit, 1, 300), limit)
    after = parse_cursor(request.query_params.get("cursor"), await c.store.sync_state())
    changed = await hub(request).wait(who, after, timeout)
    return json_response(answer(WaitAnswer(changed=changed, server_time_ms=now_ms())))


async def sweep_forever(context: AppContext, every_s: float = SWEEP_EVERY_S) -> None:
    """Tombstone expired notices, on one worker of the deployment at a time (each sweep reads
    every live notice; ending one twice would write nothing, but the reads add up)."""

    async def sweep() -> None:
        await expire_due(context.engine, now_ms())

    await leader_only_forever(context.store, "notice_sweep", every_s, sweep, worker_name())


routes = [
    Route("/v1/notices", post, methods=["POST"]),
    Route("/v1/notices", index, methods=["GET"]),
    Route("/v1/notices/{notice_id}", show, methods=["GET"]),
    Route("/v1/notices/{notice_id}", withdraw, methods=["DELETE"]),
    Route("/v1/sync/wait", wait, methods=["GET"]),
]
