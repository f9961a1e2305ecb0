"""Cursors over HTTP (both backends): the pull cursor and the conflicts ``after`` are refused
when the server never gave them, with the documented error (docs/protocol.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.settings import Settings
from sync.clock import HybridClock
from tests.support import People, batch, incident, open_store, seed_people, store_params

Client = tuple[httpx.AsyncClient, People]


@pytest.fixture(params=store_params())
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Client]:
    async for store in open_store(request.param, tmp_path):
        people = await seed_people(store)
        settings = Settings(_env_file=None)
        settings.server.log_level = "warning"
        app = create_app(settings, store)
        app.state.ctx.places.loaded()  # the store is opened here, not by the app's lifespan
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, people


def _auth(people: People, officer: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {people.tokens[officer]}"}


async def _conflict(client: httpx.AsyncClient, people: People, rid: str) -> None:
    """A value that loses against one it had not seen (docs/protocol.md, Merge rule)."""
    await client.post(
        "/v1/sync/push", json=batch([incident(rid, HybridClock())]), headers=_auth(people, "off-a")
    )
    newer = incident(rid, HybridClock(offset_ms=60_000), {"status": "closed"}, base_seq=1)
    await client.post("/v1/sync/push", json=batch([newer]), headers=_auth(people, "chief-a"))
    older = incident(rid, HybridClock(), {"status": "referred"}, base_seq=1)
    answer = await client.post(
        "/v1/sync/push", json=batch([older]), headers=_auth(people, "off-a2")
    )
    assert answer.json()["results"][0]["conflicts"] == 1


async def test_pull_refuses_cursors_it_never_gave(api: Client) -> None:
    client, people = api
    await client.post(
        "/v1/sync/push",
        json=batch([incident(f"inc-{i}", HybridClock()) for i in range(3)]),
        headers=_auth(people, "off-a"),
    )
    first = await client.get("/v1/sync/pull", headers=_auth(people, "off-a"))
    epoch, seq = first.json()["cursor"].split(".")
    for cursor, reason in [
        ("00", "malformed"),
        (f"{epoch}.0{seq}", "malformed"),
        (f"{epoch}.{int(seq) + 100}", "not_issued"),
        ("ffffffffffff.1" if epoch != "ffffffffffff" else "000000000001.1", "epoch_changed"),
    ]:
        answer = await client.get(
            "/v1/sync/pull", params={"cursor": cursor}, headers=_auth(people, "off-a")
        )
        assert answer.status_code == 400, cursor
        error = answer.json()["error"]
        assert (error["code"], error["details"]["reason"]) == ("invalid_cursor", reason)
    # A plain number past the last seq (accepted by the old server with has_more false).
    beyond = await client.get(
        "/v1/sync/pull", params={"cursor": str(int(seq) + 100)}, headers=_auth(people, "off-a")
    )
    assert beyond.status_code == 400


async def test_conflicts_refuse_an_after_beyond_every_conflict(api: Client) -> None:
    client, people = api
    await _conflict(client, people, "inc-1")
    page = (await client.get("/v1/conflicts", headers=_auth(people, "chief-a"))).json()
    assert [c["losing_value"] for c in page["conflicts"]] == ["referred"]
    last = page["after"]
    answer = await client.get(
        "/v1/conflicts", params={"after": last + 100}, headers=_auth(people, "chief-a")
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("invalid_cursor", "not_issued")
    # The last page's own after is fine, and later conflicts come after it.
    again = await client.get(
        "/v1/conflicts", params={"after": last}, headers=_auth(people, "chief-a")
    )
    assert again.status_code == 200 and again.json()["conflicts"] == []
    await _conflict(client, people, "inc-2")
    later = await client.get(
        "/v1/conflicts", params={"after": last}, headers=_auth(people, "chief-a")
    )
    assert [c["record_id"] for c in later.json()["conflicts"]] == ["inc-2"]


async def test_conflicts_of_another_station_do_not_make_an_after_unknown(api: Client) -> None:
    """An after given to one station's chief stays valid when only other stations have
    conflicts past it (the bound is the greatest id of all)."""
    client, people = api
    await _conflict(client, people, "inc-1")
    analyst = (await client.get("/v1/conflicts", headers=_auth(people, "analyst"))).json()
    answer = await client.get(
        "/v1/conflicts", params={"after": analyst["after"]}, headers=_auth(people, "chief-a")
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("query", ["after=%C2%B2", "after=%D9%A3", "limit=%C2%B2", "limit=%D9%A3"])
async def test_integer_parameters_take_ascii_digits_only(api: Client, query: str) -> None:
    """ "²" and "٣" are digits to str.isdigit(): one crashed int() (a 500), one was read as 3."""
    client, people = api
    answer = await client.get(f"/v1/conflicts?{query}", headers=_auth(people, "chief-a"))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"
