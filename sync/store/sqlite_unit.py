"""The SQLite push unit: one plain sqlite3 connection, written from a thread of its own.

Why not the SQLAlchemy connection like everything else: through aiosqlite every statement is
a round trip to a thread and back to the event loop, and under load the way back waits behind
every request the loop is validating (measured: 50-80 ms for a ``BEGIN``).  Here a unit reads
on the event loop (replay, records, chain head: index lookups of microseconds), keeps what it
writes in memory (later pushes of the same group read it from there), and hands all of it to
the writer thread at the end, statements and ``COMMIT`` in one call.  While SQLite works there,
the loop validates the next pushes.  Rows go in as multi-row ``VALUES``: sqlite3's
``executemany`` releases and retakes the GIL for every row, and each retake can wait for the
busy event loop.

Only one unit is open at a time (the store's write lock), and ``BEGIN IMMEDIATE`` holds off
other processes, so what the unit reads stays true until it commits.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sync.store.records import ChainHead, StoredAnswer, StoredRecord
from sync.store.sql_rows import (
    INSERT_ANSWER,
    INSERT_CONFLICT,
    INSERT_MARK,
    INSERT_RECORD,
    INSERT_TRACK,
    REPLACE_RECORD,
    UPSERT_HEAD,
    UPSERT_POINT,
    answer_tuple,
    conflict_tuple,
    head_tuple,
    insert_tuple,
    multirow,
    point_tuple,
    stored_from_row,
    track_tuple,
)
from sync.store.sqlite_wal import BUSY_TIMEOUT_MS, WalCheckpointer, set_wal_pragmas
from sync.store.unit_buffer import BufferedUnit

T = TypeVar("T")

LOAD_SQL = (
    "SELECT collection, id, station_id, seq, deleted, doc, clocks, pii, author_officer,"
    " author_device, chain_n FROM record WHERE collection = ? AND id IN ({})"
)
# The keys as a table joined to the primary key (CROSS JOIN keeps that order): the plainer
# ``(device_id, batch_id) IN (VALUES ...)`` scans the whole table in SQLite 3.40.
ANSWERS_SQL = (
    "SELECT a.device_id, a.batch_id, a.request_hash, a.answer, a.created_ms"
    " FROM (VALUES {}) AS k CROSS JOIN batch_answer AS a"
    " ON a.device_id = k.column1 AND a.batch_id = k.column2"
)
HEADS_SQL = "SELECT device_id, n, hash FROM chain_head WHERE device_id IN ({})"
# SQLite's limit on parameters in one statement is 32,766.
IDS_PER_QUERY = 30_000


class SQLiteWriter:
    """The writing connection and its thread."""

    def __init__(
        self, path: str, synchronous: str, cache_mb: int, checkpointer: WalCheckpointer
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self.cache_mb = cache_mb
        self.checkpointer = checkpointer
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ronda-writer")
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._conn = await self.run(self._connect)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self.run(conn.close)
        self._thread.shutdown(wait=True)

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "the SQLite writer is not open"
        return self._conn

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[SQLitePushUnit]:
        """A transaction; the caller holds the store's write lock."""
        conn = self.conn
        if not _try_begin(conn):  # another process writes: wait for it off the loop
            await self.run(conn.execute, "BEGIN IMMEDIATE")
        unit = SQLitePushUnit(conn)
        try:
            yield unit
            await self.run(_flush_and_commit, conn, unit.statements())
        except BaseException:
            # Through the thread: after a cancellation it may still be running the flush.
            await asyncio.shield(self.run(_rollback, conn))
            raise
        self.checkpointer.wrote()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        set_wal_pragmas(conn.execute)
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        conn.execute(f"PRAGMA cache_size=-{self.cache_mb * 1024}")
        return conn


class SQLitePushUnit(BufferedUnit):
    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__()
        self.conn = conn

    async def _read_answers(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredAnswer]:
        out: dict[tuple[str, str], StoredAnswer] = {}
        for part in _parts(keys, IDS_PER_QUERY // 2):
            sql = ANSWERS_SQL.format(", ".join(["(?, ?)"] * len(part)))
            for row in self.conn.execute(sql, [v for key in part for v in key]):
                out[row[0], row[1]] = StoredAnswer(row[0], row[1], row[2], bytes(row[3]), row[4])
        return out

    async def _read_records(self, collection: str, ids: list[str]) -> dict[str, StoredRecord]:
        out: dict[str, StoredRecord] = {}
        for part in _parts(ids, IDS_PER_QUERY):
            sql = LOAD_SQL.format(", ".join("?" * len(part)))
            for row in self.conn.execute(sql, (collection, *part)):
                out[row[1]] = stored_from_row(row)
        return out

    async def _read_heads(self, device_ids: list[str]) -> dict[str, ChainHead]:
        out: dict[str, ChainHead] = {}
        for part in _parts(device_ids, IDS_PER_QUERY):
            sql = HEADS_SQL.format(", ".join("?" * len(part)))
            for row in self.conn.execute(sql, part):
                out[row[0]] = ChainHead(row[0], row[1], row[2])
        return out

    async def _read_counter(self) -> int:
        row = self.conn.execute("SELECT value FROM counter WHERE name = 'seq'").fetchone()
        return int(row[0])

    def statements(self) -> list[tuple[str, list[Any]]]:
        """Everything the unit wrote, as statements in order (built here, on the loop)."""
        writes = self._writes
        answers = [answer_tuple(a) for a in self._answers.values()]
        # In write order: a record created and then changed in one group is inserted, then
        # replaced (rows of one multi-row statement apply one after another).
        batches: list[tuple[str, list[tuple[Any, ...]]]] = [
            (INSERT_RECORD, [insert_tuple(w) for w in writes if w.is_new]),
            (REPLACE_RECORD, [insert_tuple(w) for w in writes if not w.is_new]),
            (INSERT_TRACK, [track_tuple(w.track) for w in writes if w.track]),
            (UPSERT_POINT, [point_tuple(w.point) for w in writes if w.point]),
            (INSERT_CONFLICT, [conflict_tuple(c) for c in self._conflicts]),
            (UPSERT_HEAD, [head_tuple(h) for h in self._heads.values()]),
            (INSERT_ANSWER, answers),
        ]
        if self._marks:
            batches.append((INSERT_MARK, self.mark_rows()))
        out = [pair for statement, rows in batches for pair in multirow(statement, rows)]
        if self._seq is not None:
            out.append(("UPDATE counter SET value = ? WHERE name = 'seq'", [self._seq]))
        return out


def _parts(items: list[T], size: int) -> list[list[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _try_begin(conn: sqlite3.Connection) -> bool:
    """``BEGIN IMMEDIATE`` on the loop if no other process holds the write lock right now."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        conn.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _flush_and_commit(conn: sqlite3.Connection, statements: list[tuple[str, list[Any]]]) -> None:
    for sql, values in statements:
        conn.execute(sql, values)
    conn.execute("COMMIT")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")
