"""Work shared across workers and hosts in SQL: analysis results and leases.

A lease is taken with one statement (an upsert that only overwrites an expired lease or one
the caller already holds), so it needs no session state and works through PgBouncer in
transaction mode as well as on SQLite.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.store import sql_tables as t
from sync.store.sql_rows import dialect_insert

STALE_LEASE_MS = 3_600_000
# A stored result nobody computed again for this long goes: every distinct question (window,
# categories, stations...) leaves a row, and without this they piled up forever. A worker that
# still wants one recomputes it.
RESULT_RETENTION_MS = 86_400_000


async def analysis_result(engine: AsyncEngine, key: str, seq: int) -> bytes | None:
    stmt = select(t.analysis_result.c.body).where(
        t.analysis_result.c.key == key, t.analysis_result.c.seq == seq
    )
    async with engine.connect() as conn:
        body = (await conn.execute(stmt)).scalar_one_or_none()
    return None if body is None else bytes(body)


async def put_analysis_result(
    engine: AsyncEngine, is_sqlite: bool, key: str, seq: int, body: bytes, now_ms: int
) -> None:
    """Keep the result for ``seq``; older results of the same question are dropped, and so
    are results of any question computed more than ``RESULT_RETENTION_MS`` ago."""
    table = t.analysis_result
    stmt = dialect_insert(is_sqlite, table).values(key=key, seq=seq, computed_ms=now_ms, body=body)
    async with engine.begin() as conn:
        await conn.execute(stmt.on_conflict_do_nothing(index_elements=["key", "seq"]))
        await conn.execute(delete(table).where(table.c.key == key, table.c.seq < seq))
        await conn.execute(delete(table).where(table.c.computed_ms < now_ms - RESULT_RETENTION_MS))
        # Leases of workers that died holding them, long expired (names carry a sequence
        # number, so they are never taken again).
        await conn.execute(delete(t.lease).where(t.lease.c.expires_ms < now_ms - STALE_LEASE_MS))


async def take_lease(
    engine: AsyncEngine, is_sqlite: bool, name: str, holder: str, now_ms: int, ttl_ms: int
) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``now_ms + ttl_ms``; False when
    someone else holds it and it has not expired."""
    table = t.lease
    stmt = dialect_insert(is_sqlite, table).values(
        name=name, holder=holder, expires_ms=now_ms + ttl_ms
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": stmt.excluded.holder, "expires_ms": stmt.excluded.expires_ms},
        where=or_(table.c.holder == holder, table.c.expires_ms < now_ms),
    )
    async with engine.begin() as conn:
        return bool((await conn.execute(stmt)).rowcount == 1)


async def drop_lease(engine: AsyncEngine, name: str, holder: str) -> None:
    table = t.lease
    async with engine.begin() as conn:
        await conn.execute(
            delete(table).where(and_(table.c.name == name, table.c.holder == holder))
        )
