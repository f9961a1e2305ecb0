"""The PostgreSQL push unit: one push under the single-writer lock (SQLite has its own,
``sqlite_unit``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sync.store import sql_tables as t
from sync.store.base import ChainHead, Conflict, PushUnit, RecordWrite, StoredAnswer, StoredRecord
from sync.store.sql_rows import (
    INSERT_ANSWER,
    INSERT_CONFLICT,
    INSERT_RECORD,
    INSERT_TRACK,
    RECORD_COLUMNS,
    UPDATE_RECORD,
    UPSERT_HEAD,
    UPSERT_POINT,
    answer_tuple,
    conflict_tuple,
    head_tuple,
    insert_tuple,
    point_tuple,
    sql,
    stored_from_row,
    track_tuple,
    update_tuple,
)


class SQLPushUnit(PushUnit):
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock(self) -> None:
        # The counter row lock serialises writers, across processes too, until commit.
        await self.conn.execute(
            update(t.counter).where(t.counter.c.name == "seq").values(value=t.counter.c.value)
        )

    async def replay(self, device_id: str, batch_id: str) -> StoredAnswer | None:
        b = t.batch_answer.c
        row = (
            await self.conn.execute(
                select(t.batch_answer).where(b.device_id == device_id, b.batch_id == batch_id)
            )
        ).first()
        if row is None:
            return None
        return StoredAnswer(
            row.device_id, row.batch_id, row.request_hash, bytes(row.answer), row.created_ms
        )

    async def load(self, collection: str, ids: list[str]) -> dict[str, StoredRecord]:
        if not ids:
            return {}
        r = t.record.c
        query = select(*RECORD_COLUMNS).where(r.collection == collection, r.id.in_(ids))
        rows = (await self.conn.execute(query)).all()
        return {row.id: stored_from_row(row) for row in rows}

    async def chain_head(self, device_id: str) -> ChainHead | None:
        query = select(t.chain_head).where(t.chain_head.c.device_id == device_id)
        row = (await self.conn.execute(query)).first()
        return ChainHead(row.device_id, row.n, row.hash) if row else None

    async def allocate(self, count: int) -> int:
        result = await self.conn.execute(
            update(t.counter)
            .where(t.counter.c.name == "seq")
            .values(value=t.counter.c.value + count)
            .returning(t.counter.c.value)
        )
        return int(result.scalar_one()) - count + 1

    async def save(
        self,
        writes: list[RecordWrite],
        conflicts: list[Conflict],
        heads: list[ChainHead],
        answer: StoredAnswer | None,
    ) -> None:
        # Driver-level statements with tuples: Core's per-row dict processing was the
        # largest cost of a 500-change push.
        await self._many(INSERT_RECORD, [insert_tuple(w) for w in writes if w.is_new])
        await self._many(UPDATE_RECORD, [update_tuple(w) for w in writes if not w.is_new])
        await self._many(INSERT_TRACK, [track_tuple(w.track) for w in writes if w.track])
        await self._many(UPSERT_POINT, [point_tuple(w.point) for w in writes if w.point])
        await self._many(INSERT_CONFLICT, [conflict_tuple(c) for c in conflicts])
        await self._many(UPSERT_HEAD, [head_tuple(h) for h in heads])
        if answer is not None:
            await self._many(INSERT_ANSWER, [answer_tuple(answer)])

    async def _many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:  # asyncpg's executemany: one prepared statement, rows pipelined
            await self.conn.exec_driver_sql(sql(statement, False), rows)
