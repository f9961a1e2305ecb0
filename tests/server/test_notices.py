"""Notices (BOLO) against real uvicorn processes, on SQLite and PostgreSQL (issue 14 item 4).

Two server processes share one database, as two workers do: a notice posted through one
wakes a phone waiting on the other, which then pulls it; a phone of another station never
gets it; acknowledgements pushed by phones reach the chief; an expiry turns every copy into a
tombstone; roles are checked and everything is audited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.client import SyncClient
from sync.clock import HybridClock
from sync.store.records import AuditQuery
from sync.store.sql import SQLStore
from tests.server_process import ServerProcess, own_postgres_database, seed_database
from tests.support import PG_URL, new_id, store_params

pytestmark = pytest.mark.slow

WAITERS = 3  # per process, so the test can fill it


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def database_for(kind: str, tmp_path: Path) -> str:
    if kind == "postgres":
        assert PG_URL
        return await own_postgres_database(PG_URL.rpartition("/")[2])
    return f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"


@asynccontextmanager
async def two_workers(url: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    env = {"RONDA_SYNC__WAIT_WAITERS": str(WAITERS)}
    one = ServerProcess(url, tmp_path / "a", env)
    two = ServerProcess(url, tmp_path / "b", env)
    try:
        # A start-up on a loaded machine (two cores shared by everyone) takes a while.
        await one.start(timeout_s=120)
        await two.start(timeout_s=120)
        async with (
            httpx.AsyncClient(base_url=one.base_url, timeout=60) as a,
            httpx.AsyncClient(base_url=two.base_url, timeout=60) as b,
        ):
            yield a, b
    finally:
        await two.stop()
        await one.stop()


async def pull(http: httpx.AsyncClient, token: str, cursor: str = "") -> dict[str, Any]:
    got = await http.get(
        "/v1/sync/pull", params={"cursor": cursor, "limit": 1000}, headers=auth(token)
    )
    assert got.status_code == 200, got.text
    page: dict[str, Any] = got.json()
    return page


async def post(http: httpx.AsyncClient, token: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post("/v1/notices", json=body, headers=auth(token))


def notice_body(text: str, seconds: float = 3600, **extra: Any) -> dict[str, Any]:
    return {"text": text, "category": "robo", "expires_at": in_seconds(seconds), **extra}


async def ack(
    http: httpx.AsyncClient, token: str, notice_id: str, clock: HybridClock
) -> dict[str, Any]:
    change = {
        "collection": "notice_acks",
        "id": notice_id,
        "op": "ack",
        "hlc": str(clock.tick()),
        "at": datetime.now(UTC).isoformat(),
    }
    body = {"batch_id": new_id(), "changes": [change]}
    got = await http.post("/v1/sync/push", json=body, headers=auth(token))
    assert got.status_code == 200, got.text
    result: dict[str, Any] = got.json()["results"][0]
    return result


def notices_in(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["notice_id"]: c for c in page["changes"] if c["collection"] == "notices"}


@pytest.mark.parametrize("kind", store_params())
async def test_notice_wakes_pulls_scopes_acks_and_expires(kind: str, tmp_path: Path) -> None:
    url = await database_for(kind, tmp_path)
    people = await seed_database(url)
    tokens = people.tokens
    clock = HybridClock()
    async with two_workers(url, tmp_path) as (a, b):
        start_a = (await pull(b, tokens["off-a"]))["cursor"]
        start_b = (await pull(b, tokens["off-b"]))["cursor"]
        # Officer A waits on one worker; the chief posts on the other.
        waiting = asyncio.create_task(
            b.get(
                "/v1/sync/wait",
                params={"cursor": start_a, "timeout_s": 60},
                headers=auth(tokens["off-a"]),
            )
        )
        other = asyncio.create_task(
            b.get(
                "/v1/sync/wait",
                params={"cursor": start_b, "timeout_s": 3},
                headers=auth(tokens["off-b"]),
            )
        )
        await asyncio.sleep(0.5)  # both are waiting (a late start would answer the same)
        assert not waiting.done()
        posted = await post(a, tokens["chief-a"], notice_body("Moto roja, placa A1B-234"))
        assert posted.status_code == 201, posted.text
        notice = posted.json()["notice"]
        assert notice["area"] == {"stations": ["st-a"], "district": None}
        woke = await waiting
        assert woke.status_code == 200 and woke.json()["changed"] is True
        got = notices_in(await pull(b, tokens["off-a"], start_a))
        assert got[notice["notice_id"]]["body"]["text"] == "Moto roja, placa A1B-234"
        assert got[notice["notice_id"]]["station_id"] == "st-a"
        # Station B's phone was not woken for it and never pulls it.
        assert (await other).json()["changed"] is False
        assert notice["notice_id"] not in notices_in(await pull(a, tokens["off-b"]))

        # Acknowledgements are pushes; the chief sees who.
        nid = notice["notice_id"]
        first = await ack(b, tokens["off-a"], nid, clock)
        assert first["status"] == "applied" and first["collection"] == "notice_acks"
        assert (await ack(a, tokens["off-a"], nid, clock))["status"] == "unchanged"
        assert (await ack(a, tokens["off-b"], nid, clock))["error"]["code"] == "record_not_found"
        assert (await ack(a, tokens["off-a"], "nnope", clock))["status"] == "rejected"
        shown = await a.get(f"/v1/notices/{nid}", headers=auth(tokens["chief-a"]))
        assert shown.status_code == 200, shown.text
        assert [x["officer_id"] for x in shown.json()["acks"]] == ["off-a"]
        listed = await a.get("/v1/notices", headers=auth(tokens["chief-a"]))
        assert [n["notice_id"] for n in listed.json()["notices"]] == [nid]

        # Expiry: every copy becomes a tombstone without the text, pulled by the phones.
        cursor = (await pull(a, tokens["off-a"]))["cursor"]
        brief = await post(a, tokens["chief-a"], notice_body("Breve", seconds=2))
        brief_id = brief.json()["notice"]["notice_id"]
        gone = await until_ended(a, tokens["off-a"], cursor, brief_id)
        assert gone["deleted"] is True and gone["ended"] == "expired"
        assert "body" not in gone
        ended = await a.get(f"/v1/notices/{brief_id}", headers=auth(tokens["chief-a"]))
        assert ended.json()["notice"]["active"] is False

        # Withdrawal by the chief.
        gone_now = await a.delete(f"/v1/notices/{nid}", headers=auth(tokens["chief-a"]))
        assert gone_now.status_code == 200 and gone_now.json()["notice"]["ended"] == "withdrawn"
        assert notices_in(await pull(b, tokens["off-a"], cursor))[nid]["deleted"] is True
    await check_audit(url, nid, brief_id)


async def until_ended(
    http: httpx.AsyncClient, token: str, cursor: str, notice_id: str
) -> dict[str, Any]:
    """The tombstone of a notice once the sweep wrote it (the bound only stops a hang)."""
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        found = notices_in(await pull(http, token, cursor)).get(notice_id)
        if found is not None and found["deleted"]:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError("the expired notice never became a tombstone")


async def check_audit(url: str, posted: str, expired: str) -> None:
    store = SQLStore(url)
    await store.open()
    try:
        actions = ("post_notice", "expire_notice", "withdraw_notice")
        events = await store.audit_search(AuditQuery(actions=actions, limit=100))
    finally:
        await store.close()
    seen = {(e.action, e.target, e.officer_id) for _, e in events}
    assert ("post_notice", posted, "chief-a") in seen
    assert ("post_notice", expired, "chief-a") in seen
    assert ("withdraw_notice", posted, "chief-a") in seen
    assert ("expire_notice", expired, "system") in seen
    texts = {e.target: e.details.get("text") for _, e in events if e.action == "post_notice"}
    assert texts[expired] == "Breve"  # what was said outlives the record's text


@pytest.mark.parametrize("kind", store_params())
async def test_notice_roles_areas_and_shedding(kind: str, tmp_path: Path) -> None:
    url = await database_for(kind, tmp_path)
    people = await seed_database(url)
    tokens = people.tokens
    async with two_workers(url, tmp_path) as (a, _b):
        for who in ("off-a", "admin"):
            refused = await post(a, tokens[who], notice_body("x"))
            assert refused.status_code == 403, (who, refused.text)
        other = await post(a, tokens["chief-a"], notice_body("x", stations=["st-b"]))
        assert other.status_code == 403
        past = await post(a, tokens["chief-a"], notice_body("x", seconds=-60))
        assert past.status_code == 400
        assert (await a.get("/v1/notices", headers=auth(tokens["off-a"]))).status_code == 403
        # An analyst names a district: its stations' phones get it, the others' do not.
        made = await post(a, tokens["analyst"], notice_body("Distrito", district="150102"))
        assert made.status_code == 201, made.text
        nid = made.json()["notice"]["notice_id"]
        assert made.json()["notice"]["area"]["stations"] == ["st-b"]
        assert nid in notices_in(await pull(a, tokens["off-b"]))
        assert nid not in notices_in(await pull(a, tokens["off-a"]))
        hidden = await a.get(f"/v1/notices/{nid}", headers=auth(tokens["chief-a"]))
        assert hidden.status_code == 404
        await check_reference_client(a, tmp_path, tokens, nid)
        # The waiters of one worker are bounded: one more is shed with Retry-After.
        cursor = (await pull(a, tokens["off-a"]))["cursor"]
        params = {"cursor": cursor, "timeout_s": 3}
        held = [
            asyncio.create_task(
                a.get("/v1/sync/wait", params=params, headers=auth(tokens["off-a"]))
            )
            for _ in range(WAITERS)
        ]
        await asyncio.sleep(0.5)
        shed = await a.get("/v1/sync/wait", params=params, headers=auth(tokens["off-a"]))
        assert shed.status_code == 429 and int(shed.headers["Retry-After"]) >= 1
        assert shed.json()["error"]["code"] == "busy"
        assert all(r.status_code == 200 for r in await asyncio.gather(*held))
        unauth = await a.get("/v1/sync/wait", params=params)
        assert unauth.status_code == 401
        admin = await a.get("/v1/sync/wait", params=params, headers=auth(tokens["admin"]))
        assert admin.status_code == 403
        bad = await a.get("/v1/sync/wait", params={"cursor": "zz"}, headers=auth(tokens["off-a"]))
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


async def check_reference_client(
    http: httpx.AsyncClient, tmp_path: Path, tokens: dict[str, str], notice_id: str
) -> None:
    """sync.client reads the notice, acknowledges it offline and pushes the acknowledgement."""
    client = SyncClient(tmp_path / "phone-b.db", str(http.base_url), tokens["off-b"])
    try:
        await client.identify()
        await client.sync()
        assert [n["notice_id"] for n in client.notices()] == [notice_id]
        assert client.notices(at_ms=2**50) == []  # past its expiry by the device's clock
        client.acknowledge_notice(notice_id)
        client.acknowledge_notice(notice_id)  # once is enough
        assert client.pending_count() == 1
        assert client.acknowledged_notices() == {notice_id}
        assert (await client.sync()).pushed == 1
        assert client.acknowledged_notices() == {notice_id}  # now from the pulled record
        assert await client.wait(timeout_s=1) is False  # nothing newer than its cursor
    finally:
        await client.aclose()
    shown = await http.get(f"/v1/notices/{notice_id}", headers=auth(tokens["analyst"]))
    assert [x["officer_id"] for x in shown.json()["acks"]] == ["off-b"]
