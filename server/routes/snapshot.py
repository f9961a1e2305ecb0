"""``GET /v1/sync/snapshot``: a device's first sync as one stream instead of many pages.

At a shift change hundreds of new phones pull their whole scope at once. A snapshot sends it
as newline-delimited JSON in one response (gzip when the device accepts it), read from the
store page by page exactly as ``/v1/sync/pull`` reads it, so a snapshot and a paged pull give
the same documents. A checkpoint line with a pull cursor follows every page: a device whose
connection drops keeps what it got and goes on from the last checkpoint. Each response stops
after a time budget, well inside the request timeout, with a final line that says whether the
scope is complete; and each worker serves a bounded number of streams, answering 429 with
``Retry-After`` beyond it, so that a storm queues on the phones instead of timing out.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from server.attachment_service import with_received
from server.auth import authenticate
from server.context import AppContext, ctx
from server.shedding import busy
from sync.clock import now_ms
from sync.store.records import AuditEvent, Identity

MEDIA_TYPE = "application/x-ndjson"


async def audit_pii(c: AppContext, who: Identity, with_pii: int) -> None:
    """The audit row of a pull page that carried personal data (pull and snapshot alike)."""
    if with_pii:
        details = {"records": with_pii, "device_id": who.device_id}
        await c.store.add_audit(
            AuditEvent(now_ms(), who.officer_id, "pull_pii", "incidents", details)
        )


async def snapshot(request: Request) -> Response:
    c = ctx(request)
    who = await authenticate(request)
    c.engine.scope(who)  # admins and officers without a station: 403 before anything streams
    limit = c.settings.sync.pull_max_limit
    if c.snapshots >= c.settings.sync.snapshot_streams:
        raise busy(
            "too many first syncs at once; retry after Retry-After seconds",
            c.settings.sync.busy_retry_after_s,
            "snapshot_streams",
            c.rng,
        )
    # The slot is taken at the check, before any await: a burst arriving together must not
    # all see the count still at zero.
    c.snapshots += 1
    try:
        # The first page is read before answering, so a bad cursor is a proper 400.
        first = await c.engine.pull_page(who, request.query_params.get("cursor") or None, limit)
    except BaseException:
        c.snapshots -= 1
        raise
    c.metrics.syncs.labels("snapshot").inc()
    budget_s = c.settings.server.request_timeout_s / 2
    slot = _Slot(c)
    return _SlotStream(_lines(request, c, who, first, budget_s, slot), slot)


class _Slot:
    """One of the worker's snapshot slots, given back once."""

    def __init__(self, c: AppContext) -> None:
        self._context: AppContext | None = c

    def release(self) -> None:
        if self._context is not None:
            self._context.snapshots -= 1
            self._context = None


class _SlotStream(StreamingResponse):
    """A stream that gives its slot back when it ends, however it ends (finished, failed,
    or the phone gone), not when its generator happens to be collected."""

    def __init__(self, content: AsyncIterator[bytes], slot: _Slot) -> None:
        super().__init__(content, media_type=MEDIA_TYPE)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()


async def _lines(
    request: Request,
    c: AppContext,
    who: Identity,
    first: tuple[bytes, int],
    budget_s: float,
    slot: _Slot,
) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + budget_s
    page, with_pii = first
    count = 0
    while True:
        await audit_pii(c, who, with_pii)
        parsed = orjson.loads(await with_received(request, page))
        out = bytearray()
        for change in parsed["changes"]:
            out += orjson.dumps(change)
            out += b"\n"
        if "attachments" in parsed:
            out += orjson.dumps({"attachments": parsed["attachments"]}) + b"\n"
        count += len(parsed["changes"])
        complete = not parsed["has_more"]
        if complete or time.monotonic() > deadline:
            end = {
                "cursor": parsed["cursor"],
                "complete": complete,
                "count": count,
                "server_time_ms": parsed["server_time_ms"],
            }
            # Free before the last line goes out: a phone that read it may ask again at once.
            slot.release()
            yield bytes(out) + orjson.dumps(end) + b"\n"
            return
        yield bytes(out) + orjson.dumps({"cursor": parsed["cursor"]}) + b"\n"
        page, with_pii = await c.engine.pull_page(
            who, parsed["cursor"], c.settings.sync.pull_max_limit
        )


routes = [Route("/v1/sync/snapshot", snapshot, methods=["GET"])]
