"""The reference client against the real app (httpx.ASGITransport) on a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from server.app import create_app
from server.settings import Settings
from sync.chain import verify_chain
from sync.client import Offline, RetryPolicy, SyncClient
from sync.clock import now_ms, parse_stamp
from sync.identity import issue_enrollment
from sync.outbox import hash_entry
from sync.store.base import Store
from tests.support import People

BASE = "http://ronda.test"
ROBO = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00"}
NOTE = {"kind": "note", "at": "2026-11-20T22:15:00-05:00", "text": "ronda"}
HOUR_MS = 3_600_000


def known(client: SyncClient, record_id: str) -> dict[str, Any]:
    """The incident as ``client`` sees it; the test knows it is there."""
    doc = client.incident(record_id)
    assert doc is not None
    return doc


class Wire(httpx.AsyncBaseTransport):
    """Passes requests to the app; can lose answers or the network, and records what went."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lose_answers = 0  # of the next pushes, after the server did the work
        self.down = False
        self.pushes: list[tuple[httpx.Request, bytes, httpx.Response]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("no signal", request=request)
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if request.url.path.endswith("/push"):
            self.pushes.append((request, body, response))
            if self.lose_answers:
                self.lose_answers -= 1
                raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(
            response.status_code,
            headers=[(k, v) for k, v in response.headers.items() if k != "content-encoding"],
            content=content,
        )


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

    def make(who: str = "off-a", name: str = "a", **options: Any) -> SyncClient:
        options.setdefault("retry", RetryPolicy(attempts=3))
        client = SyncClient(
            tmp_path / f"{name}.db",
            BASE,
            people.tokens[who],
            transport=wire,
            sleep=_no_sleep,
            **options,
        )
        opened.append(client)
        return client

    yield make
    for client in opened:
        if not client.http.is_closed:
            await client.aclose()


async def test_outbox_survives_close_and_reopen(
    device: Callable[..., SyncClient], wire: Wire, store: Store
) -> None:
    client = device()
    await client.identify()
    wire.down = True
    rid = client.create_incident(ROBO)
    client.update_incident(rid, {"status": "closed"})
    client.append_log(NOTE)
    with pytest.raises(Offline):
        await client.sync()
    await client.aclose()

    wire.down = False
    again = device()  # the same file: token, clock, outbox and chain head come back from it
    assert again.pending_count() == 3
    assert known(again, rid)["fields"]["status"] == "closed"
    result = await again.sync()
    assert (result.pushed, result.pending, again.rejected()) == (3, 0, [])
    assert known(again, rid)["seq"] > 0
    assert await store.last_seq() == 2  # one incident (merged in one push) and one log entry


async def test_lost_answer_is_retried_with_the_same_batch(
    device: Callable[..., SyncClient], wire: Wire, store: Store
) -> None:
    client = device()
    rid = client.create_incident(ROBO)
    wire.lose_answers = 1
    await client.sync()
    (_, first_body, first), (_, second_body, second) = wire.pushes
    assert orjson.loads(first_body)["batch_id"] == orjson.loads(second_body)["batch_id"]
    assert orjson.loads(first_body)["changes"] == orjson.loads(second_body)["changes"]
    assert second.headers.get("ronda-replayed") == "true"
    assert first.content == second.content
    assert client.stats.replayed == 1 and client.pending_count() == 0
    assert await store.last_seq() == 1
    assert known(client, rid)["seq"] == 1


async def test_crash_after_send_resends_the_same_batch_on_reopen(
    device: Callable[..., SyncClient], wire: Wire, store: Store
) -> None:
    client = device(retry=RetryPolicy(attempts=1))
    client_rid = client.create_incident(ROBO)
    wire.lose_answers = 1
    with pytest.raises(Offline):
        await client.sync()  # the server applied it; the device never heard
    sent_batch = orjson.loads(wire.pushes[0][1])["batch_id"]
    await client.aclose()

    again = device()
    await again.sync()
    assert orjson.loads(wire.pushes[1][1])["batch_id"] == sent_batch
    assert wire.pushes[1][2].headers.get("ronda-replayed") == "true"
    assert await store.last_seq() == 1
    assert known(again, client_rid)["seq"] == 1


async def test_clock_hours_ahead_is_corrected_and_changes_restamped(
    device: Callable[..., SyncClient], store: Store, people: People
) -> None:
    client = device(wall_clock=lambda: now_ms() + 5 * HOUR_MS)
    await client.identify()
    rid = client.create_incident(ROBO)
    client.append_log(NOTE)
    client.append_log({**NOTE, "text": "segunda"})
    result = await client.sync()
    assert (result.pushed, result.pending, client.rejected()) == (3, 0, [])
    assert client.stats.restamped >= 3 and client.stats.clock_corrections >= 1
    stamp = parse_stamp(known(client, rid)["hlc"])
    assert stamp.wall_ms <= now_ms() + 300_000
    assert client.box.clock.last.wall_ms <= now_ms() + 300_000
    report = verify_chain(people.officer_a.device_id, await store.chain(client.device_id))
    assert report.intact and report.head_n == 2


async def test_chain_continues_across_sessions_and_after_a_refused_entry(
    device: Callable[..., SyncClient], store: Store
) -> None:
    client = device()
    await client.identify()
    client.append_log(NOTE)
    client.append_log(NOTE)
    await client.sync()
    await client.aclose()

    again = device()
    again.append_log(NOTE)
    # An entry the server refuses for good (it amends nothing), written past the client's
    # own check: the entries after it must be re-linked, not left with a hole.
    n, prev = again.box.chain_head()
    bad = {
        "collection": "patrol_logs",
        "id": "bad-correction",
        "op": "append",
        "hlc": str(again.box.clock.tick()),
        "n": n + 1,
        "prev_hash": prev,
        "body": {"kind": "correction", "at": NOTE["at"], "amends": "no-such-entry"},
    }
    bad["hash"] = hash_entry(again.device_id, bad)
    again.box.enqueue(bad)
    again.append_log(NOTE)
    await again.sync()
    assert again.pending_count() == 0
    [refused] = again.rejected()
    assert refused.error["code"] == "amend_target_missing"
    assert refused.record_id == "bad-correction"
    report = verify_chain(again.device_id, await store.chain(again.device_id))
    assert report.intact and report.head_n == 4
    assert [e["n"] for e in again.log_entries()] == [1, 2, 3, 4]


async def test_personal_data_of_a_colleagues_incident_is_refused_and_kept_for_the_user(
    device: Callable[..., SyncClient],
) -> None:
    """An officer reads the people of their own incidents only, so the server refuses their
    lists on a colleague's incident (they would replace lists the officer cannot see); the
    client keeps the refused change for its user, the author's lists are untouched, and the
    officer's fields-only edit of the same incident goes through."""
    author = device("off-a", "a")
    rid = author.create_incident(ROBO, pii={"victims": [{"name": "Ana Quispe"}]})
    await author.sync()
    other = device("off-a2", "a2")
    await other.sync()
    pulled = other.box.record("incidents", rid)
    assert pulled is not None and "pii" not in pulled  # not the author: kept back
    witness = {"witnesses": [{"name": "Rosa Quispe", "dni": "12345678"}]}
    other.update_incident(rid, {"status": "referred"}, pii=witness)
    await other.sync()
    [refused] = other.rejected()
    assert (refused.record_id, refused.error["code"]) == (rid, "not_allowed")
    other.update_incident(rid, {"status": "referred"})
    await other.sync()
    chief = device("chief-a", "chief")
    await chief.sync()
    assert known(chief, rid)["pii"] == {"victims": [{"name": "Ana Quispe"}]}
    assert known(chief, rid)["fields"]["status"] == "referred"
    await author.sync()
    assert known(author, rid)["pii"] == {"victims": [{"name": "Ana Quispe"}]}


async def test_a_refused_change_is_kept_for_the_user(device: Callable[..., SyncClient]) -> None:
    client = device()
    rid = client.create_incident(ROBO)
    await client.sync()
    client.delete_incident(rid)
    assert known(client, rid)["deleted"] is True
    await client.sync()
    [refused] = client.rejected()
    assert (refused.record_id, refused.error["code"]) == (rid, "not_allowed")
    assert known(client, rid)["deleted"] is False  # the local view is the server's again
    assert client.dismiss_rejected(refused.ord) and client.rejected() == []


async def test_large_pushes_are_gzipped(device: Callable[..., SyncClient], wire: Wire) -> None:
    client = device(gzip_threshold=1024)
    for i in range(20):
        client.create_incident({**ROBO, "description": f"{i} " + "calle oscura " * 20})
    result = await client.sync()
    assert result.pushed == 20
    request = wire.pushes[0][0]
    assert request.headers["content-encoding"] == "gzip"


async def test_enroll_with_a_one_time_code(
    wire: Wire, store: Store, people: People, tmp_path: Path
) -> None:
    code, _ = await issue_enrollment(store, "off-b", 900, "admin", now_ms())
    client = await SyncClient.enroll(BASE, code, "phone-b2", tmp_path / "b2.db", transport=wire)
    try:
        assert client.me["station_id"] == "st-b"
        client.append_log(NOTE)  # the device id is known without asking the server
        assert (await client.sync()).pushed == 1
    finally:
        await client.aclose()
