"""The ``attachment`` table: which blobs have arrived, what they are, who sent them.

Functions over the SQL store's engine (as ``sync/store/sql_throttle.py`` does), so the
attachment feature adds no methods to the ``Store`` port.

On SQLite the table is read and written with plain ``sqlite3`` connections
(``SQLiteAccess``), as the store itself does for its token lookups and pushes: through
SQLAlchemy and aiosqlite each statement of an upload (BEGIN, INSERT, COMMIT, each read) was a
round trip to aiosqlite's thread and back to the event loop, and those statements were a
good part of the server's CPU per upload (docs/benchmarks.md, "Attachments"). Reads are
index lookups of microseconds and run on the event loop; a write runs in a thread of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.store import sql_tables as t
from sync.store.driver_errors import is_unavailable, translated, unavailable
from sync.store.records import StoredRecord
from sync.store.sql_rows import dialect_insert, stored_from_row
from sync.store.sqlite_unit import LOAD_SQL

COLUMNS = (
    "sha256", "size", "media_type", "declared_type", "device_id", "officer_id", "station_id",
    "received_ms", "quarantined_ms",
)  # fmt: skip
SELECT_SQL = f"SELECT {', '.join(COLUMNS)} FROM attachment WHERE sha256 IN ({{}})"
INSERT_SQL = (
    f"INSERT INTO attachment ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    # The same bytes again (after a quarantine, say) restore the blob: no longer quarantined.
    " ON CONFLICT (sha256) DO UPDATE SET quarantined_ms = NULL"
)
QUARANTINE_SQL = "UPDATE attachment SET quarantined_ms = ? WHERE sha256 = ?"
BIND_SQL = (
    "INSERT INTO attachment_use (sha256, collection, record_id, officer_id, bound_ms)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256, collection, record_id) DO NOTHING"
)
USES_SQL = "SELECT sha256, collection, record_id FROM attachment_use WHERE sha256 IN ({})"
BYTES_SQL = "SELECT COALESCE(SUM(size), 0) FROM attachment WHERE device_id = ? AND received_ms >= ?"
BUSY_TIMEOUT_MS = 10_000
HASHES_PER_QUERY = 500  # well below SQLite's parameter limit


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


Use = tuple[str, str, str]  # (collection, record_id, sha256): a file named by a record


def delivered(meta: AttachmentMeta, collection: str, author: str, bound: bool) -> bool:
    """Whether a record may serve a held blob: its bytes were sent for that record (``bound``)
    or by the record's author. A hash alone proves nothing: any officer sees the hashes of
    the station's files in a pull, and naming one in a record of their own must not hand out
    the file (the uploader's pii photo, another station's PDF). A notice serves only its
    poster's upload, whatever was sent for it (a notice is shown to the whole station)."""
    if collection == "notices":
        return meta.officer_id == author
    return bound or meta.officer_id == author


