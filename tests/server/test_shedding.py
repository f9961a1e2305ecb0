"""Load shedding (issue 16 item 5): per-device budgets and per-worker admission answer 429
``busy`` with ``Retry-After``, and the reference client and the officer's app wait as told.

The in-process tests run the real app on SQLite and on PostgreSQL (a shed request must touch
neither, and a served one must still work); the client tests run against a real uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.settings import Settings, SyncSettings
from server.shedding import STANDING_AFTER_S, Admission, DeviceBudgets, jittered
from sync.client import SyncClient
from sync.clock import HybridClock
from sync.store.base import Store
from sync.store.sql import SQLStore
from tests.server_process import ServerProcess, seed_database
from tests.support import PG_URL, People, incident, reset_postgres, seed_people, store_params

REPO = Path(__file__).resolve().parents[2]
NODE_SCRIPT = Path(__file__).resolve().parent / "shedding_js" / "retry_after.mjs"


# --- the parts, without a server ---
def test_a_budget_allows_its_burst_then_says_how_long_to_wait() -> None:
    budgets = DeviceBudgets(rate=0.5, burst=3)
    assert [budgets.take("phone", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budgets.take("phone", 100.0) == 2.0  # one request at 0.5 a second
    assert budgets.take("other", 100.0) == 0.0  # each device has its own bucket
    assert budgets.take("phone", 101.0) == 1.0  # half a request refilled: one more second
    assert budgets.take("phone", 102.0) == 0.0


def test_a_refund_gives_back_what_admission_shed() -> None:
    budgets = DeviceBudgets(rate=0.001, burst=1)
    assert budgets.take("phone", 0.0) == 0.0
    budgets.refund("phone")
    assert budgets.take("phone", 0.0) == 0.0
    assert budgets.take("phone", 0.0) > 0


def test_budgets_forget_the_least_recently_seen_device_first() -> None:
    budgets = DeviceBudgets(rate=0.001, burst=1, tracked=2)
    for key in ("a", "b", "c"):
        budgets.take(key, 0.0)
    assert budgets.take("a", 0.0) == 0.0  # forgotten: a full bucket again
    assert budgets.take("c", 0.0) > 0  # remembered: still empty


def test_retry_after_is_jittered_whole_seconds_never_shorter() -> None:
    import random

    rng = random.Random(42)
    seen = {jittered(5, rng) for _ in range(200)}
    assert min(seen) >= 5 and max(seen) <= 8 and len(seen) > 1
    assert jittered(0.2, rng) == 1


async def test_admission_queues_then_hands_places_on_in_order() -> None:
    gate = Admission(limit=1, max_queued=2, wait_s=30)
    assert await gate.enter()
    second = asyncio.ensure_future(gate.enter())
    third = asyncio.ensure_future(gate.enter())
    await asyncio.sleep(0)
    assert not await gate.enter()  # queue full: shed at once
    gate.leave()
    assert await second and not third.done()
    gate.leave()
    assert await third
    gate.leave()
    assert gate.inflight == 0


async def test_admission_sheds_a_request_whose_wait_runs_out() -> None:
    gate = Admission(limit=1, max_queued=5, wait_s=0.01)
    assert await gate.enter()
    assert not await gate.enter()
    gate.leave()
    assert gate.inflight == 0 and await gate.enter()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_standing_queue_sheds_who_waited_past_the_target_and_serves_the_rest() -> None:
    clock = FakeClock()
    gate = Admission(limit=1, max_queued=10, wait_s=30, target_s=0.05, clock=clock)
    assert await gate.enter()
    old = asyncio.ensure_future(gate.enter())
    await asyncio.sleep(0)
    clock.now += STANDING_AFTER_S  # the queue has not emptied since: it stands
    fresh = asyncio.ensure_future(gate.enter())  # an arrival cuts the stale head
    assert await old is False
    assert not fresh.done()
    gate.leave()  # the place goes to the fresh waiter, which waited under the target
    assert await fresh
    gate.leave()
    assert gate.inflight == 0


async def test_a_departure_also_cuts_a_standing_queue_before_handing_the_place_on() -> None:
    clock = FakeClock()
    gate = Admission(limit=1, max_queued=10, wait_s=30, target_s=0.05, clock=clock)
    assert await gate.enter()
    first = asyncio.ensure_future(gate.enter())
    await asyncio.sleep(0)
    clock.now += 0.08
    second = asyncio.ensure_future(gate.enter())  # not standing yet: nobody is cut
    await asyncio.sleep(0)
    assert not first.done()
    clock.now += 0.03  # standing now; first waited 0.11 s, second 0.03 s
    gate.leave()
    assert await first is False
    assert await second
    gate.leave()
    assert gate.inflight == 0


async def test_a_burst_that_drains_waits_its_turn_without_cuts() -> None:
    clock = FakeClock()
    gate = Admission(limit=1, max_queued=10, wait_s=30, target_s=0.05, clock=clock)
    for _ in range(3):  # each burst empties the queue before it stands
        assert await gate.enter()
        waiter = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0)
        clock.now += STANDING_AFTER_S * 0.9  # longer than the target, shorter than standing
        gate.leave()
        assert await waiter
        gate.leave()
        clock.now += STANDING_AFTER_S * 0.9
    assert gate.inflight == 0 and not gate.standing(clock.now)


async def test_a_waiter_that_leaves_a_standing_queue_does_not_leak_a_place() -> None:
    clock = FakeClock()
    gate = Admission(limit=1, max_queued=10, wait_s=30, target_s=0.05, clock=clock)
    assert await gate.enter()
    gone = asyncio.ensure_future(gate.enter())
    await asyncio.sleep(0)
    gone.cancel()  # the client went away while waiting
    with contextlib.suppress(asyncio.CancelledError):
        await gone
    clock.now += 1.0
    gate.leave()
    assert gate.inflight == 0 and not gate.standing(clock.now)
    assert await gate.enter()  # straight in: no stale waiter holds the place
    gate.leave()


def test_the_target_is_never_longer_than_the_wait() -> None:
    assert Admission(limit=1, max_queued=1, wait_s=0.2, target_s=5.0).target_s == 0.2
    assert Admission(limit=1, max_queued=1, wait_s=0.2).target_s == 0.2


# --- the app, in process, on each store ---
@pytest.fixture(params=store_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh, unopened store: the app's lifespan opens and closes it."""
    if request.param == "postgres":
        assert PG_URL
        await reset_postgres(PG_URL)
        return SQLStore(PG_URL)
    return SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}")


