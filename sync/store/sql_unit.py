"""The PostgreSQL push unit: reads through asyncpg, writes once at the end, as arrays.

A unit (a group of pushes) used to write each push's rows as it was applied, through
``executemany``: one statement execution per row, and a round trip per push and table.  On
this machine that made 1,700-3,000 new incidents/s and 700-1,400 merges/s (docs/benchmarks.md).
Now the unit keeps its writes in memory (``unit_buffer``) and writes each table once, at the
end, as one ``INSERT ... SELECT * FROM unnest($1::text[], ...)`` (or ``UPDATE ... FROM
unnest(...)``), all of them in one statement (``WITH`` parts) for a usual group, or by COPY
for a large one.

The counter row's lock, taken when the unit opens, serialises writers across processes until
commit (sequence order is commit order); so what the unit read stays true until it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy.ext.asyncio import AsyncConnection

from sync.store.records import ChainHead, StoredAnswer, StoredRecord, UnitReads
from sync.store.sql_rows import (
    answer_tuple,
    conflict_tuple,
    head_tuple,
    insert_tuple,
    point_tuple,
    stored_from_row,
    track_tuple,
    update_tuple,
)
from sync.store.unit_buffer import BufferedUnit, Flush, ReadAhead

LOCK_SQL = "UPDATE counter SET value = value WHERE name = 'seq' RETURNING value"
LOAD_SQL = (
    "SELECT collection, id, station_id, seq, deleted, doc, clocks, pii, author_officer,"
    " author_device, chain_n FROM record WHERE collection = $1 AND id = ANY($2::text[])"
)
ANSWERS_SQL = (
    "SELECT a.device_id, a.batch_id, a.request_hash, a.answer, a.created_ms"
    " FROM unnest($1::text[], $2::text[]) AS k(device_id, batch_id)"
    " JOIN batch_answer AS a USING (device_id, batch_id)"
)
HEADS_SQL = "SELECT device_id, n, hash FROM chain_head WHERE device_id = ANY($1::text[])"
# A group's read-ahead in one round trip: answers (part 0), records of any collection (1) and
# chain heads (2) in one shape. A record's row, from its second column, is LOAD_SQL's.
READ_AHEAD_SQL = (
    "SELECT 0, a.device_id, a.batch_id, a.request_hash, NULL::int8, NULL::bool, NULL::text,"
    " NULL::text, NULL::text, NULL::text, NULL::text, a.created_ms, a.answer"
    " FROM unnest($1::text[], $2::text[]) AS k(device_id, batch_id)"
    " JOIN batch_answer AS a USING (device_id, batch_id)"
    " UNION ALL SELECT 1, r.collection, r.id, r.station_id, r.seq, r.deleted, r.doc, r.clocks,"
    " r.pii, r.author_officer, r.author_device, r.chain_n, NULL"
    " FROM unnest($3::text[], $4::text[]) AS k(collection, id)"
    " JOIN record AS r USING (collection, id)"
    " UNION ALL SELECT 2, h.device_id, NULL, h.hash, h.n, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL FROM chain_head AS h WHERE h.device_id = ANY($5::text[])"
)

# Columns and their PostgreSQL types, in the order of the tuples of ``sql_rows``.
RECORD = (
    ("collection", "text"),
    ("id", "text"),
    ("station_id", "text"),
    ("seq", "int8"),
    ("deleted", "bool"),
    ("doc", "text"),
    ("clocks", "text"),
    ("pii", "text"),
    ("author_officer", "text"),
    ("author_device", "text"),
    ("chain_n", "int8"),
    ("updated_ms", "int8"),
)
RECORD_UPDATE = (  # update_tuple's order
    ("seq", "int8"),
    ("deleted", "bool"),
    ("doc", "text"),
    ("clocks", "text"),
    ("pii", "text"),
    ("updated_ms", "int8"),
    ("collection", "text"),
    ("id", "text"),
)
POINT = (
    ("id", "text"),
    ("station_id", "text"),
    ("category", "text"),
    ("occurred_s", "int8"),
    ("lon", "float8"),
    ("lat", "float8"),
    ("district", "text"),
    ("sector", "text"),
    ("cell", "int8"),
    ("deleted", "bool"),
    ("seq", "int8"),
)
TRACK = (
    ("entry_id", "text"),
    ("device_id", "text"),
    ("officer_id", "text"),
    ("station_id", "text"),
    ("at_s", "int8"),
    ("lon", "float8"),
    ("lat", "float8"),
)
CONFLICT = (
    ("station_id", "text"),
    ("collection", "text"),
    ("record_id", "text"),
    ("field", "text"),
    ("losing_value", "text"),
    ("losing_hlc", "text"),
    ("losing_device", "text"),
    ("winning_hlc", "text"),
    ("winning_device", "text"),
    ("seq", "int8"),
    ("created_ms", "int8"),
)
HEAD = (("device_id", "text"), ("n", "int8"), ("hash", "text"))
ANSWER = (
    ("device_id", "text"),
    ("batch_id", "text"),
    ("request_hash", "text"),
    ("answer", "bytea"),
    ("created_ms", "int8"),
)


def _unnest(columns: tuple[tuple[str, str], ...], start: int = 1) -> str:
    return ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(columns, start))


def insert_sql(
    table: str, columns: tuple[tuple[str, str], ...], conflict: str = "", start: int = 1
) -> str:
    names = ", ".join(name for name, _ in columns)
    tail = f" {conflict}" if conflict else ""
    return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({_unnest(columns, start)}){tail}"


def _set_all(columns: tuple[tuple[str, str], ...], skip: int) -> str:
    return ", ".join(f"{name} = excluded.{name}" for name, _ in columns[skip:])


def update_record_sql(start: int = 1) -> str:
    return (
        "UPDATE record AS r SET seq = u.seq, deleted = u.deleted, doc = u.doc, clocks = u.clocks,"
        " pii = u.pii, updated_ms = u.updated_ms"
        f" FROM unnest({_unnest(RECORD_UPDATE, start)})"
        f" AS u({', '.join(name for name, _ in RECORD_UPDATE)})"
        " WHERE r.collection = u.collection AND r.id = u.id"
    )


def upsert_point_sql(start: int = 1) -> str:
    return insert_sql(
        "incident_point", POINT, f"ON CONFLICT (id) DO UPDATE SET {_set_all(POINT, 1)}", start
    )


def insert_track_sql(start: int = 1) -> str:
    return insert_sql("track_point", TRACK, "ON CONFLICT (entry_id) DO NOTHING", start)


def insert_conflict_sql(start: int = 1) -> str:
    return insert_sql("conflict", CONFLICT, "ON CONFLICT DO NOTHING", start)


def upsert_head_sql(start: int = 1) -> str:
    return insert_sql(
        "chain_head", HEAD, f"ON CONFLICT (device_id) DO UPDATE SET {_set_all(HEAD, 1)}", start
    )


def counter_sql(start: int = 1) -> str:
    return f"UPDATE counter SET value = ${start} WHERE name = 'seq'"


UPDATE_RECORD = update_record_sql()
UPSERT_POINT = upsert_point_sql()
INSERT_TRACK = insert_track_sql()
INSERT_CONFLICT = insert_conflict_sql()
INSERT_MARK = insert_sql(
    "attachment_mark",
    (("collection", "text"), ("record_id", "text"), ("sha256", "text"), ("marked_ms", "int8")),
    "ON CONFLICT DO NOTHING",
)
UPSERT_HEAD = upsert_head_sql()

# A unit of at most this many rows is written in one statement; a larger one by COPY.
ONE_STATEMENT_ROWS = 1_000


class OneStatement:
    """Every table's rows of a unit as one statement: each table's write a data-modifying
    ``WITH`` part, all in one round trip.  A flush touches each row once, as one statement
    requires (``unit_buffer.Flush``), and no part needs to see another's rows."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, sql: Callable[[int], str], tuples: list[tuple[Any, ...]], width: int) -> None:
        if tuples:
            self.parts.append(sql(len(self.args) + 1))
            self.args.extend(columns_of(tuples, width))

    def add_value(self, sql: Callable[[int], str], value: Any) -> None:
        self.parts.append(sql(len(self.args) + 1))
        self.args.append(value)

    def sql(self) -> str:
        parts = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(self.parts))
        return f"WITH {parts} SELECT 1"


