"""After PostgreSQL ends the store's connections (a restart, a failover, an administrator's
``pg_terminate_backend``), the store serves again by itself: a request may fail with
``StoreUnavailable`` (503) while the dead connections are found, never for long.

The hot reads (the token and session lookups, the pull) run on asyncpg itself, past
SQLAlchemy's error handling, so a connection that died under them must still be thrown away
rather than handed out again; on the pool that plans once (``make_point_engine``) no other
statement would find it dead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sync.errors import StoreUnavailable
from sync.identity import identify
from sync.store.contract.data import record_write
from sync.store.records import PullScope, WebSession
from sync.store.sql import SQLStore
from tests.support import PG_URL, open_store, seed_people

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (RONDA_TEST_PG_URL)")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    async for opened in open_store("postgres", tmp_path):
        assert isinstance(opened, SQLStore)
        yield opened


async def _end_every_connection() -> int:
    """Terminate every other backend on the test database, as a restart would."""
    assert PG_URL
    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        ended = await conn.fetch(
            # With a timeout, each call waits until the backend has exited.
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return len(ended)


async def _failures_until_served(call: Callable[[], Awaitable[Any]], tries: int = 20) -> int:
    """How many calls failed with StoreUnavailable before one was served."""
    for failed in range(tries):
        try:
            await call()
        except StoreUnavailable:
            continue
        return failed
    raise AssertionError(f"still unavailable after {tries} calls")


async def test_the_lookups_and_the_pull_serve_again_after_the_connections_end(
    store: SQLStore,
) -> None:
    people = await seed_people(store)
    await store.add_session(WebSession("sh", "chief-a", "csrf", expires_ms=10**15))
    scope = PullScope(("st-a",), "all", "off-a")

    async def token() -> None:
        assert await identify(store, people.tokens["off-a"]) == people.officer_a

    async def session() -> None:
        assert await store.session("sh", 0) is not None

    async def pull() -> None:
        await store.pull(scope, 0, 10)

    async def push() -> None:
        async with store.push_unit() as unit:
            first = await unit.allocate(1)
            await unit.save([record_write(f"r{first}", first, "st-a")], [], [], None)

    async def ping() -> None:  # a statement through SQLAlchemy (the readiness check's)
        await store.ping()

    calls = [ping, token, session, pull, push]
    # Every pool holds several idle connections, as under load.
    for _ in range(3):
        await asyncio.gather(*(call() for call in calls for _ in range(4)))
    # (pushes queue for the write lock: one point connection; lookups take the others)
    assert await _end_every_connection() >= 2
    most = store.engine.pool.size()  # type: ignore[attr-defined]
    for call in calls:
        # Each dead connection may fail one call, then it is gone for good: the lookups'
        # pool is renewed by the token lookup's failures alone, the main pool by the ping's
        # (SQLAlchemy drops the whole pool at a disconnect) or the pull's.
        assert await _failures_until_served(call) <= most, call.__name__
    for _ in range(10):  # and every later call is served, whichever connection it gets
        for call in calls:
            await call()
