"""The chain index holds patrol-log entries only, in new databases and in upgraded ones."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.errors import SchemaOutdated
from sync.store.base import Store
from sync.store.sql import SQLStore
from tests.support import People, batch, incident, log_entry, new_id


async def index_definition(store: SQLStore) -> str:
    if store.is_sqlite:
        query = "SELECT sql FROM sqlite_master WHERE name = 'ix_record_chain'"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_record_chain'"
    async with store.engine.connect() as conn:
        return str((await conn.execute(text(query))).scalar_one())


async def test_an_old_full_index_is_made_partial_by_the_upgrade(store: Store) -> None:
    """A database from before b4f0c94 (and before migrations) gets the partial index when it
    is upgraded (migration 0001_baseline adopts it); nothing rebuilds it behind the upgrade's
    back on a plain open."""
    assert isinstance(store, SQLStore)
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP INDEX ix_record_chain"))
        await conn.execute(text("CREATE INDEX ix_record_chain ON record (author_device, chain_n)"))
        await conn.execute(text("DROP TABLE alembic_version"))
    assert "WHERE" not in (await index_definition(store)).upper()
    await store.close()
    with pytest.raises(SchemaOutdated):
        await store.open()
    store.upgrade = True
    await store.open()
    assert "chain_n IS NOT NULL" in (await index_definition(store))


async def test_the_chain_is_read_through_the_index(
    store: Store, engine: SyncEngine, people: People
) -> None:
    clock = HybridClock()
    device = people.officer_a.device_id
    entries, previous = [], ""
    for n in range(1, 4):
        entries.append(log_entry(device, n, previous, clock))
        previous = entries[-1]["hash"]
    await engine.push(people.officer_a, batch([*entries, incident(new_id(), clock)]))
    chain = await store.chain(people.officer_a.device_id)
    assert [r.chain_n for r in chain] == [1, 2, 3]
    assert isinstance(store, SQLStore)
    if store.is_sqlite:
        async with store.engine.connect() as conn:
            plan = (
                await conn.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT id FROM record WHERE collection = 'patrol_logs'"
                        " AND author_device = 'd' AND chain_n IS NOT NULL ORDER BY chain_n"
                    )
                )
            ).all()
        assert "ix_record_chain" in " ".join(str(row) for row in plan)
