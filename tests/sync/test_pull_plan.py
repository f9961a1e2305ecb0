"""PostgreSQL plans the store's statements for their values, so a station's pull walks its
station's index whatever the data looks like.

asyncpg prepares every statement and PostgreSQL may keep a generic plan, made without the
values, after five runs of one.  On records of many stations interleaved, as pushes write
them, the generic plan of a station's pull walks the sequence index and throws away every
other station's rows (15-20 ms a pull in the load runs, against under 1).  The store's
connections ask for custom plans (``sync/store/sql_engine._plan_for_values``); the plans are asked
of the real server, with the statement the store runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from sync.identity import identify
from sync.store.contract.data import record_write
from sync.store.records import PullScope, WebSession
from sync.store.sql import SQLStore, pg_pull_sql
from sync.store.sql_unit import SQLPushUnit
from tests.support import PG_URL, open_store, seed_people

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (RONDA_TEST_PG_URL)")

STATIONS = [f"s{i:02}" for i in range(50)]
RECORDS = 40_000
ARGS = "false, true, 'o1', 0, 501, 's07'"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    async for opened in open_store("postgres", tmp_path):
        assert isinstance(opened, SQLStore)
        yield opened


async def _plans(store: SQLStore, mode: str | None) -> list[str]:
    """The plan of the pull's seventh run on one of the store's own connections (the sixth
    is where PostgreSQL starts to weigh a generic plan), with ``mode`` set if given."""
    async with store.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        if mode is not None:
            await driver.execute(f"SET plan_cache_mode = {mode}")
        await driver.execute(f"PREPARE pull AS {pg_pull_sql(1)}")
        for _ in range(6):
            await driver.execute(f"EXECUTE pull({ARGS})")
        rows = await driver.fetch(f"EXPLAIN EXECUTE pull({ARGS})")
        await driver.execute("DEALLOCATE pull")
        await driver.execute("RESET plan_cache_mode")
        return [row[0] for row in rows]


async def test_a_stations_pull_walks_its_station_index(store: SQLStore) -> None:
    async with store.push_unit() as unit:
        first = await unit.allocate(RECORDS)
        writes = [record_write(f"r{i}", first + i, STATIONS[i % 50]) for i in range(RECORDS)]
        await unit.save(writes, [], [], None)
    async with store.engine.connect() as conn:
        await conn.execute(text("ANALYZE record"))
        await conn.commit()
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == ("force_custom_plan")
    plan = "\n".join(await _plans(store, None))
    assert "ix_record_station_seq" in plan and "Filter" not in plan, plan
    # What the setting prevents, on the same data: the generic plan's walk and filter.
    generic = "\n".join(await _plans(store, "force_generic_plan"))
    assert "record_seq_key" in generic and "Filter" in generic, generic
    # And the store's pull answers from that statement: the station's records, in order.
    rows = await store.pull(PullScope(("s07",), "all", "o1"), 0, 1000)
    assert [r.seq for r in rows] == [first + i for i in range(7, RECORDS, 50)]
    two = await store.pull(PullScope(("s07", "s08"), "all", "o1"), 0, 2000)
    assert len(two) == 1600 and [r.seq for r in two] == sorted(r.seq for r in two)
    assert await store.pull(PullScope((), "all", "o1"), 0, 10) == []


async def test_a_new_connection_keeps_custom_plans_after_a_read_first(store: SQLStore) -> None:
    """The setting survives a connection whose first use only reads: such a use is rolled
    back when the pool takes the connection back, and a SET made in its transaction with
    it."""
    await store.engine.dispose()  # the next checkout opens a new connection
    assert await store.pull(PullScope(("s07",), "all", "o1"), 0, 10) == []  # a read, first
    async with store.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        assert await driver.fetchval("SHOW plan_cache_mode") == "force_custom_plan"


async def _prepared(conn: AsyncConnection) -> dict[str, tuple[int, int]]:
    """The statements prepared on ``conn``: their generic and custom plans so far."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    rows = await driver.fetch(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
    )
    return {r["statement"]: (r["generic_plans"], r["custom_plans"]) for r in rows}


async def test_the_token_lookup_and_the_push_unit_keep_one_plan(store: SQLStore) -> None:
    """Their best plan is the same whatever the values (a key, a list of keys), and planning
    the token lookup's join took longer than running it: they run on a second pool, where
    PostgreSQL keeps the plan it made once.  A pull is still planned for its values."""
    people = await seed_people(store)
    points = store.point_engine
    assert points is not None
    await store.add_session(WebSession("sh", "chief-a", "csrf", expires_ms=100))
    for now_ms in range(90, 98):  # one after another: one pooled connection serves them all
        assert await identify(store, people.tokens["off-a"]) == people.officer_a
        found = await store.session("sh", now_ms)
        assert found is not None and found[1].officer_id == "chief-a"
    assert await store.session("sh", 100) is None
    assert points.pool.checkedin() == 1  # type: ignore[attr-defined]
    async with points.connect() as conn:
        plans = await _prepared(conn)
    [(generic, custom)] = [n for sql, n in plans.items() if "FROM device" in sql]
    assert (generic, custom) == (3, 5), plans  # PostgreSQL weighs a generic plan after five
    [(generic, custom)] = [n for sql, n in plans.items() if "FROM web_session" in sql]
    assert (generic, custom) == (4, 5), plans
    async with store.push_unit() as unit:
        assert isinstance(unit, SQLPushUnit)
        mode = await unit.conn.exec_driver_sql("SHOW plan_cache_mode")
        assert mode.scalar() == "auto"
        unit_plans = await _prepared(unit.conn)
        assert any("token_hash" in sql for sql in unit_plans)  # the same pool
    await store.engine.dispose()  # the main pool's next checkout: a new connection
    scope = PullScope(("st-a",), "all", "off-a")
    for _ in range(8):
        assert await store.pull(scope, 0, 10) == []
    async with store.engine.connect() as conn:
        plans = await _prepared(conn)
    [(generic, custom)] = [n for sql, n in plans.items() if "FROM record WHERE seq" in sql]
    assert (generic, custom) == (0, 8), plans
    assert not any("token_hash" in sql for sql in plans)
