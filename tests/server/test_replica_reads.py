"""Layers read through a replica (``RONDA_DATABASE__REPLICA_URL``) never show less than the
primary held when the cache was keyed (sync/store/replica.py).

The "replica" here is a second SQLite file that this test brings up to date with SQLite's
backup API, so that it is behind or caught up exactly when the test says: a layer read while
it is behind must come from the primary (it waits ``replica_wait_s``, then falls back), one
read once it has caught up comes from the replica. A replica that does not answer at all
(nothing listens on its port) leaves every read to the primary. The streaming replica of
Debian's PostgreSQL is in tests/server/test_cluster_hosts.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.settings import DatabaseSettings, Settings
from sync.clock import HybridClock
from sync.store.sql import SQLStore
from tests.server_process import free_port
from tests.support import batch, incident, new_id, seed_people

ITEMS = "/ogc/collections/incidents/items"
WINDOW: dict[str, str | int] = {"datetime": "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z", "limit": 1}


def catch_up(primary: Path, replica: Path) -> None:
    """Copy the primary's pages into the replica file, in place (its readers stay open)."""
    source, target = sqlite3.connect(primary), sqlite3.connect(replica)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


async def _served(
    tmp_path: Path, replica_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, dict[str, str]]]:
    primary = tmp_path / "primary.db"
    store = SQLStore(f"sqlite+aiosqlite:///{primary}")
    await store.open()
    try:
        tokens = (await seed_people(store)).tokens
    finally:
        await store.close()
    db = DatabaseSettings(
        url=f"sqlite+aiosqlite:///{primary}", replica_url=replica_url, replica_wait_s=0.05
    )
    settings = Settings(_env_file=None).model_copy(update={"database": db})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ronda") as client:
            yield client, app.state.ctx.reads, tokens


async def push(client: httpx.AsyncClient, token: str, n: int) -> None:
    clock = HybridClock()
    changes = [
        incident(
            new_id(),
            clock,
            {
                "category": "robo",
                "occurred_at": f"2026-10-{1 + i:02d}T12:00:00-05:00",
                "location": {"lon": -77.035 + i * 1e-4, "lat": -12.055, "accuracy_m": 10},
            },
        )
        for i in range(n)
    ]
    headers = {"Authorization": f"Bearer {token}"}
    answer = await client.post("/v1/sync/push", json=batch(changes), headers=headers)
    assert answer.json()["summary"]["applied"] == n, answer.text


async def matched(client: httpx.AsyncClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    answer = await client.get(ITEMS, params=WINDOW, headers=headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["numberMatched"])


@pytest.fixture
async def behind(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any, dict[str, str]]]:
    """Served with a replica file that starts as an empty database's copy."""
    replica = tmp_path / "replica.db"
    sqlite3.connect(replica).close()
    async for served in _served(tmp_path, f"sqlite+aiosqlite:///{replica}"):
        yield served


async def test_a_replica_behind_is_not_read_and_one_caught_up_is(
    behind: tuple[httpx.AsyncClient, Any, dict[str, str]], tmp_path: Path
) -> None:
    client, router, tokens = behind
    chief, officer = tokens["chief-a"], tokens["off-a"]
    catch_up(tmp_path / "primary.db", tmp_path / "replica.db")  # the seeded people
    await push(client, officer, 5)
    assert await matched(client, chief) == 5  # the replica holds none of them: the primary
    assert router.served["replica"] == 0 and router.served["primary"] > 0

    catch_up(tmp_path / "primary.db", tmp_path / "replica.db")
    await push(client, officer, 3)  # this worker's own commit: the replica is behind again
    assert await matched(client, chief) == 8
    assert router.served["replica"] == 0

    catch_up(tmp_path / "primary.db", tmp_path / "replica.db")
    await push(client, officer, 2)
    catch_up(tmp_path / "primary.db", tmp_path / "replica.db")  # replayed past the push
    primary = router.served["primary"]
    assert await matched(client, chief) == 10
    assert router.served["replica"] > 0 and router.served["primary"] == primary


async def test_a_replica_that_does_not_answer_leaves_reads_to_the_primary(tmp_path: Path) -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/ronda"
    async for client, router, tokens in _served(tmp_path, nowhere):
        await push(client, tokens["off-a"], 4)
        assert await matched(client, tokens["chief-a"]) == 4
        assert router.served["replica"] == 0 and router.served["primary"] > 0
