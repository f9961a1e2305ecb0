"""Failed web sign-ins in SQL (``login_throttle``): counted per key, forgotten when stale.

A key is an (officer, address) pair, an officer id or a client address (``LoginKey``). The
server turns counts into waits (server/web/throttle.py); the store only counts, atomically:
one upsert per key, ``failures + 1`` inside the statement, so concurrent failures never
undercount.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.store import sql_tables as t
from sync.store.records import LoginKey
from sync.store.sql_rows import dialect_insert


def _match(keys: Sequence[LoginKey]) -> object:
    c = t.login_throttle.c
    return or_(
        *(
            and_(c.kind == k.kind, c.officer_id == k.officer_id, c.address == k.address)
            for k in keys
        )
    )


async def login_failures(
    engine: AsyncEngine, keys: Sequence[LoginKey], since_ms: int
) -> dict[LoginKey, tuple[int, int]]:
    if not keys:
        return {}
    c = t.login_throttle.c
    query = select(t.login_throttle).where(_match(keys), c.last_ms >= since_ms)  # type: ignore[arg-type]
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {LoginKey(r.kind, r.officer_id, r.address): (r.failures, r.last_ms) for r in rows}


async def add_login_failure(
    engine: AsyncEngine, is_sqlite: bool, keys: Sequence[LoginKey], now_ms: int, since_ms: int
) -> None:
    table, c = t.login_throttle, t.login_throttle.c
    async with engine.begin() as conn:
        # Stale counts go first, so a key failing again after a quiet period starts at 1.
        await conn.execute(delete(table).where(c.last_ms < since_ms))
        for k in keys:
            stmt = dialect_insert(is_sqlite, table).values(
                kind=k.kind, officer_id=k.officer_id, address=k.address, failures=1, last_ms=now_ms
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["kind", "officer_id", "address"],
                set_={"failures": c.failures + 1, "last_ms": now_ms},
            )
            await conn.execute(stmt)


async def clear_login_failures(engine: AsyncEngine, officer_id: str, address: str | None) -> None:
    c = t.login_throttle.c
    pair = c.kind == "pair"
    if address is not None:
        pair = and_(pair, c.address == address)
    mine = and_(c.officer_id == officer_id, or_(c.kind == "officer", pair))
    async with engine.begin() as conn:
        await conn.execute(delete(t.login_throttle).where(mine))
