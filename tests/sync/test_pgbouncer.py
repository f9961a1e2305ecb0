"""The storage contract through PgBouncer in transaction mode (issue 16, acceptance 2).

The store is opened with ``pgbouncer=True`` (RONDA_DATABASE__PGBOUNCER), as docs/operations.md
says to; PgBouncer hands each transaction a different server connection in turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from sync.store.contract import CHECKS, Check
from sync.store.sql import SQLStore
from tests import pgbouncer
from tests.support import PG_URL, reset_postgres

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="RONDA_TEST_PG_URL is not set"),
    pytest.mark.skipif(not pgbouncer.available(), reason="pgbouncer is not installed"),
]


@pytest.fixture(scope="module")
def bouncer_url() -> Iterator[str]:
    assert PG_URL
    with pgbouncer.pgbouncer(PG_URL) as url:
        yield url


@pytest.fixture
async def bounced_store(bouncer_url: str) -> AsyncIterator[SQLStore]:
    assert PG_URL
    await reset_postgres(PG_URL)  # straight to PostgreSQL: DDL needs no pooler
    store = SQLStore(bouncer_url, pgbouncer=True, pool_size=3)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_contract_through_pgbouncer(bounced_store: SQLStore, check: Check) -> None:
    await check(bounced_store)


def test_without_the_setting_prepared_statements_break(bouncer_url: str) -> None:
    """The setting is needed: with asyncpg's defaults, a statement prepared on one server
    connection is looked for on another. (If this ever passes, PgBouncer or asyncpg learned
    to carry prepared statements, and the docs' advice can be relaxed.)"""

    async def run() -> None:
        assert PG_URL
        for check in CHECKS:
            await reset_postgres(PG_URL)
            store = SQLStore(bouncer_url, pool_size=3)
            try:
                await store.open()
                await check(store)
            finally:
                await store.close()

    with pytest.raises(Exception, match=r"prepared statement .* does not exist"):
        asyncio.run(run())
