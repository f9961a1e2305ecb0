"""The reference client's resync after ``invalid_cursor`` (docs/protocol.md, Client algorithm).

The server's epoch is replaced with ``Store.new_epoch`` and records are removed behind its back
(what a restore does to a device that synced after the backup); the real backup and restore
are in tests/server/test_backup_restore.py.  Both backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from server.app import create_app
from server.settings import Settings
from sync.client import Offline, RetryPolicy, SyncClient
from sync.engine import SyncEngine
from sync.store.base import Store
from sync.store.sql import SQLStore
from tests.support import People

BASE = "http://ronda.test"
ROBO = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00"}


class Wire(httpx.AsyncBaseTransport):
    """Passes requests to the app; the signal can drop after a number of pulls."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.pulls_left: int | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pull") and self.pulls_left is not None:
            if self.pulls_left == 0:
                raise httpx.ConnectError("no signal", request=request)
            self.pulls_left -= 1
        response = await self.inner.handle_async_request(request)
        # The bytes as sent (a gzip-encoded snapshot stays encoded, as its headers say).
        content = b"".join([part async for part in response.aiter_raw()])
        return httpx.Response(response.status_code, headers=response.headers, content=content)


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def wire(store: Store) -> Wire:
    settings = Settings()
    settings.server.log_level = "warning"
    app = create_app(settings, store)
    app.state.ctx.places.loaded()  # the store is opened by its fixture, not by the lifespan
    return Wire(httpx.ASGITransport(app=app))


@pytest.fixture
async def device(
    wire: Wire, people: People, tmp_path: Path
) -> AsyncIterator[Callable[..., SyncClient]]:
    opened: list[SyncClient] = []

    def make(who: str = "off-a", **options: Any) -> SyncClient:
        client = SyncClient(
            tmp_path / f"{who}.db",
            BASE,
            people.tokens[who],
            transport=wire,
            retry=RetryPolicy(attempts=1),
            sleep=_no_sleep,
            **options,
        )
        opened.append(client)
        return client

    yield make
    for client in opened:
        if not client.http.is_closed:
            await client.aclose()


async def _on_server(store: Store, people: People) -> dict[str, dict[str, Any]]:
    page = orjson.loads(await SyncEngine(store).pull(people.officer_a, "", 100_000))
    return {doc["id"]: doc for doc in page["changes"]}


def _local(client: SyncClient) -> dict[str, dict[str, Any]]:
    return {doc["id"]: doc for doc in client.box.records("incidents")}


async def _forget(store: Store, record_id: str) -> None:
    """Remove a record as a restore from an older backup would (no tombstone)."""
    assert isinstance(store, SQLStore)
    async with store.engine.begin() as conn:
        for table in ("record", "incident_point"):
            await conn.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": record_id})


async def test_a_refused_cursor_starts_a_resync_that_keeps_the_outbox(
    store: Store, people: People, device: Callable[..., SyncClient]
) -> None:
    ana = device()
    first, second = ana.create_incident(ROBO), ana.create_incident(ROBO)
    await ana.sync()
    ana.update_incident(first, {"status": "closed"})
    in_flight = ana.box.open_batch("batch-in-flight", 1)
    assert in_flight is not None
    ana.update_incident(second, {"status": "referred"})
    queued = [c for _, c in ana.box.pending() if c["fields"].get("status") == "referred"]
    assert queued[0]["base_seq"] > 0

    await store.new_epoch(0x0A0B0C0D0E0F)
    assert await ana.pull() == 2
    assert ana.stats.resyncs == 1
    again = ana.box.current_batch()
    assert again is not None and again.changes == in_flight.changes  # byte for byte
    pending = {c["fields"]["status"]: c for _, c in ana.box.pending()}
    assert pending["referred"]["base_seq"] == 0  # a seq of the old database means nothing
    assert orjson.loads(in_flight.changes)[0]["base_seq"] > 0

    result = await ana.sync()
    assert (result.pending, ana.rejected()) == (0, [])
    server = await _on_server(store, people)
    assert _local(ana) == server
    assert server[first]["fields"]["status"] == "closed"
    assert server[second]["fields"]["status"] == "referred"
    assert ana.box.get("cursor").startswith("0a0b0c0d0e0f.")


async def test_a_resync_cut_short_keeps_the_view_and_drops_only_at_its_end(
    store: Store, people: People, device: Callable[..., SyncClient], wire: Wire
) -> None:
    ana = device(pull_limit=1, resend_own=False)  # see tests/server/test_backup_restore.py
    ids = [ana.create_incident(ROBO) for _ in range(4)]
    await ana.sync()
    await _forget(store, ids[1])
    await store.new_epoch(0x0102030405AB)

    wire.pulls_left = 2  # the refused pull and one page of the resync
    with pytest.raises(Offline):
        await ana.pull()
    assert set(_local(ana)) == set(ids)  # nothing left the view half-way
    assert ana.incident(ids[1]) is not None
    # An edit made meanwhile of a record not yet pulled again: base_seq 0.
    ana.update_incident(ids[3], {"status": "closed"})
    assert [c["base_seq"] for _, c in ana.box.pending()] == [0]

    wire.pulls_left = None
    await ana.sync()
    server = await _on_server(store, people)
    assert _local(ana) == server
    assert set(server) == {ids[0], ids[2], ids[3]}
    assert [doc["id"] for doc in ana.dropped_records()] == [ids[1]]
    assert ana.incident(ids[1]) is None
    assert ana.stats.resyncs == 1 and ana.stats.dropped == 1
    # A later sync is an ordinary one again.
    await ana.sync()
    assert ana.stats.resyncs == 1 and _local(ana) == server
