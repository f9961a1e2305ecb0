"""Two rules around CompStat and the near-repeat test (issue 14, review leftovers):

- local days are cut by one setting, ``public.utc_offset_minutes`` (the pages' rule), in
  CompStat and in the Knox test alike;
- near-repeat tests wait for one another on the event loop, a few at most; more are told
  ``429 busy``, and worker threads are never tied up waiting for the Knox kernel.

On SQLite and, when RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from geo.analysis import near_repeat
from server.routes import analysis_tactical
from server.settings import DatabaseSettings, PublicSettings, Settings
from sync.clock import HybridClock
from sync.store.sql import SQLStore
from tests.server.conftest import Served, fresh_url, serving
from tests.server.test_openapi import check
from tests.support import batch, incident, new_id

OFFSET_MIN = -240  # a city at UTC-4: its midnight is 04:00 UTC, Lima's is 05:00


@pytest.fixture(params=["sqlite", "postgres"], name="served")
async def served_at_utc_minus_4(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Served]:
    url = await fresh_url(request.param, tmp_path)
    base = Settings(_env_file=None)
    database = DatabaseSettings(**{**base.database.model_dump(), "url": url})
    public = PublicSettings(**{**base.public.model_dump(), "utc_offset_minutes": OFFSET_MIN})
    settings = base.model_copy(update={"database": database, "public": public})
    async with serving(settings, SQLStore(url)) as running:
        yield running


async def _push(served: Served, rows: list[tuple[str, float, float]]) -> None:
    clock = HybridClock()
    changes = [
        incident(
            new_id(),
            clock,
            {
                "category": "robo",
                "occurred_at": at,
                "location": {"lon": lon, "lat": lat, "accuracy_m": 5},
            },
        )
        for at, lon, lat in rows
    ]
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.json()["summary"]["applied"] == len(changes), answer.text


async def test_days_are_cut_by_the_one_offset_setting(served: Served) -> None:
    # 24 Nov 04:30 UTC: 00:30 on the 24th at UTC-4 (this week), but 23:30 on the 23rd in
    # Lima. 1 Dec 03:30 UTC: 23:30 on 30 Nov at UTC-4; 1 Dec 04:30 UTC is 1 December.
    await _push(
        served,
        [
            ("2026-11-24T04:30:00Z", -77.03, -12.05),
            ("2026-12-01T03:30:00Z", -77.03, -12.05),
            ("2026-12-01T04:30:00Z", -77.03, -12.05),
        ],
    )
    answer = await served.client.get(
        "/v1/analysis/compstat", params={"date": "2026-11-30"}, headers=served.auth("chief-a")
    )
    body = answer.json()
    week = next(p for p in body["periods"] if p["name"] == "7d")["current"]
    assert week["start"] == 1_795_492_800  # 2026-11-24T04:00:00Z
    assert body["total"]["7d"]["current"] == 2  # with Lima's midnight it was 1
    # The Knox test: the first two are 6 local days apart at UTC-4 (24 Nov -> 30 Nov), 7 in
    # Lima (23 Nov -> 30 Nov); with 6-day bands the pair moves from "7 to 12" to "0 to 6".
    params: dict[str, str | int] = {
        "start": "2026-11-20",
        "end": "2026-12-01T04:00:00Z",
        "distance_m": 100,
        "distance_bands": 1,
        "days": 6,
        "time_bands": 1,
        "permutations": 19,
    }
    knox = await served.client.get(
        "/v1/analysis/near-repeat", params=params, headers=served.auth("chief-a")
    )
    cells = {(c["space"], c["time"]): c["observed"] for c in knox.json()["cells"]}
    assert cells[("same location", "0 to 6")] == 1, cells


async def test_near_repeat_requests_wait_on_the_loop_or_get_busy(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _push(served, [("2026-11-24T15:00:00Z", -77.03 + i * 1e-4, -12.05) for i in range(5)])
    release, lock = threading.Event(), threading.Lock()
    inside: list[int] = []
    peak: list[int] = [0]
    real = near_repeat.knox_test

    def held(*args: Any) -> Any:
        """The real test, held at its start until released; counts threads inside."""
        with lock:
            inside.append(1)
            peak[0] = max(peak[0], len(inside))
        try:
            release.wait(120)  # not a timing: only keeps a broken run from hanging forever
            return real(*args)
        finally:
            with lock:
                inside.pop()

    monkeypatch.setattr(analysis_tactical, "knox_test", held)
    params: dict[str, str | int] = {"start": "2026-11-01", "end": "2026-12-01", "permutations": 19}
    headers = served.auth("chief-a")
    n = analysis_tactical.KNOX_WAITING + 2  # one runs, KNOX_WAITING wait, one is too many
    tasks = [
        asyncio.ensure_future(
            served.client.get("/v1/analysis/near-repeat", params=params, headers=headers)
        )
        for _ in range(n)
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED, timeout=120)
        assert len(done) == 1, "a request beyond the queue must be answered at once"
        busy = next(iter(done)).result()
        assert busy.status_code == 429 and busy.json()["error"]["code"] == "busy"
        assert busy.json()["error"]["details"]["reason"] == "near_repeat_tests"
        assert int(busy.headers["retry-after"]) >= 1
        check(busy, "/v1/analysis/near-repeat", "get")
        for _ in range(12_000):  # until the running one is in its thread (a bound, not a timing)
            if inside:
                break
            await asyncio.sleep(0.01)
        assert peak[0] == 1  # one worker thread in use, however many wait
    finally:
        release.set()
    answers = await asyncio.gather(*tasks)
    assert sorted(a.status_code for a in answers) == [200] * (n - 1) + [429]
    assert peak[0] == 1
