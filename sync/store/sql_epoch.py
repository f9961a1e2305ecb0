"""The database's epoch and the pull-cursor state, kept as rows of the ``counter`` table.

``counter`` holds ``seq`` (the last sequence number given), ``epoch`` (random, replaced after a
restore) and, on a database that had records when it got its first epoch, ``legacy_seq`` (the
last sequence number of that moment: plain-number cursors of older servers are accepted up to
it).  Rows, not columns: no schema change, and a backup carries them like any other data.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sync.cursor import new_epoch
from sync.errors import StoreUnavailable
from sync.store import sql_tables as t
from sync.store.records import SyncState
from sync.store.sql_rows import dialect_insert

STATE_SQL = "SELECT name, value FROM counter WHERE name IN ('seq', 'epoch', 'legacy_seq')"


async def ensure_epoch(conn: AsyncConnection, is_sqlite: bool) -> None:
    """Give a database without an epoch its first one (inside the opening transaction).

    A database that already has records was made by a server that gave plain-number cursors:
    its last sequence number becomes the legacy bound.  Two processes opening at once insert
    one epoch between them (the loser's insert does nothing)."""
    stmt = dialect_insert(is_sqlite, t.counter).values(name="epoch", value=new_epoch())
    made = await conn.execute(stmt.on_conflict_do_nothing().returning(t.counter.c.name))
    if made.first() is None:
        return
    seq = t.counter.c.value
    last = (await conn.execute(select(seq).where(t.counter.c.name == "seq"))).scalar()
    if last:
        legacy = dialect_insert(is_sqlite, t.counter).values(name="legacy_seq", value=last)
        await conn.execute(legacy.on_conflict_do_nothing())


async def replace_epoch(conn: AsyncConnection, is_sqlite: bool, epoch: int) -> None:
    """Set a new epoch and drop the legacy bound: every cursor given before is refused."""
    stmt = dialect_insert(is_sqlite, t.counter).values(name="epoch", value=epoch)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": epoch}))
    await conn.execute(delete(t.counter).where(t.counter.c.name == "legacy_seq"))


def state_from_rows(rows: list[tuple[str, int]] | list[sqlite3.Row]) -> SyncState:
    values = {str(name): int(value) for name, value in rows}
    if "epoch" not in values:
        # open() gives every database one; a missing row means the table was edited by hand.
        raise StoreUnavailable("the database has no epoch: run `ronda new-epoch`")
    return SyncState(values["epoch"], values.get("seq", 0), values.get("legacy_seq"))


__all__ = ["STATE_SQL", "ensure_epoch", "replace_epoch", "state_from_rows"]
