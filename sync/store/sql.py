"""The SQL adapter: SQLite (WAL, the embedded default) and PostgreSQL, one code path.

Writers are serialised: in-process by an asyncio lock, across processes by ``BEGIN IMMEDIATE``
on SQLite and by the row lock on the sequence counter on PostgreSQL.  Because a push takes
that lock before it allocates sequence numbers and holds it until commit, sequence order is
commit order, so a reader paging by sequence never skips a change that commits later.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import numpy as np
import orjson
from sqlalchemy import bindparam, delete, event, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from sync.errors import AlreadyExists, EnrollmentInvalid, StoreUnavailable
from sync.store import sql_tables as t
from sync.store.base import (
    POINT_COLUMNS,
    TRACK_COLUMNS,
    Boundary,
    ChainHead,
    Conflict,
    Device,
    Enrollment,
    Identity,
    IncidentPoint,
    Officer,
    PointQuery,
    PullRow,
    PullScope,
    PushUnit,
    RecordWrite,
    Station,
    Store,
    StoredAnswer,
    StoredRecord,
    TrackPoint,
)

_RECORD_COLUMNS = (
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


class SQLStore(Store):
    """Store on SQLAlchemy's async engine: ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 5) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._synchronous = sqlite_synchronous
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._write_lock = asyncio.Lock()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreUnavailable("the store is not open")
        return self._engine

    async def open(self) -> None:
        if self.is_sqlite:
            engine = create_async_engine(self.url, pool_size=self._pool_size, hide_parameters=True)
            _sqlite_pragmas(engine, self._synchronous)
        else:
            engine = create_async_engine(
                self.url, pool_size=self._pool_size, max_overflow=5, hide_parameters=True
            )
        self._engine = engine
        try:
            async with engine.begin() as conn:
                await conn.run_sync(t.metadata.create_all)
                await _ensure_counter(conn, self.is_sqlite)
        except (OperationalError, OSError, SAInterfaceError) as exc:
            raise StoreUnavailable(
                "cannot open the database", {"reason": type(exc).__name__}
            ) from exc

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, OSError, SAInterfaceError) as exc:
            raise StoreUnavailable("the database does not answer") from exc

    # --- people and devices ---
    async def put_station(self, station: Station) -> None:
        row = {"id": station.id, "name": station.name, "district_code": station.district_code}
        await self._upsert(t.station, row, ["id"])

    async def list_stations(self) -> list[Station]:
        rows = await self._fetch(select(t.station).order_by(t.station.c.id))
        return [Station(r.id, r.name, r.district_code) for r in rows]

    async def put_officer(self, officer: Officer) -> None:
        row = {
            "id": officer.id,
            "name": officer.name,
            "role": officer.role,
            "station_id": officer.station_id,
        }
        await self._upsert(t.officer, row, ["id"])

    async def get_officer(self, officer_id: str) -> Officer | None:
        rows = await self._fetch(select(t.officer).where(t.officer.c.id == officer_id))
        return _officer(rows[0]) if rows else None

    async def list_officers(self, station_id: str | None = None) -> list[Officer]:
        query = select(t.officer).order_by(t.officer.c.id)
        if station_id is not None:
            query = query.where(t.officer.c.station_id == station_id)
        return [_officer(r) for r in await self._fetch(query)]

    async def add_enrollment(self, enrollment: Enrollment) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.enrollment).values(
                    code_hash=enrollment.code_hash,
                    officer_id=enrollment.officer_id,
                    expires_ms=enrollment.expires_ms,
                    created_by=enrollment.created_by,
                )
            )

    async def redeem_enrollment(
        self, code_hash: str, device: Device, token_hash: str, now_ms: int
    ) -> Device:
        async with self.engine.begin() as conn:
            # The guarded UPDATE is the atomic "use once": a second redeemer matches no row.
            result = await conn.execute(
                update(t.enrollment)
                .where(
                    t.enrollment.c.code_hash == code_hash,
                    t.enrollment.c.used_ms.is_(None),
                    t.enrollment.c.expires_ms > now_ms,
                )
                .values(used_ms=now_ms, device_id=device.id)
                .returning(t.enrollment.c.officer_id)
            )
            officer_id = result.scalar_one_or_none()
            if officer_id is None:
                raise EnrollmentInvalid("the enrollment code is unknown, used or expired")
            made = Device(device.id, officer_id, device.name, device.created_ms)
            await conn.execute(insert(t.device).values(**_device_row(made, token_hash)))
        return made

    async def add_token(self, device: Device, token_hash: str) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.device).values(**_device_row(device, token_hash)))
        except IntegrityError as exc:
            raise AlreadyExists("a device with this id exists", {"id": device.id}) from exc

    async def identity_for_token(self, token_hash: str) -> Identity | None:
        query = (
            select(
                t.device.c.id,
                t.device.c.name,
                t.officer.c.id,
                t.officer.c.role,
                t.officer.c.station_id,
            )
            .join(t.officer, t.officer.c.id == t.device.c.officer_id)
            .where(t.device.c.token_hash == token_hash, t.device.c.revoked_ms.is_(None))
        )
        rows = await self._fetch(query)
        if not rows:
            return None
        r = rows[0]
        return Identity(r[0], r[1], r[2], r[3], r[4])

    async def revoke_device(self, device_id: str, now_ms: int) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(t.device)
                .where(t.device.c.id == device_id)
                .values(revoked_ms=text(f"COALESCE(revoked_ms, {int(now_ms)})"))
            )
        return bool(result.rowcount)

    async def list_devices(self, officer_id: str | None = None) -> list[Device]:
        query = select(t.device).order_by(t.device.c.created_ms, t.device.c.id)
        if officer_id is not None:
            query = query.where(t.device.c.officer_id == officer_id)
        rows = await self._fetch(query)
        return [Device(r.id, r.officer_id, r.name, r.created_ms, r.revoked_ms) for r in rows]

    # --- sync ---
    @asynccontextmanager
    async def push_unit(self) -> AsyncIterator[PushUnit]:
        async with self._write_lock, self.engine.connect() as conn:
            if self.is_sqlite:
                conn = await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            async with conn.begin():
                unit = _SQLPushUnit(conn, self.is_sqlite)
                await unit.lock()
                yield unit

    async def pull(self, scope: PullScope, after_seq: int, limit: int) -> list[PullRow]:
        # Plain text SQL: Core's typed row processing cost 4x on this, the hottest read.
        params: dict[str, Any] = {"after": after_seq, "limit": limit}
        query = _PULL_ALL
        if scope.station_ids is not None:
            query, params["stations"] = _PULL_STATIONS, list(scope.station_ids)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query, params)).all()
        pii_all, own = scope.pii == "all", scope.pii == "own"
        officer = scope.officer_id
        return [
            PullRow(seq, doc, pii if pii_all or (own and author == officer) else None)
            for seq, doc, pii, author in rows
        ]

    async def last_seq(self) -> int:
        rows = await self._fetch(select(t.counter.c.value).where(t.counter.c.name == "seq"))
        return int(rows[0][0]) if rows else 0

    async def conflicts(
        self, station_ids: tuple[str, ...] | None, after_id: int, limit: int
    ) -> list[tuple[int, Conflict]]:
        c = t.conflict.c
        query = select(t.conflict).where(c.id > after_id).order_by(c.id).limit(limit)
        if station_ids is not None:
            query = query.where(c.station_id.in_(station_ids))
        rows = await self._fetch(query)
        return [(row.id, _conflict(row)) for row in rows]

    async def chain(self, device_id: str) -> list[StoredRecord]:
        r = t.record.c
        query = (
            select(*_RECORD_COLUMNS)
            .where(r.collection == "patrol_logs", r.author_device == device_id)
            .order_by(r.chain_n)
        )
        return [_stored(row) for row in await self._fetch(query)]

    async def points(
        self, query: PointQuery, columns: tuple[str, ...] = ("lon", "lat", "occurred_s")
    ) -> dict[str, np.ndarray]:
        unknown = set(columns) - set(POINT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown point columns: {sorted(unknown)}")
        where, params = _where(query)
        sql = f"SELECT {', '.join(columns)} FROM incident_point WHERE {where}"
        sql += " AND lon IS NOT NULL ORDER BY seq"
        rows = await self._fetch(_bound(sql, params), params)
        return _columns(rows, columns)

    async def tracks(
        self, query: PointQuery, columns: tuple[str, ...] = TRACK_COLUMNS
    ) -> dict[str, np.ndarray]:
        unknown = set(columns) - set(TRACK_COLUMNS)
        if unknown:
            raise ValueError(f"unknown track columns: {sorted(unknown)}")
        where, params = _where(query, "at_s", live_only=False)
        sql = f"SELECT {', '.join(columns)} FROM track_point WHERE {where}"
        rows = await self._fetch(_bound(sql + " ORDER BY device_id, at_s", params), params)
        return _columns(rows, columns)

    async def cell_counts(
        self, query: PointQuery, bucket_s: int | None = None
    ) -> dict[str, np.ndarray]:
        where, params = _where(query)
        keys = "cell" if bucket_s is None else f"cell, occurred_s / {int(bucket_s)}"
        sql = (
            f"SELECT {keys}, count(*) FROM incident_point WHERE {where} AND cell IS NOT NULL"
            f" GROUP BY {keys}"
        )
        rows = await self._fetch(_bound(sql, params), params)
        names = ("cell", "count") if bucket_s is None else ("cell", "bucket", "count")
        columns = _columns(rows, names)
        for name in names:
            columns[name] = columns[name].astype(np.int64)
        return columns

    async def replace_boundaries(self, layer: str, items: list[Boundary]) -> None:
        rows = [
            {
                "layer": layer,
                "code": b.code,
                "name": b.name,
                "props": orjson.dumps(b.props).decode(),
                "geometry": b.geometry,
            }
            for b in items
        ]
        async with self.engine.begin() as conn:
            await conn.execute(delete(t.boundary).where(t.boundary.c.layer == layer))
            if rows:
                await conn.execute(insert(t.boundary), rows)

    async def boundaries(self, layer: str) -> list[Boundary]:
        b = t.boundary.c
        query = select(t.boundary).where(b.layer == layer).order_by(b.code)
        return [
            Boundary(r.layer, r.code, r.name, orjson.loads(r.props), bytes(r.geometry))
            for r in await self._fetch(query)
        ]

    async def prune_answers(self, older_than_ms: int) -> int:
        async with self._write_lock, self.engine.begin() as conn:
            result = await conn.execute(
                delete(t.batch_answer).where(t.batch_answer.c.created_ms < older_than_ms)
            )
        return int(result.rowcount or 0)

    # --- helpers ---
    async def _fetch(self, query: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            return (await conn.execute(query, params or {})).all()

    async def _upsert(self, table: Any, row: dict[str, Any], keys: list[str]) -> None:
        stmt = _dialect_insert(self.is_sqlite, table).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={k: v for k, v in row.items() if k not in keys}
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)


class _SQLPushUnit(PushUnit):
    def __init__(self, conn: AsyncConnection, is_sqlite: bool) -> None:
        self.conn = conn
        self.is_sqlite = is_sqlite

    async def lock(self) -> None:
        # On PostgreSQL the counter row lock serialises writers until commit.
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
        query = select(*_RECORD_COLUMNS).where(r.collection == collection, r.id.in_(ids))
        rows = (await self.conn.execute(query)).all()
        return {row.id: _stored(row) for row in rows}

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
        # Driver-level executemany with tuples: Core's per-row dict processing was the
        # largest cost of a 500-change push.
        new = [_insert_tuple(w) for w in writes if w.is_new]
        old = [_update_tuple(w) for w in writes if not w.is_new]
        if new:
            await self.conn.exec_driver_sql(_sql(_INSERT_RECORD, self.is_sqlite), new)
        if old:
            await self.conn.exec_driver_sql(_sql(_UPDATE_RECORD, self.is_sqlite), old)
        tracks = [_track_tuple(w.track) for w in writes if w.track is not None]
        if tracks:
            await self.conn.exec_driver_sql(_sql(_INSERT_TRACK, self.is_sqlite), tracks)
        points = [_point_tuple(w.point) for w in writes if w.point is not None]
        if points:
            await self.conn.exec_driver_sql(_sql(_UPSERT_POINT, self.is_sqlite), points)
        if conflicts:
            stmt = _dialect_insert(self.is_sqlite, t.conflict).on_conflict_do_nothing()
            await self.conn.execute(stmt, [_conflict_row(c) for c in conflicts])
        for head in heads:
            stmt = _dialect_insert(self.is_sqlite, t.chain_head).values(
                device_id=head.device_id, n=head.n, hash=head.hash
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["device_id"], set_={"n": head.n, "hash": head.hash}
            )
            await self.conn.execute(stmt)
        if answer is None:
            return
        await self.conn.execute(
            insert(t.batch_answer).values(
                device_id=answer.device_id,
                batch_id=answer.batch_id,
                request_hash=answer.request_hash,
                answer=answer.answer,
                created_ms=answer.created_ms,
            )
        )


_PULL_SQL = (
    "SELECT seq, doc, pii, author_officer FROM record"
    " WHERE seq > :after {} ORDER BY seq LIMIT :limit"
)
_PULL_ALL = text(_PULL_SQL.format(""))
_PULL_STATIONS = text(_PULL_SQL.format("AND station_id IN :stations")).bindparams(
    bindparam("stations", expanding=True)
)

_INSERT_RECORD = (
    "INSERT INTO record (collection, id, station_id, seq, deleted, doc, clocks, pii,"
    " author_officer, author_device, chain_n, updated_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_RECORD = (
    "UPDATE record SET seq = ?, deleted = ?, doc = ?, clocks = ?, pii = ?, updated_ms = ?"
    " WHERE collection = ? AND id = ?"
)


_POINT_FIELDS = (
    "id, station_id, category, occurred_s, lon, lat, district, sector, cell, deleted, seq"
)
_UPSERT_POINT = (
    f"INSERT INTO incident_point ({_POINT_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _POINT_FIELDS.split(", ")[1:])
)


_INSERT_TRACK = (
    f"INSERT INTO track_point ({', '.join(TRACK_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (entry_id) DO NOTHING"
)


def _track_tuple(p: TrackPoint) -> tuple[Any, ...]:
    return (p.entry_id, p.device_id, p.officer_id, p.station_id, p.at_s, p.lon, p.lat)


def _point_tuple(p: IncidentPoint) -> tuple[Any, ...]:
    return (
        p.id,
        p.station_id,
        p.category,
        p.occurred_s,
        p.lon,
        p.lat,
        p.district,
        p.sector,
        p.cell,
        p.deleted,
        p.seq,
    )


def _where(
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


def _bound(sql: str, params: dict[str, Any]) -> Any:
    stmt = text(sql)
    expanding = [bindparam(k, expanding=True) for k in ("stations", "categories") if k in params]
    return stmt.bindparams(*expanding) if expanding else stmt


_NUMERIC = {
    "at_s": np.int64,
    "occurred_s": np.int64,
    "cell": np.int64,
    "seq": np.int64,
    "lon": np.float64,
    "lat": np.float64,
}


def _columns(rows: Sequence[Any], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        values = [row[i] for row in rows]
        kind = _NUMERIC.get(name)
        out[name] = np.array(values, dtype=kind) if kind else np.array(values, dtype=object)
    return out


def _sql(statement: str, is_sqlite: bool) -> str:
    """Qmark SQL as the driver wants it: as is for sqlite3, ``$n`` for asyncpg."""
    if is_sqlite:
        return statement
    parts = statement.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


def _insert_tuple(w: RecordWrite) -> tuple[Any, ...]:
    return (
        w.collection,
        w.id,
        w.station_id,
        w.seq,
        w.deleted,
        w.doc,
        w.clocks,
        w.pii,
        w.author_officer,
        w.author_device,
        w.chain_n,
        w.updated_ms,
    )


def _update_tuple(w: RecordWrite) -> tuple[Any, ...]:
    return (w.seq, w.deleted, w.doc, w.clocks, w.pii, w.updated_ms, w.collection, w.id)


def _conflict_row(c: Conflict) -> dict[str, Any]:
    return {
        "station_id": c.station_id,
        "collection": c.collection,
        "record_id": c.record_id,
        "field": c.field,
        "losing_value": c.losing_value,
        "losing_hlc": c.losing_hlc,
        "losing_device": c.losing_device,
        "winning_hlc": c.winning_hlc,
        "winning_device": c.winning_device,
        "seq": c.seq,
        "created_ms": c.created_ms,
    }


def _conflict(row: Any) -> Conflict:
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


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        collection=row.collection,
        id=row.id,
        station_id=row.station_id,
        seq=row.seq,
        deleted=bool(row.deleted),
        doc=orjson.loads(row.doc),
        clocks=orjson.loads(row.clocks),
        pii=orjson.loads(row.pii) if row.pii else None,
        author_officer=row.author_officer,
        author_device=row.author_device,
        chain_n=row.chain_n,
    )


def _officer(row: Any) -> Officer:
    return Officer(row.id, row.name, cast(Any, row.role), row.station_id)


def _device_row(device: Device, token_hash: str) -> dict[str, Any]:
    return {
        "id": device.id,
        "officer_id": device.officer_id,
        "name": device.name,
        "token_hash": token_hash,
        "created_ms": device.created_ms,
        "revoked_ms": device.revoked_ms,
    }


def _dialect_insert(is_sqlite: bool, table: Any) -> Any:
    return sqlite.insert(table) if is_sqlite else postgresql.insert(table)


async def _ensure_counter(conn: AsyncConnection, is_sqlite: bool) -> None:
    stmt = _dialect_insert(is_sqlite, t.counter).values(name="seq", value=0)
    await conn.execute(stmt.on_conflict_do_nothing())


def _sqlite_pragmas(engine: AsyncEngine, synchronous: str) -> None:
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below), so the driver must not.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))