class SQLiteAccess:
    """Two plain connections to the store's SQLite file: one that only reads, used on the
    event loop, and one that writes, used from its own thread. ``wrote`` is called after each
    commit (the store's WAL checkpointer: the log is checkpointed by nobody else)."""

    def __init__(self, path: str, synchronous: str, wrote: Callable[[], None]) -> None:
        self.wrote = wrote
        self.reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.reader.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.reader.execute("PRAGMA query_only=ON")
        self.writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.writer.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.writer.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="ronda-attachment-index")
        self._lock = threading.Lock()
        self._queue: list[tuple[str, tuple[Any, ...], asyncio.Future[None]]] = []

    def read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        # A locked or lost file is 503 store_unavailable, as elsewhere; bad SQL stays a bug.
        with translated():
            return self.reader.execute(sql, params).fetchall()

    def record(self, collection: str, record_id: str) -> StoredRecord | None:
        """The record an upload names (the store's ``record``, without the thread hops)."""
        rows = self.read(LOAD_SQL.format("?"), (collection, record_id))
        return stored_from_row(rows[0]) if rows else None

    async def write(self, sql: str, params: tuple[Any, ...]) -> None:
        """Run one write statement and commit it. Writes that arrive while the thread is busy
        are committed together (one fsync of the log for all: 16 uploads ending together cost
        16 commits one after another, 40-60 ms here, where one commit of 16 rows costs 2)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._queue.append((sql, params, done))
            first = len(self._queue) == 1
        if first:  # else a batch already waiting for the thread will take this one too
            loop.run_in_executor(self.thread, self._write_queued, loop)
        await done
        self.wrote()

    def _write_queued(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        outcomes: list[BaseException | None]
        try:
            self._commit([(sql, params) for sql, params, _ in batch])
            outcomes = [None] * len(batch)
        except Exception as exc:
            if is_unavailable(exc):  # the database, not a row: every write fails, none retried
                outcomes = [unavailable(exc) for _ in batch]  # one each: raised in each caller
            else:  # one of them failed: each alone, so only it fails
                outcomes = [self._commit_alone(sql, params) for sql, params, _ in batch]
        for (_, _, done), outcome in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, done, outcome)

    def _commit_alone(self, sql: str, params: tuple[Any, ...]) -> Exception | None:
        try:
            self._commit([(sql, params)])
            return None
        except Exception as exc:
            return unavailable(exc) if is_unavailable(exc) else exc

    def _commit(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        conn = self.writer
        conn.execute("BEGIN IMMEDIATE")  # waits (busy timeout) for any other writer
        try:
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk, say)
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.thread.shutdown(wait=True)
        self.reader.close()
        self.writer.close()


async def marked(engine: AsyncEngine, hashes: Iterable[str]) -> set[str]:
    """``AttachmentIndex.marked`` on any engine (retention reads it too)."""
    wanted = sorted(set(hashes))
    out: set[str] = set()
    if not wanted:
        return out
    m = t.attachment_mark.c
    async with engine.connect() as conn:
        for part in _parts(wanted):
            query = select(m.sha256).distinct().where(m.sha256.in_(part))
            out.update(r[0] for r in (await conn.execute(query)).all())
    return out


def as_marked(ref: dict[str, Any], marked: set[str]) -> dict[str, Any]:
    """The reference with ``pii`` as the server applies it: true if a record ever named that
    file as personal data (``marked``: what ``marked`` answered for its hashes)."""
    if ref.get("pii") is not True and ref.get("sha256") in marked:
        return {**ref, "pii": True}
    return ref


def _parts(wanted: list[str]) -> Iterable[tuple[str, ...]]:
    """``wanted`` in runs of at most ``HASHES_PER_QUERY``, one query each."""
    for i in range(0, len(wanted), HASHES_PER_QUERY):
        yield tuple(wanted[i : i + HASHES_PER_QUERY])


def _settle(done: asyncio.Future[None], outcome: BaseException | None) -> None:
    if done.done():  # its request was cancelled meanwhile
        return
    if outcome is None:
        done.set_result(None)
    else:
        done.set_exception(outcome)


class AttachmentIndex:
    def __init__(self, engine: AsyncEngine, sqlite: SQLiteAccess | None = None) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.sqlite = sqlite

    def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()

    async def add(self, meta: AttachmentMeta) -> None:
        """Record a received blob (a second receipt of the same bytes changes nothing)."""
        if self.sqlite is not None:
            await self.sqlite.write(INSERT_SQL, tuple(getattr(meta, k) for k in COLUMNS))
            return
        values = {k: getattr(meta, k) for k in AttachmentMeta.__slots__}
        stmt = dialect_insert(self.is_sqlite, t.attachment).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=["sha256"], set_={"quarantined_ms": None})
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    async def get(self, sha256: str) -> AttachmentMeta | None:
        if self.sqlite is not None:
            rows = self.sqlite.read(SELECT_SQL.format("?"), (sha256,))
            return AttachmentMeta(*rows[0]) if rows else None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.attachment).where(t.attachment.c.sha256 == sha256))
            ).first()
        return None if row is None else AttachmentMeta(**row._mapping)

    async def many(self, hashes: Iterable[str]) -> dict[str, AttachmentMeta]:
        wanted = sorted(set(hashes))
        if not wanted:
            return {}
        if self.sqlite is not None:
            out = {}
            for part in _parts(wanted):
                for row in self.sqlite.read(SELECT_SQL.format(",".join("?" * len(part))), part):
                    out[row[0]] = AttachmentMeta(*row)
            return out
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(t.attachment).where(t.attachment.c.sha256.in_(wanted)))
            ).all()
        return {r.sha256: AttachmentMeta(**r._mapping) for r in rows}

    async def bind(
        self, sha256: str, collection: str, record_id: str, officer_id: str, at_ms: int
    ) -> None:
        """The bytes of ``sha256`` were delivered for this record (see ``delivered``)."""
        params = (sha256, collection, record_id, officer_id, at_ms)
        if self.sqlite is not None:
            await self.sqlite.write(BIND_SQL, params)
            return
        stmt = dialect_insert(self.is_sqlite, t.attachment_use).values(
            sha256=sha256, collection=collection, record_id=record_id,
            officer_id=officer_id, bound_ms=at_ms,
        )  # fmt: skip
        async with self.engine.begin() as conn:
            await conn.execute(stmt.on_conflict_do_nothing())

    async def uses(self, hashes: Iterable[str]) -> set[Use]:
        """Every (collection, record_id, sha256) the bytes of these hashes were sent for."""
        wanted = sorted(set(hashes))
        if not wanted:
            return set()
        if self.sqlite is not None:
            out: set[Use] = set()
            for part in _parts(wanted):
                for sha, collection, record_id in self.sqlite.read(
                    USES_SQL.format(",".join("?" * len(part))), part
                ):
                    out.add((collection, record_id, sha))
            return out
        c = t.attachment_use.c
        query = select(c.collection, c.record_id, c.sha256).where(c.sha256.in_(wanted))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {(r[0], r[1], r[2]) for r in rows}

    async def held_for(
        self, named: Iterable[tuple[str, str, str, str]]
    ) -> dict[Use, AttachmentMeta]:
        """Of the files named ``(collection, record_id, author, sha256)``, those held and
        delivered for their record (``delivered``), by ``(collection, record_id, sha256)``;
        a file not in the answer is, for that record, not received."""
        named = list(named)
        hashes = [sha for *_, sha in named]
        held = await self.many(hashes)
        if not held:
            return {}
        bound = await self.uses(held)
        out = {}
        for collection, record_id, author, sha in named:
            meta = held.get(sha)
            use = (collection, record_id, sha)
            if meta is not None and delivered(meta, collection, author, use in bound):
                out[use] = meta
        return out

    async def held_by_hash(
        self, named: Iterable[tuple[str, str, str, str]]
    ) -> dict[str, AttachmentMeta]:
        """``held_for`` by hash: a file counts as arrived if it arrived for one of the records
        naming it (a pull page's ``attachments``, a chain's report, one record's detail)."""
        return {sha: meta for (_, _, sha), meta in (await self.held_for(named)).items()}

    async def marked(self, hashes: Iterable[str]) -> set[str]:
        """Of these files, those a record has ever named as personal data
        (``attachment_mark``): personal data in every record, whatever its reference says."""
        return await marked(self.engine, hashes)

    async def forget(self, hashes: Iterable[str]) -> None:
        """These blobs are gone for good (retention): their rows and every use of them."""
        wanted = sorted(set(hashes))
        if not wanted:
            return
        async with self.engine.begin() as conn:
            for part in _parts(wanted):
                await conn.execute(
                    delete(t.attachment_use).where(t.attachment_use.c.sha256.in_(part))
                )
                await conn.execute(
                    delete(t.attachment_mark).where(t.attachment_mark.c.sha256.in_(part))
                )
                await conn.execute(delete(t.attachment).where(t.attachment.c.sha256.in_(part)))

    async def quarantined(self, sha256: str, at_ms: int) -> None:
        if self.sqlite is not None:
            await self.sqlite.write(QUARANTINE_SQL, (at_ms, sha256))
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.attachment)
                .where(t.attachment.c.sha256 == sha256)
                .values(quarantined_ms=at_ms)
            )

    async def bytes_since(self, device_id: str, since_ms: int) -> int:
        """Bytes of the blobs this device delivered since ``since_ms`` (the daily cap)."""
        if self.sqlite is not None:
            return int(self.sqlite.read(BYTES_SQL, (device_id, since_ms))[0][0])
        c = t.attachment.c
        query = select(func.coalesce(func.sum(c.size), 0)).where(
            c.device_id == device_id, c.received_ms >= since_ms
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())
