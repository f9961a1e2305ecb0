"""Web sign-in: unknown ids answer like wrong passwords, and failures only slow the failing
side (per officer and address, per address, per officer), with 429 + Retry-After."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.settings import Settings, WebSettings
from server.web import throttle
from server.web.sessions import LOGIN_CSRF_COOKIE, set_password
from sync.store.base import Store
from sync.store.records import Officer, Station
from tests.server.conftest import Served
from tests.support import open_store, store_params

PASSWORD = "una-clave-larga-1"
WEB = WebSettings(
    throttle_after=3, address_throttle_after=8, officer_throttle_after=6, throttle_max_s=60
)


@pytest.fixture
def app_settings() -> Settings:
    return Settings(_env_file=None, web=WEB)


def client_from(served: Served, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=served.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def attempt(client: httpx.AsyncClient, officer: str, password: str) -> httpx.Response:
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    client.cookies.set(LOGIN_CSRF_COOKIE, token.group(1))
    data = {"csrf": token.group(1), "officer_id": officer, "password": password}
    return await client.post("/login", data=data)


def shape(answer: httpx.Response) -> tuple[int, bool, str]:
    """Status, whether there is a Retry-After, and the body without its one-time CSRF token
    and without the seconds to wait (they count down with the clock between two requests)."""
    body = re.sub(r'name="csrf" value="[^"]+"', "", answer.text)
    body = re.sub(r"espere \d+ s", "espere N s", body)
    return answer.status_code, "retry-after" in answer.headers, body


async def test_an_unknown_id_gets_exactly_the_answers_of_a_real_one(served: Served) -> None:
    await set_password(served.store, "chief-a", PASSWORD)
    real, ghost = client_from(served, "10.1.0.1"), client_from(served, "10.1.0.2")
    async with real, ghost:
        for n in range(5):
            known = shape(await attempt(real, "chief-a", "wrong password"))
            unknown = shape(await attempt(ghost, "nadie-77", "wrong password"))
            assert known == unknown, n
        assert known[0] == 429 and known[1]  # the later ones wait, for both


async def test_hammering_from_one_address_never_locks_the_officer_out(served: Served) -> None:
    await set_password(served.store, "chief-a", PASSWORD)
    attacker, officer = client_from(served, "203.0.113.9"), client_from(served, "10.2.0.7")
    async with attacker, officer:
        statuses = [
            (await attempt(attacker, "chief-a", f"guess {n}")).status_code for n in range(12)
        ]
        assert statuses[:3] == [401, 401, 401]
        assert set(statuses[3:]) == {429}  # waiting, not checked, not counted
        throttled = await attempt(attacker, "chief-a", PASSWORD)  # even the right one waits
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
        assert "espere" in throttled.text
        ok = await attempt(officer, "chief-a", PASSWORD)
        assert ok.status_code == 303 and ok.headers["location"] == "/map"


async def test_a_password_reset_forgets_the_failures(served: Served) -> None:
    await set_password(served.store, "chief-a", PASSWORD)
    async with client_from(served, "10.3.0.1") as client:
        for n in range(3):
            assert (await attempt(client, "chief-a", f"guess {n}")).status_code == 401
        assert (await attempt(client, "chief-a", PASSWORD)).status_code == 429
        await set_password(served.store, "chief-a", PASSWORD)
        assert (await attempt(client, "chief-a", PASSWORD)).status_code == 303


# --- the back-off itself, with explicit times, on every reachable store ---


@pytest.fixture(params=store_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for opened in open_store(request.param, tmp_path):
        await opened.put_station(Station("st-a", "A", None))
        await opened.put_officer(Officer("chief-a", "Rosa", "chief", "st-a"))
        yield opened


async def test_waits_double_after_the_free_failures_and_are_capped(store: Store) -> None:
    t = 1_000_000
    waits = []
    for _ in range(12):
        verdict = await throttle.check(store, WEB, "chief-a", "a1", t)
        assert verdict.allowed  # every attempt below comes exactly when allowed
        await throttle.failed(store, "chief-a", "a1", t)
        waits.append((await throttle.check(store, WEB, "chief-a", "a1", t)).retry_after_s)
        t += waits[-1] * 1000
    # 3 free failures, then 2^1, 2^2, ... seconds, capped at throttle_max_s (60)
    assert waits == [0, 0, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]


async def test_per_address_limit_covers_every_id_tried_from_it(store: Store) -> None:
    t = 5_000_000
    for n in range(8):  # 8 different ids, one failure each: no pair reaches its limit
        await throttle.failed(store, f"id-{n}", "a2", t)
    assert (await throttle.check(store, WEB, "id-new", "a2", t)).retry_after_s == 2
    assert (await throttle.check(store, WEB, "id-new", "a3", t)).allowed  # other addresses


async def test_officer_wide_count_slows_only_addresses_that_failed(store: Store) -> None:
    t = 9_000_000
    for n in range(6):  # six addresses, one failure each, on the same officer
        await throttle.failed(store, "chief-a", f"b{n}", t)
    assert (await throttle.check(store, WEB, "chief-a", "b0", t)).retry_after_s == 2
    assert (await throttle.check(store, WEB, "chief-a", "fresh", t)).allowed
    await throttle.succeeded(store, "chief-a", "fresh")  # a good sign-in forgets the count
    assert (await throttle.check(store, WEB, "chief-a", "b0", t)).allowed


async def test_failures_are_forgotten_a_day_later(store: Store) -> None:
    t = 20_000_000
    for _ in range(5):
        await throttle.failed(store, "chief-a", "c1", t)
    assert not (await throttle.check(store, WEB, "chief-a", "c1", t)).allowed
    later = t + throttle.FORGET_MS + 1
    assert (await throttle.check(store, WEB, "chief-a", "c1", later)).allowed
    await throttle.failed(store, "chief-a", "c1", later)  # counting starts again at 1
    assert (await throttle.check(store, WEB, "chief-a", "c1", later)).allowed