@contextlib.asynccontextmanager
async def serve(store: Store, **sync: object) -> AsyncIterator[tuple[httpx.AsyncClient, People]]:
    settings = Settings(_env_file=None)
    limits = SyncSettings(**{**settings.sync.model_dump(), **sync})
    app = create_app(settings.model_copy(update={"sync": limits}), store)
    async with app.router.lifespan_context(app):
        people = await seed_people(store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, people


def bearer(people: People, officer: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {people.tokens[officer]}"}


def shed_count(metrics: str, reason: str) -> float:
    found = re.search(rf'^ronda_shed_total\{{reason="{reason}"\}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_a_device_over_its_budget_is_shed_and_others_are_not(store: Store) -> None:
    async with serve(store, device_burst=3, device_rate_per_s=0.01) as (client, people):
        for _ in range(3):
            assert (await client.get("/v1/sync/pull", headers=bearer(people, "off-a"))).is_success
        shed = await client.get("/v1/sync/pull", headers=bearer(people, "off-a"))
        assert shed.status_code == 429
        error = shed.json()["error"]
        assert error["code"] == "busy"
        assert error["details"]["reason"] == "device_budget"
        # One request at 0.01 a second is 100 s away; jitter only adds to it.
        assert 100 <= error["details"]["retry_after_s"] == int(shed.headers["Retry-After"])
        push = {"batch_id": "b1", "changes": [incident("inc-1", HybridClock())]}
        refused = await client.post("/v1/sync/push", json=push, headers=bearer(people, "off-a"))
        assert refused.status_code == 429  # pushes spend the same budget
        other = await client.post("/v1/sync/push", json=push, headers=bearer(people, "off-a2"))
        assert other.status_code == 200 and other.json()["summary"]["applied"] == 1
        assert (await client.get("/v1/me", headers=bearer(people, "off-a"))).is_success
        metrics = (await client.get("/metrics")).text
        assert shed_count(metrics, "device_budget") == 2
        assert 'route="/v1/sync/pull",status="429"' in metrics  # named, not "unmatched"


async def test_a_saturated_worker_sheds_instead_of_queueing(store: Store) -> None:
    async with serve(store, max_inflight=1, max_queued=0) as (client, people):
        release, inside = asyncio.Event(), asyncio.Event()

        async def slow_body(release: asyncio.Event = release) -> AsyncIterator[bytes]:
            # Read by the app only once admitted: from then on it holds the only place, until
            # its body has arrived.
            inside.set()
            yield b'{"batch_id": "slow", "changes": ['
            await release.wait()
            yield json.dumps(incident("inc-slow", HybridClock())).encode() + b"]}"

        headers = {**bearer(people, "off-a"), "Content-Type": "application/json"}
        held = asyncio.create_task(
            client.post("/v1/sync/push", content=slow_body(), headers=headers)
        )
        await inside.wait()
        probe = await client.get("/v1/sync/pull", headers=bearer(people, "off-b"))
        assert probe.status_code == 429
        error = probe.json()["error"]
        assert error["details"]["reason"] == "saturated"
        assert error["details"]["retry_after_s"] >= 5  # sync.busy_retry_after_s, jittered up
        assert (await client.get("/healthz")).status_code == 200  # only sync and tiles are shed
        release.set()
        answer = await held
        assert answer.status_code == 200 and answer.json()["summary"]["applied"] == 1
        assert (await client.get("/v1/sync/pull", headers=bearer(people, "off-b"))).is_success
        assert shed_count((await client.get("/metrics")).text, "saturated") >= 1


# --- the clients, against a real server that sheds ---
@pytest.fixture
async def shedding_server(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, People]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    people = await seed_database(url)
    # One request of burst, refilled at one a second: every second request is shed with a
    # Retry-After of 1-2 s, longer than the clients' own first back-off (0.25 s).
    env = {"RONDA_SYNC__DEVICE_BURST": "1", "RONDA_SYNC__DEVICE_RATE_PER_S": "1"}
    server = ServerProcess(url, tmp_path, env=env)
    await server.start()
    try:
        yield server, people
    finally:
        await server.stop()


@pytest.mark.slow
async def test_the_reference_client_waits_as_long_as_retry_after_says(
    shedding_server: tuple[ServerProcess, People], tmp_path: Path
) -> None:
    server, people = shedding_server
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    client = SyncClient(tmp_path / "phone.db", server.base_url, people.tokens["off-a"], sleep=sleep)
    try:
        for i in range(3):
            client.create_incident(
                {"category": "robo", "occurred_at": f"2026-12-0{i + 1}T10:00:00Z"}
            )
        client.batch_size = 1  # three pushes and a pull, one a second at most
        result = await client.sync()
    finally:
        await client.aclose()
    assert result.pushed == 3 and result.pending == 0
    assert client.stats.retries >= 3
    # Each retry waited at least a whole second (Retry-After), never its 0.25 s back-off.
    assert slept and min(slept) >= 1.0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
async def test_the_app_waits_as_long_as_retry_after_says(
    shedding_server: tuple[ServerProcess, People],
) -> None:
    server, people = shedding_server
    command = ["node", str(NODE_SCRIPT), server.base_url, people.tokens["off-a"]]
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["statuses"] == [200, 200]  # the second call got through after waiting
    assert report["retry_after"] and report["sleeps"]
    for wait_ms, retry_after in zip(report["sleeps"], report["retry_after"], strict=True):
        assert wait_ms == int(retry_after) * 1000


# --- the load benchmark, at its smallest ---
@pytest.mark.slow
def test_the_load_benchmark_runs_small_and_ends_with_its_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.load", "--devices", "60", "--seconds", "3"]
    command += ["--think", "1", "--records", "5", "--runs", "sqlite", "--repeat", "2"]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    pattern = (
        r"devices=60 rps=[\d.]+ p50_ms=\d+ p99_ms=\d+ errors=\d+ shed=\d+ "
        r"sqlite_rps=[\d.]+ pg1_rps=- pg2_rps=-"
    )
    assert re.fullmatch(pattern, last), last
    assert float(last.split()[1].removeprefix("rps=")) > 0
    busy = re.search(r"machine: ([\d.]+) of \d+ cores busy", done.stdout)
    assert busy and float(busy.group(1)) > 0, done.stdout[-2000:]
    # Two rounds, each on a fresh copy of the seed: the line gives the lower of the two.
    rounds = re.search(
        r"sqlite: rps of each round ([\d.]+), ([\d.]+); the median ([\d.]+)", done.stdout
    )
    assert rounds, done.stdout[-2000:]
    first, second, median = (float(x) for x in rounds.groups())
    assert median == min(first, second) and f"sqlite_rps={median}" in last
    assert f"rps={median}" in last.split()  # rps, p50, p99 are of the median run
    assert " errors=0 " in last, done.stdout[-3000:]
    # The machine's speed around each run, by a fixed task timed before and after it.
    speeds = re.findall(
        r"\(gzip of a pull page\): ([\d.]+) ms before, ([\d.]+) ms after", done.stdout
    )
    assert len(speeds) == 2 and all(float(ms) > 0 for pair in speeds for ms in pair), speeds
    assert re.search(
        r"sqlite: reference task of each round \(ms, lower is faster\) [\d.]+, [\d.]+\n",
        done.stdout,
    )


def test_the_budget_key_is_a_short_digest_of_the_token() -> None:
    # Runs before authentication: made-up tokens must cost a fixed few bytes each in the
    # table, and a token longer than any real one gets no bucket at all (review finding).
    from server.shedding import _bearer

    def scope(value: bytes) -> dict[str, object]:
        return {"headers": [(b"authorization", value)]}

    a, b = _bearer(scope(b"Bearer rnd_" + b"x" * 40)), _bearer(scope(b"bearer rnd_" + b"y" * 40))
    assert a is not None and b is not None and a != b and len(a) == len(b) == 32
    assert _bearer(scope(b"Bearer " + b"z" * 8000)) is None
    assert _bearer(scope(b"Basic dXNlcjpwYXNz")) is None
