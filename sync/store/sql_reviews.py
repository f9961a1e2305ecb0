"""Chiefs' reviews of conflicts in SQL (``conflict_review``), written with their audit event.

One review per conflict: the primary key is the conflict's id, so two chiefs (or one double
click) reviewing the same conflict at once store one review, and the second is told so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.store import sql_tables as t
from sync.store.records import AuditEvent, ConflictReview
from sync.store.sql_admin import audit_values
from sync.store.sql_rows import dialect_insert


async def add_conflict_review(
    engine: AsyncEngine, is_sqlite: bool, review: ConflictReview, audit: AuditEvent
) -> bool:
    stmt = dialect_insert(is_sqlite, t.conflict_review).values(**asdict(review))
    stmt = stmt.on_conflict_do_nothing(index_elements=["conflict_id"])
    async with engine.begin() as conn:
        if (await conn.execute(stmt)).rowcount != 1:
            return False
        await conn.execute(insert(t.audit).values(**audit_values(audit)))
    return True


async def conflict_reviews(
    engine: AsyncEngine, conflict_ids: Sequence[int]
) -> dict[int, ConflictReview]:
    if not conflict_ids:
        return {}
    c = t.conflict_review.c
    query = select(t.conflict_review).where(c.conflict_id.in_(list(conflict_ids)))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {
        r.conflict_id: ConflictReview(
            r.conflict_id, r.officer_id, r.device_id, r.reviewed_ms, r.choice, r.seq
        )
        for r in rows
    }
