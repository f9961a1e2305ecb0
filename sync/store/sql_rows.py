"""Rows and SQL text of the SQL adapter: conversions between the port's dataclasses and rows.

Hot paths use driver-level SQL with tuples (``sqlite_unit``, ``sql_unit``); the rest goes through
Core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from itertools import chain
from operator import attrgetter
from typing import Any, cast

import numpy as np
import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql, sqlite

from sync.store import sql_tables as t
from sync.store.records import (
    TRACK_COLUMNS,
    ChainHead,
    Conflict,
    Device,
    IncidentPoint,
    Officer,
    PointQuery,
    RecordWrite,
    StoredAnswer,
    StoredRecord,
    TrackPoint,
)

RECORD_COLUMNS = (
    t.record.c.collection,
    t.record.c.id,
    t.record.c.station_id,
    t.record.c.seq,
    t.record.c.deleted,
    t.record.c.doc,
    t.record.c.clocks,
    t.record.c.pii,
    t.record.c.author_officer,
    t.record.c.author_device,
    t.record.c.chain_n,
)


INSERT_RECORD = (
    "INSERT INTO record (collection, id, station_id, seq, deleted, doc, clocks, pii,"
    " author_officer, author_device, chain_n, updated_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# New versions of existing records, as an upsert so many rows go in one statement.
REPLACE_RECORD = INSERT_RECORD + (
    " ON CONFLICT (collection, id) DO UPDATE SET seq = excluded.seq,"
    " deleted = excluded.deleted, doc = excluded.doc, clocks = excluded.clocks,"
    " pii = excluded.pii, updated_ms = excluded.updated_ms"
)


POINT_FIELDS = (
    "id, station_id, category, occurred_s, lon, lat, district, sector, cell, deleted, seq"
)
UPSERT_POINT = (
    f"INSERT INTO incident_point ({POINT_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in POINT_FIELDS.split(", ")[1:])
)


INSERT_CONFLICT = (
    "INSERT INTO conflict (station_id, collection, record_id, field, losing_value, losing_hlc,"
    " losing_device, winning_hlc, winning_device, seq, created_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
INSERT_MARK = (
    "INSERT INTO attachment_mark (collection, record_id, sha256, marked_ms)"
    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
UPSERT_HEAD = (
    "INSERT INTO chain_head (device_id, n, hash) VALUES (?, ?, ?)"
    " ON CONFLICT (device_id) DO UPDATE SET n = excluded.n, hash = excluded.hash"
)
INSERT_ANSWER = (
    "INSERT INTO batch_answer (device_id, batch_id, request_hash, answer, created_ms)"
    " VALUES (?, ?, ?, ?, ?)"
)


INSERT_TRACK = (
    f"INSERT INTO track_point ({', '.join(TRACK_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (entry_id) DO NOTHING"
)


def track_tuple(p: TrackPoint) -> tuple[Any, ...]:
    return (p.entry_id, p.device_id, p.officer_id, p.station_id, p.at_s, p.lon, p.lat)


# attrgetter builds the tuple in C: a function doing it was a tenth of a group's work on the
# event loop (one call per row written).
point_tuple: Callable[[IncidentPoint], tuple[Any, ...]] = attrgetter(
    "id",
    "station_id",
    "category",
    "occurred_s",
    "lon",
    "lat",
    "district",
    "sector",
    "cell",
    "deleted",
    "seq",
)


def point_where(
    query: PointQuery, time_column: str = "occurred_s", live_only: bool = True
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (with expanding binds) of a point query."""
    clauses = ["NOT deleted" if live_only else "1 = 1"]
    params: dict[str, Any] = {}
    if query.station_ids is not None:
        clauses.append("station_id IN :stations")
        params["stations"] = list(query.station_ids)
    if query.categories is not None and time_column == "occurred_s":
        clauses.append("category IN :categories")
        params["categories"] = list(query.categories)
    if query.since_s is not None:
        clauses.append(f"{time_column} >= :since")
        params["since"] = query.since_s
    if query.until_s is not None:
        clauses.append(f"{time_column} < :until")
        params["until"] = query.until_s
    if query.bbox is not None:
        clauses.append("lon >= :x0 AND lat >= :y0 AND lon <= :x1 AND lat <= :y1")
        params.update(zip(("x0", "y0", "x1", "y1"), query.bbox, strict=True))
    return " AND ".join(clauses), params


def bound_query(sql: str, params: dict[str, Any]) -> Any:
    stmt = text(sql)
    keys = [k for k in ("stations", "categories") if k in params]
    expanding: list[Any] = [bindparam(k, expanding=True) for k in keys]
    return stmt.bindparams(*expanding) if expanding else stmt


NUMERIC = {
    "at_s": np.int64,
    "occurred_s": np.int64,
    "cell": np.int64,
    "seq": np.int64,
    "lon": np.float64,
    "lat": np.float64,
}


