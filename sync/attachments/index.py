"""The ``attachment`` table: which blobs have arrived, what they are, who sent them.

Functions over the SQL store's engine (as ``sync/store/sql_throttle.py`` does), so the
attachment feature adds no methods to the ``Store`` port.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.store import sql_tables as t
from sync.store.sql_rows import dialect_insert


@dataclass(frozen=True, slots=True)
class AttachmentMeta:
    sha256: str
    size: int
    media_type: str
    declared_type: str
    device_id: str
    officer_id: str
    station_id: str
    received_ms: int
    quarantined_ms: int | None = None


class AttachmentIndex:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    async def add(self, meta: AttachmentMeta) -> None:
        """Record a received blob (a second receipt of the same bytes changes nothing)."""
        values = {k: getattr(meta, k) for k in AttachmentMeta.__slots__}
        stmt = dialect_insert(self.is_sqlite, t.attachment).values(**values)
        # The same bytes again (after a quarantine, say) restore the blob: no longer quarantined.
        stmt = stmt.on_conflict_do_update(index_elements=["sha256"], set_={"quarantined_ms": None})
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    async def get(self, sha256: str) -> AttachmentMeta | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.attachment).where(t.attachment.c.sha256 == sha256))
            ).first()
        return None if row is None else AttachmentMeta(**row._mapping)

    async def many(self, hashes: Iterable[str]) -> dict[str, AttachmentMeta]:
        wanted = sorted(set(hashes))
        if not wanted:
            return {}
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(t.attachment).where(t.attachment.c.sha256.in_(wanted)))
            ).all()
        return {r.sha256: AttachmentMeta(**r._mapping) for r in rows}

    async def quarantined(self, sha256: str, at_ms: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.attachment)
                .where(t.attachment.c.sha256 == sha256)
                .values(quarantined_ms=at_ms)
            )

    async def bytes_since(self, device_id: str, since_ms: int) -> int:
        """Bytes of the blobs this device delivered since ``since_ms`` (the daily cap)."""
        c = t.attachment.c
        query = select(func.coalesce(func.sum(c.size), 0)).where(
            c.device_id == device_id, c.received_ms >= since_ms
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())