def columns_of(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Row tuples as one list per column (the arrays ``unnest`` takes)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


def _inserts(rows: Flush) -> list[tuple[Any, ...]]:
    return [insert_tuple(w) for w in rows.inserts]


def _updates(rows: Flush) -> list[tuple[Any, ...]]:
    return [update_tuple(w) for w in rows.updates]


def _tracks(rows: Flush) -> list[tuple[Any, ...]]:
    return [track_tuple(t) for t in rows.tracks]


def _conflicts(rows: Flush) -> list[tuple[Any, ...]]:
    return [conflict_tuple(c) for c in rows.conflicts]


def _heads(rows: Flush) -> list[tuple[Any, ...]]:
    return [head_tuple(h) for h in rows.heads]


def _answers(rows: Flush) -> list[tuple[Any, ...]]:
    return [answer_tuple(a) for a in rows.answers]


class SQLPushUnit(BufferedUnit):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__()
        self.conn = conn
        self._driver: Any = None  # the asyncpg connection under SQLAlchemy's
        self._counter = 0

    async def lock(self) -> None:
        """Lock the counter row (through SQLAlchemy, which so begins the transaction)."""
        result = await self.conn.exec_driver_sql(LOCK_SQL)
        self._counter = int(result.scalar_one())
        raw = await self.conn.get_raw_connection()
        self._driver = raw.driver_connection

    async def _read_ahead(self, reads: UnitReads) -> ReadAhead:
        devices, batches = columns_of(sorted(reads.answers), 2)
        wanted = [(c, i) for c, ids in sorted(reads.records.items()) for i in sorted(ids)]
        collections, ids = columns_of(wanted, 2)
        rows = await self._driver.fetch(
            READ_AHEAD_SQL, devices, batches, collections, ids, sorted(reads.heads)
        )
        ahead = ReadAhead()
        for r in rows:
            if r[0] == 0:
                ahead.answers[r[1], r[2]] = StoredAnswer(r[1], r[2], r[3], bytes(r[12]), r[11])
            elif r[0] == 1:
                ahead.records[r[1], r[2]] = stored_from_row(tuple(r)[1:12])
            else:
                ahead.heads[r[1]] = ChainHead(r[1], r[4], r[3])
        return ahead

    async def _read_answers(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredAnswer]:
        devices, batches = columns_of(keys, 2)
        rows = await self._driver.fetch(ANSWERS_SQL, devices, batches)
        return {(r[0], r[1]): StoredAnswer(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows}

    async def _read_records(self, collection: str, ids: list[str]) -> dict[str, StoredRecord]:
        rows = await self._driver.fetch(LOAD_SQL, collection, ids)
        return {row[1]: stored_from_row(row) for row in rows}

    async def _read_heads(self, device_ids: list[str]) -> dict[str, ChainHead]:
        rows = await self._driver.fetch(HEADS_SQL, device_ids)
        return {row[0]: ChainHead(row[0], row[1], row[2]) for row in rows}

    async def _read_counter(self) -> int:
        return self._counter

    async def write(self) -> None:
        """Everything the unit saved (the caller commits).  The write lock is held meanwhile,
        and on a busy worker every round trip waits for a turn of the event loop: a usual
        group (a few pushes) goes in one statement; a large one by COPY, which takes twice
        the rows a second of an INSERT here but costs a round trip or three per table."""
        rows = self.flush()
        size = len(rows.inserts) + len(rows.updates) + len(rows.points) + len(rows.tracks)
        if size <= ONE_STATEMENT_ROWS:
            await self._write_in_one_statement(rows)
        else:
            await self._write_by_copy(rows)
        # Rare (a push naming a file marked pii): a round trip of their own when there are.
        if rows.marks:
            await self._driver.execute(INSERT_MARK, *columns_of(rows.marks, 4))

    async def _write_in_one_statement(self, rows: Flush) -> None:
        one = OneStatement()
        one.add(partial(insert_sql, "record", RECORD, ""), _inserts(rows), len(RECORD))
        one.add(update_record_sql, _updates(rows), len(RECORD_UPDATE))
        one.add(insert_track_sql, _tracks(rows), len(TRACK))
        one.add(upsert_point_sql, [point_tuple(p) for p in rows.points], len(POINT))
        one.add(insert_conflict_sql, _conflicts(rows), len(CONFLICT))
        one.add(upsert_head_sql, _heads(rows), len(HEAD))
        one.add(partial(insert_sql, "batch_answer", ANSWER, ""), _answers(rows), len(ANSWER))
        if rows.last_seq is not None and rows.last_seq != self._counter:
            one.add_value(counter_sql, rows.last_seq)
        if one.parts:
            await self._driver.execute(one.sql(), *one.args)

    async def _write_by_copy(self, rows: Flush) -> None:
        # New records go in by COPY: twice the rows/s of an INSERT here, and a second
        # creation of an id still fails (unique key), failing the unit as it must.
        await self._copy("record", RECORD, _inserts(rows))
        inserted = {w.id for w in rows.inserts}
        fresh = [point_tuple(p) for p in rows.points if p.id in inserted]
        await self._copy_points(fresh)
        batches: list[tuple[str, int, list[tuple[Any, ...]]]] = [
            (UPDATE_RECORD, len(RECORD_UPDATE), _updates(rows)),
            (INSERT_TRACK, len(TRACK), _tracks(rows)),
            (
                UPSERT_POINT,
                len(POINT),
                [point_tuple(p) for p in rows.points if p.id not in inserted],
            ),
            (INSERT_CONFLICT, len(CONFLICT), _conflicts(rows)),
            (UPSERT_HEAD, len(HEAD), _heads(rows)),
        ]
        for statement, width, tuples in batches:
            if tuples:
                await self._driver.execute(statement, *columns_of(tuples, width))
        await self._copy("batch_answer", ANSWER, _answers(rows))
        if rows.last_seq is not None and rows.last_seq != self._counter:
            await self._driver.execute(counter_sql(), rows.last_seq)

    async def _copy(
        self, table: str, columns: tuple[tuple[str, str], ...], tuples: list[tuple[Any, ...]]
    ) -> None:
        if tuples:
            names = [name for name, _ in columns]
            await self._driver.copy_records_to_table(table, records=tuples, columns=names)

    async def _copy_points(self, tuples: list[tuple[Any, ...]]) -> None:
        """Points of records created in this unit: by COPY, as upserts if one exists.

        A point is the projection of its incident, so a new incident has none; but a point
        left without its record (a restore, a hand-made row) must not fail every push of
        that id, so the COPY runs in a savepoint and falls back to the upsert.
        """
        if not tuples:
            return
        try:
            async with self._driver.transaction():  # a savepoint
                await self._copy("incident_point", POINT, tuples)
        except UniqueViolationError:
            await self._driver.execute(UPSERT_POINT, *columns_of(tuples, len(POINT)))