def as_columns(rows: Sequence[Any], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        values = [row[i] for row in rows]
        kind = NUMERIC.get(name)
        out[name] = np.array(values, dtype=kind) if kind else np.array(values, dtype=object)
    return out


SQLITE_MAX_PARAMS = 32_766
MULTIROW_MAX = 2048


def multirow(statement: str, rows: list[tuple[Any, ...]]) -> Iterator[tuple[str, list[Any]]]:
    """``statement`` (an ``INSERT ... VALUES (?, ...)``) for many rows: (SQL, values) pairs.

    Each statement carries a power-of-two number of rows, the last padded with rows of NULLs
    that its ``WHERE`` drops: a handful of statement texts serve every batch size (sqlite3
    keeps prepared statements by text; preparing a 500-row one costs 2 ms), and a batch goes
    in one statement, so in one release of the GIL.
    """
    if not rows:
        return
    width = len(rows[0])
    cap = min(MULTIROW_MAX, 1 << ((SQLITE_MAX_PARAMS // width).bit_length() - 1))
    for start in range(0, len(rows), cap):
        part = rows[start : start + cap]
        size = max(8, 1 << (len(part) - 1).bit_length())
        values = list(chain.from_iterable(part))
        values.extend([None] * (width * (size - len(part))))
        yield multirow_sql(statement, size), values


@lru_cache(maxsize=64)
def multirow_sql(statement: str, size: int) -> str:
    head, _, rest = statement.partition(" VALUES ")
    one, _, conflict = rest.partition(" ON CONFLICT")
    tail = f" ON CONFLICT{conflict}" if conflict else ""
    rows = ", ".join([one] * size)
    # The WHERE drops padding rows (every first column is NOT NULL) and is what SQLite needs
    # to read ON CONFLICT after a SELECT as the upsert clause.
    return f"{head} SELECT * FROM (VALUES {rows}) WHERE column1 IS NOT NULL{tail}"


# The record table's columns by name, in insert order: a RecordWrite's fields and a row's
# names alike (the retention archive reads rows by the same list).
RECORD_FIELDS = (
    "collection",
    "id",
    "station_id",
    "seq",
    "deleted",
    "doc",
    "clocks",
    "pii",
    "author_officer",
    "author_device",
    "chain_n",
    "updated_ms",
)
insert_tuple: Callable[[RecordWrite], tuple[Any, ...]] = attrgetter(*RECORD_FIELDS)


def update_tuple(w: RecordWrite) -> tuple[Any, ...]:
    return (w.seq, w.deleted, w.doc, w.clocks, w.pii, w.updated_ms, w.collection, w.id)


def conflict_tuple(c: Conflict) -> tuple[Any, ...]:
    return (
        c.station_id,
        c.collection,
        c.record_id,
        c.field,
        c.losing_value,
        c.losing_hlc,
        c.losing_device,
        c.winning_hlc,
        c.winning_device,
        c.seq,
        c.created_ms,
    )


def head_tuple(h: ChainHead) -> tuple[Any, ...]:
    return (h.device_id, h.n, h.hash)


def answer_tuple(a: StoredAnswer) -> tuple[Any, ...]:
    return (a.device_id, a.batch_id, a.request_hash, a.answer, a.created_ms)


def conflict_from_row(row: Any) -> Conflict:
    return Conflict(
        row.station_id,
        row.collection,
        row.record_id,
        row.field,
        row.losing_value,
        row.losing_hlc,
        row.losing_device,
        row.winning_hlc,
        row.winning_device,
        row.seq,
        row.created_ms,
    )


def stored_from_row(row: Sequence[Any]) -> StoredRecord:
    """A record from a row of ``RECORD_COLUMNS``, in that order (SQLAlchemy or sqlite3)."""
    return StoredRecord(
        collection=row[0],
        id=row[1],
        station_id=row[2],
        seq=row[3],
        deleted=bool(row[4]),
        doc=orjson.loads(row[5]),
        clocks=orjson.loads(row[6]),
        pii=orjson.loads(row[7]) if row[7] else None,
        author_officer=row[8],
        author_device=row[9],
        chain_n=row[10],
    )


def officer_from_row(row: Any) -> Officer:
    return Officer(row.id, row.name, cast(Any, row.role), row.station_id)


def device_row(device: Device, token_hash: str) -> dict[str, Any]:
    return {
        "id": device.id,
        "officer_id": device.officer_id,
        "name": device.name,
        "token_hash": token_hash,
        "created_ms": device.created_ms,
        "revoked_ms": device.revoked_ms,
    }


def dialect_insert(is_sqlite: bool, table: Any) -> Any:
    return sqlite.insert(table) if is_sqlite else postgresql.insert(table)
