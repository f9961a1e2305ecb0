"""Every 429 ``busy`` says why and stretches its ``Retry-After`` (docs/protocol.md,
"Transport"): the snapshot slots and the wake-up long-poll's waiters answered a fixed 5 with no
``details.reason``, so the phones they shed came back together."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from server.context import AppContext
from server.settings import Settings, SyncSettings
from tests.server.conftest import Served


class Top:
    """An rng that always draws the top of its range: the stretch at its longest."""

    def random(self) -> float:
        return 0.999


@pytest.fixture
def app_settings() -> Settings:
    return Settings(
        _env_file=None,
        sync=SyncSettings(snapshot_streams=1, wait_waiters=1, busy_retry_after_s=5),
    )


def stretched(served: Served) -> AppContext:
    context: AppContext = served.app.state.ctx
    context.rng = Top()  # type: ignore[assignment]
    return context


def assert_busy(answer: httpx.Response, reason: str) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["Retry-After"] == "8"  # 5 s stretched by 49.95 %, rounded up
    error = answer.json()["error"]
    assert error["code"] == "busy"
    assert error["details"] == {"retry_after_s": 8, "reason": reason}


async def test_a_full_snapshot_slot_sheds_stretched_and_says_why(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    context = stretched(served)
    context.snapshots = 1  # another phone's stream holds the worker's one slot
    answer = await app_client.get("/v1/sync/snapshot", headers=served.auth("off-a"))
    assert_busy(answer, "snapshot_streams")
    context.snapshots = 0
    assert (await app_client.get("/v1/sync/snapshot", headers=served.auth("off-a"))).is_success


async def test_a_full_wake_up_sheds_stretched_and_says_why(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    stretched(served)
    headers = served.auth("off-a")
    cursor = (await app_client.get("/v1/sync/pull", headers=headers)).json()["cursor"]
    params = {"cursor": cursor, "timeout_s": 1}
    held = asyncio.create_task(app_client.get("/v1/sync/wait", params=params, headers=headers))
    while getattr(getattr(served.app.state, "wake", None), "waiting", 0) < 1:
        await asyncio.sleep(0.01)  # until the worker holds its one waiter
    answer = await app_client.get("/v1/sync/wait", params=params, headers=served.auth("chief-a"))
    assert_busy(answer, "wait_waiters")
    assert (await held).json()["changed"] is False
