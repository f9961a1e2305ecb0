# Over 400 lines: one class, the port's ~50 short methods (longer queries: sql_admin, sql_geo, ...).
"""The SQL adapter: SQLite (WAL, the embedded default) and PostgreSQL.

One adapter and one set of tables, through SQLAlchemy Core but for the hot paths, and one
push path: both push units share their logic (``unit_buffer``: a group's writes kept in
memory, written at its end).  The hot paths take each database's own driver: the push unit's
reads and writes (``sqlite_unit``: sqlite3 in a writer thread, multi-row ``VALUES``;
``sql_unit``: asyncpg, COPY and ``unnest`` arrays), the pull page and the token lookup every
request makes.  The contract suite (``contract``) runs on both.

Writers are serialised: in-process by an asyncio lock, across processes by ``BEGIN IMMEDIATE``
on SQLite and by the row lock on the sequence counter on PostgreSQL.  Because a push takes
that lock before it allocates sequence numbers and holds it until commit, sequence order is
commit order, so a reader paging by sequence never skips a change that commits later.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

import numpy as np
import orjson
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sync.errors import AlreadyExists, EnrollmentInvalid, StoreUnavailable
from sync.store import schema, sql_admin, sql_cluster, sql_geo, sql_reviews, sql_throttle
from sync.store import sql_tables as t
from sync.store.base import PushUnit, Store
from sync.store.driver_errors import (
    is_unavailable,
    translate_engine_errors,
    translating,
    unavailable,
)
from sync.store.records import (
    TRACK_COLUMNS,
    AuditEvent,
    AuditQuery,
    Boundary,
    ChainHead,
    Conflict,
    ConflictReview,
    Credential,
    Device,
    DeviceQuery,
    Enrollment,
    Identity,
    LoginKey,
    Officer,
    PointQuery,
    PublicSnapshot,
    PullRow,
    PullScope,
    Station,
    StoredRecord,
    SyncState,
    WebSession,
)
from sync.store.schema import SchemaChange
from sync.store.sql_engine import make_engine, make_point_engine, open_lookup
from sync.store.sql_epoch import (
    STATE_SQL,
    ensure_epoch,
    replace_epoch,
    state_from_rows,
)
from sync.store.sql_rows import (
    RECORD_COLUMNS,
    conflict_from_row,
    device_row,
    dialect_insert,
    officer_from_row,
    stored_from_row,
)
from sync.store.sql_unit import SQLPushUnit
from sync.store.sqlite_unit import SQLiteWriter
from sync.store.sqlite_wal import WalCheckpointer


def pg_pull_sql(stations: int | None) -> str:
    """PostgreSQL's pull of the records after ``$4`` (at most ``$5``) in ``stations``
    stations (``$6``...; None: all), with personal data where ``$1``/``$2``/``$3`` say.

    One placeholder a station, not ``= ANY($6::text[])``: a station's pull is then a range of
    its (station_id, seq) index.  (Plans are made for the values:
    ``sql_engine._plan_for_values``.)  When the range holds a page or more, its rows come in
    the index's order with no sort; when PostgreSQL expects fewer rows than the limit, it
    reads the same range through a bitmap and sorts it (its costs at ``random_page_cost``
    4), which the load runs measured at about 7 % of the pull's execution: not worth a
    setting that would move every other plan.
    """
    where = ""
    if stations is not None:
        where = f"AND station_id IN ({', '.join(f'${6 + i}' for i in range(stations))})"
    return (
        "SELECT seq, doc, CASE WHEN $1 OR ($2 AND author_officer = $3) THEN pii END"
        f" FROM record WHERE seq > $4 {where} ORDER BY seq LIMIT $5"
    )


@translating  # driver errors leave every public method as StoreUnavailable
class SQLStore(Store):
    """Store on SQLAlchemy's async engine: ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``."""

    # Token and session lookups and pushes come here (a replica's store serves bulk reads
    # only, so it keeps every connection for them and opens no pool for the lookups).
    serves_lookups = True

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "FULL",
        pool_size: int = 5,
        sqlite_cache_mb: int = 64,
        upgrade: bool = False,
        pgbouncer: bool = False,
    ) -> None:
        self.url = url
        # Reached through PgBouncer in transaction mode: consecutive transactions may run on
        # different server connections, so nothing may outlive a transaction (see open()).
        self.pgbouncer = pgbouncer
        # Run the migrations of an older database on open; otherwise refuse it (SchemaOutdated).
        self.upgrade = upgrade
        self.schema_change: SchemaChange | None = None
        self.is_sqlite = url.startswith("sqlite")
        self._synchronous = sqlite_synchronous
        self._cache_mb = sqlite_cache_mb
        self._checkpointer: WalCheckpointer | None = None
        self._writer: SQLiteWriter | None = None
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        # PostgreSQL straight: the pool of statements planned once (token lookup, push unit).
        self._points: AsyncEngine | None = None
        self._write_lock = asyncio.Lock()
        # SQLite only: a plain connection for the token lookup every request makes. An
        # indexed point read takes microseconds, less than one hop to aiosqlite's thread,
        # so it runs on the event loop itself.
        self._lookup: sqlite3.Connection | None = None
        # SQLite only: plain connections for bulk reads in worker threads (no SQLAlchemy
        # row processing: pull pages are read 3-4x faster).
        self._readers: asyncio.Queue[sqlite3.Connection] | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreUnavailable("the store is not open")
        return self._engine

    @property
    def _wants_point_pool(self) -> bool:
        return self.serves_lookups and not self.is_sqlite and not self.pgbouncer

    @property
    def point_engine(self) -> AsyncEngine | None:
        """PostgreSQL straight: the pool of statements planned once (``make_point_engine``)."""
        return self._points

    async def open(self) -> None:
        engine, self._checkpointer = make_engine(
            self.url,
            pool_size=self._pool_size,
            pgbouncer=self.pgbouncer,
            synchronous=self._synchronous,
            cache_mb=self._cache_mb,
            point_pool=self._wants_point_pool,
        )
        self._engine = engine
        try:
            await self._prepare_schema(engine)
        except (OperationalError, OSError, SAInterfaceError) as exc:
            await self._discard_engine()
            if not is_unavailable(exc):
                raise  # a schema the code cannot read: its own error, not "retry later"
            raise StoreUnavailable(
                "cannot open the database", {"reason": type(exc).__name__}
            ) from exc
        except BaseException:  # unavailable, refused (SchemaOutdated), cancelled, a bug
            await self._discard_engine()  # its pooled connection would be left open
            raise
        translate_engine_errors(engine)  # after the schema: open() names its own failures
        if self._wants_point_pool:
            self._points = make_point_engine(self.url)
            translate_engine_errors(self._points)
        if self._checkpointer is not None:
            self._checkpointer.start()
            self._writer = SQLiteWriter(
                self._checkpointer.path, self._synchronous, self._cache_mb, self._checkpointer
            )
            await self._writer.open()
        if self.is_sqlite:
            self._lookup = open_lookup(engine)
            self._readers = asyncio.Queue()
            for _ in range(self._pool_size):
                self._readers.put_nowait(open_lookup(engine))

    async def _prepare_schema(self, engine: AsyncEngine) -> None:
        """Create, check or upgrade the schema (sync.store.schema), under the schema lock."""
        async with engine.connect() as conn:
            if self.is_sqlite:
                # Taken up front, so a second process opening at once waits, then sees head.
                conn = await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            async with conn.begin():
                await conn.run_sync(schema.lock)
                self.schema_change = await conn.run_sync(schema.prepare, self.upgrade)
                await _ensure_counter(conn, self.is_sqlite)
                await ensure_epoch(conn, self.is_sqlite)

    async def _discard_engine(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        self._checkpointer = None

    async def close(self) -> None:
        if self._lookup is not None:
            self._lookup.close()
            self._lookup = None
        while self._readers is not None and not self._readers.empty():
            self._readers.get_nowait().close()
        self._readers = None
        if self._writer is not None:
            async with self._write_lock:
                await self._writer.close()
            self._writer = None
        if self._points is not None:
            await self._points.dispose()
            self._points = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None

    async def ping(self) -> None:
        try:
            await self._fetch(text("SELECT 1"))
        except (OperationalError, OSError, SAInterfaceError) as exc:
            raise StoreUnavailable("the database does not answer") from exc

    # --- people and devices ---
    async def put_station(self, station: Station) -> None:
        await self._upsert(t.station, asdict(station), ["id"])

    async def list_stations(self) -> list[Station]:
        rows = await self._fetch(select(t.station).order_by(t.station.c.id))
        return [Station(r.id, r.name, r.district_code) for r in rows]

    async def put_officer(self, officer: Officer) -> None:
        await self._upsert(t.officer, asdict(officer), ["id"])

    async def get_officer(self, officer_id: str) -> Officer | None:
        rows = await self._fetch(select(t.officer).where(t.officer.c.id == officer_id))
        return officer_from_row(rows[0]) if rows else None

    async def list_officers(self, station_id: str | None = None) -> list[Officer]:
        query = select(t.officer).order_by(t.officer.c.id)
        if station_id is not None:
            query = query.where(t.officer.c.station_id == station_id)
        return [officer_from_row(r) for r in await self._fetch(query)]

    async def add_enrollment(self, enrollment: Enrollment) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(t.enrollment).values(**asdict(enrollment)))

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
            await conn.execute(insert(t.device).values(**device_row(made, token_hash)))
        return made

    async def add_token(self, device: Device, token_hash: str) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.device).values(**device_row(device, token_hash)))
        except IntegrityError as exc:
            raise AlreadyExists("a device with this id exists", {"id": device.id}) from exc

    async def identity_for_token(self, token_hash: str) -> Identity | None:
        if self._lookup is not None:
            row = self._lookup.execute(TOKEN_SQL, (token_hash,)).fetchone()
        else:  # every request makes it: one round trip (no BEGIN/ROLLBACK around it)
            rows = await self._driver_fetch(PG_TOKEN_SQL, token_hash, engine=self._points)
            row = rows[0] if rows else None
        return None if row is None else Identity(row[0], row[1], row[2], row[3], row[4])

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

    async def device_page(self, query: DeviceQuery) -> tuple[int, list[Device]]:
        return await sql_admin.device_page(self._fetch, query)

    async def get_device(self, device_id: str) -> Device | None:
        return await sql_admin.get_device(self._fetch, device_id)

    async def enrollment(self, code_hash: str) -> Enrollment | None:
        return await sql_admin.enrollment(self._fetch, code_hash)

    # --- web sign-in, sessions, audit ---
    async def put_credential(self, credential: Credential) -> None:
        await self._upsert(t.credential, asdict(credential), ["officer_id"])

    async def credential(self, officer_id: str) -> Credential | None:
        c = t.credential.c
        rows = await self._fetch(select(t.credential).where(c.officer_id == officer_id))
        return _credential(rows[0]) if rows else None

    async def login_failures(
        self, keys: Sequence[LoginKey], since_ms: int
    ) -> dict[LoginKey, tuple[int, int]]:
        return await sql_throttle.login_failures(self.engine, keys, since_ms)

    async def add_login_failure(self, keys: Sequence[LoginKey], now_ms: int, since_ms: int) -> None:
        await sql_throttle.add_login_failure(self.engine, self.is_sqlite, keys, now_ms, since_ms)

    async def clear_login_failures(self, officer_id: str, address: str | None = None) -> None:
        await sql_throttle.clear_login_failures(self.engine, officer_id, address)

    async def add_session(self, session: WebSession) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(t.web_session).values(**asdict(session)))

    async def session(self, token_hash: str, now_ms: int) -> tuple[WebSession, Identity] | None:
        # Every page and tile request of a signed-in chief makes it: as the token lookup, one
        # round trip, planned once on PostgreSQL.
        if self._lookup is not None:
            row = self._lookup.execute(SESSION_SQL, (token_hash, now_ms)).fetchone()
        else:
            rows = await self._driver_fetch(PG_SESSION_SQL, token_hash, now_ms, engine=self._points)
            row = rows[0] if rows else None
        if row is None:
            return None
        hashed, officer_id, csrf, expires_ms, role, station_id = row
        session = WebSession(hashed, officer_id, csrf, expires_ms)
        return session, Identity("", "", officer_id, role, station_id)

    async def drop_session(self, token_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(t.web_session).where(t.web_session.c.token_hash == token_hash)
            )

    async def add_audit(self, event: AuditEvent) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(t.audit).values(**sql_admin.audit_values(event)))

    async def audit_events(self, after_id: int, limit: int) -> list[tuple[int, AuditEvent]]:
        a = t.audit.c
        query = select(t.audit).where(a.id > after_id).order_by(a.id).limit(limit)
        return [
            (r.id, AuditEvent(r.at_ms, r.officer_id, r.action, r.target, orjson.loads(r.details)))
            for r in await self._fetch(query)
        ]

    async def audit_search(self, query: AuditQuery) -> list[tuple[int, AuditEvent]]:
        return await sql_admin.audit_search(self._fetch, query)

    # --- sync ---
    @asynccontextmanager
    async def push_unit(self) -> AsyncIterator[PushUnit]:
        if self._writer is not None:
            async with self._write_lock, self._writer.unit() as sqlite_unit:
                yield sqlite_unit
            return
        points = self._points or self.engine
        async with self._write_lock, points.connect() as conn, conn.begin():
            unit = SQLPushUnit(conn)
            await unit.lock()
            yield unit
            await unit.write()

    async def pull(self, scope: PullScope, after_seq: int, limit: int) -> list[PullRow]:
        if self._readers is not None:
            return await self._pull_sqlite(scope, after_seq, limit)
        # The hottest read, as on SQLite: driver SQL (asyncpg's records, no SQLAlchemy row
        # processing, which held pulls to ~25,000 records/s), PII rule decided in SQL.
        stations = scope.station_ids
        if stations == ():
            return []
        sql = pg_pull_sql(None if stations is None else len(stations))
        params: list[Any] = [scope.pii == "all", scope.pii == "own", scope.officer_id]
        params += [after_seq, limit, *(stations or ())]
        rows = await self._driver_fetch(sql, *params)
        return [PullRow(seq, doc, pii) for seq, doc, pii in rows]

    async def _pull_sqlite(self, scope: PullScope, after_seq: int, limit: int) -> list[PullRow]:
        # The hottest read: plain sqlite3 in a worker thread, PII rule decided in SQL.
        stations = scope.station_ids
        where = "" if stations is None else f"AND station_id IN ({','.join('?' * len(stations))})"
        sql = (
            "SELECT seq, doc, CASE WHEN ? OR (? AND author_officer = ?) THEN pii END"
            f" FROM record WHERE seq > ? {where} ORDER BY seq LIMIT ?"
        )
        params = (
            scope.pii == "all",
            scope.pii == "own",
            scope.officer_id,
            after_seq,
            *(stations or ()),
            limit,
        )
        rows = await self._read(sql, params)
        return [PullRow(seq, doc, pii) for seq, doc, pii in rows]

    async def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        assert self._readers is not None
        conn = await self._readers.get()
        try:
            return await asyncio.to_thread(lambda: conn.execute(sql, params).fetchall())
        finally:
            self._readers.put_nowait(conn)

    async def record(self, collection: str, record_id: str) -> StoredRecord | None:
        r = t.record.c
        query = select(*RECORD_COLUMNS).where(r.collection == collection, r.id == record_id)
        rows = await self._fetch(query)
        return stored_from_row(rows[0]) if rows else None

    async def records_of(
        self,
        collection: str,
        station_ids: tuple[str, ...] | None,
        id_prefix: str = "",
        live_only: bool = True,
        limit: int = 1000,
    ) -> list[StoredRecord]:
        r = t.record.c
        query = select(*RECORD_COLUMNS).where(r.collection == collection)
        if station_ids is not None:
            query = query.where(r.station_id.in_(station_ids))
        if id_prefix:
            escaped = id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(r.id.like(escaped + "%", escape="\\"))
        if live_only:
            query = query.where(r.deleted.is_(False))
        rows = await self._fetch(query.order_by(r.seq.desc()).limit(limit))
        return [stored_from_row(row) for row in rows]

    async def last_seq(self) -> int:
        rows = await self._fetch(select(t.counter.c.value).where(t.counter.c.name == "seq"))
        return int(rows[0][0]) if rows else 0

    async def sync_state(self) -> SyncState:
        if self._lookup is not None:  # three primary-key reads: quicker than a thread hop
            return state_from_rows(self._lookup.execute(STATE_SQL).fetchall())
        # Every pull reads it: one round trip, no BEGIN/ROLLBACK around it.
        rows = await self._driver_fetch(STATE_SQL)
        return state_from_rows([(r[0], r[1]) for r in rows])

    async def new_epoch(self, epoch: int) -> None:
        async with self.engine.begin() as conn:
            await replace_epoch(conn, self.is_sqlite, epoch)

    async def conflicts(
        self, station_ids: tuple[str, ...] | None, after_id: int, limit: int
    ) -> list[tuple[int, Conflict]]:
        c = t.conflict.c
        query = select(t.conflict).where(c.id > after_id).order_by(c.id).limit(limit)
        if station_ids is not None:
            query = query.where(c.station_id.in_(station_ids))
        rows = await self._fetch(query)
        return [(row.id, conflict_from_row(row)) for row in rows]

    async def add_conflict_review(self, review: ConflictReview, audit: AuditEvent) -> bool:
        return await sql_reviews.add_conflict_review(self.engine, self.is_sqlite, review, audit)

    async def conflict_reviews(self, conflict_ids: Sequence[int]) -> dict[int, ConflictReview]:
        return await sql_reviews.conflict_reviews(self.engine, conflict_ids)

    async def analysis_result(self, key: str, seq: int) -> bytes | None:
        return await sql_cluster.analysis_result(self.engine, key, seq)

    async def put_analysis_result(self, key: str, seq: int, body: bytes, now_ms: int) -> None:
        await sql_cluster.put_analysis_result(self.engine, self.is_sqlite, key, seq, body, now_ms)

    async def take_lease(self, name: str, holder: str, now_ms: int, ttl_ms: int) -> bool:
        return await sql_cluster.take_lease(
            self.engine, self.is_sqlite, name, holder, now_ms, ttl_ms
        )

    async def drop_lease(self, name: str, holder: str) -> None:
        await sql_cluster.drop_lease(self.engine, name, holder)

    async def chain(self, device_id: str) -> list[StoredRecord]:
        r = t.record.c
        query = (
            select(*RECORD_COLUMNS)
            .where(
                r.collection == "patrol_logs",
                r.author_device == device_id,
                r.chain_n.is_not(None),  # every entry has one; lets the partial index serve
            )
            .order_by(r.chain_n)
        )
        return [stored_from_row(row) for row in await self._fetch(query)]

    async def chain_base(self, device_id: str) -> ChainHead | None:
        b = t.chain_base.c
        rows = await self._fetch(select(b.n, b.hash).where(b.device_id == device_id))
        return ChainHead(device_id, int(rows[0][0]), rows[0][1]) if rows else None

    async def points(
        self, query: PointQuery, columns: tuple[str, ...] = ("lon", "lat", "occurred_s")
    ) -> dict[str, np.ndarray]:
        return await sql_geo.points(self._fetch, query, columns)

    async def time_span(self, query: PointQuery) -> tuple[int, int] | None:
        return await sql_geo.time_span(self._fetch, query)

    async def tracks(
        self, query: PointQuery, columns: tuple[str, ...] = TRACK_COLUMNS
    ) -> dict[str, np.ndarray]:
        return await sql_geo.tracks(self._fetch, query, columns)

    async def cell_counts(
        self, query: PointQuery, bucket_s: int | None = None
    ) -> dict[str, np.ndarray]:
        return await sql_geo.cell_counts(self._fetch, query, bucket_s)

    async def replace_boundaries(self, layer: str, items: list[Boundary]) -> None:
        await sql_geo.replace_boundaries(self.engine, layer, items)

    async def boundaries(self, layer: str) -> list[Boundary]:
        return await sql_geo.boundaries(self._fetch, layer)

    async def prune_answers(self, older_than_ms: int) -> int:
        async with self._write_lock, self.engine.begin() as conn:
            result = await conn.execute(
                delete(t.batch_answer).where(t.batch_answer.c.created_ms < older_than_ms)
            )
        return int(result.rowcount or 0)

    # --- public summaries ---
    async def add_public_snapshots(self, snapshots: list[PublicSnapshot]) -> None:
        if not snapshots:
            return
        # Always the same order, so two processes publishing the same month at once meet on
        # the same first key and one of them wins every kind (PostgreSQL waits on it).
        rows = sorted((asdict(s) for s in snapshots), key=lambda r: (r["month"], r["kind"]))
        stmt = dialect_insert(self.is_sqlite, t.public_snapshot).on_conflict_do_nothing(
            index_elements=["month", "kind"]
        )
        async with self._write_lock, self.engine.begin() as conn:
            for row in rows:
                await conn.execute(stmt, row)

    async def public_snapshots(self) -> list[PublicSnapshot]:
        p = t.public_snapshot.c
        rows = await self._fetch(select(t.public_snapshot).order_by(p.month, p.kind))
        return [PublicSnapshot(r.month, r.kind, r.rules, r.body, r.published_ms) for r in rows]

    # --- helpers ---
    async def _fetch(self, query: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
        """One read statement (on SQLite, in autocommit: no BEGIN/ROLLBACK round trips)."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = await conn.execution_options(sqlite_begin="")
            result = (await conn.execute(query, params or {})).all()
            if not self.is_sqlite:
                await conn.rollback()
            return result

    async def _driver_fetch(
        self, sql: str, *params: Any, engine: AsyncEngine | None = None
    ) -> list[Any]:
        """One read through asyncpg itself, in autocommit (PostgreSQL's hot reads), on
        ``engine`` (the main pool if None)."""
        async with (engine or self.engine).connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            try:
                if not self.pgbouncer:
                    return list(await driver.fetch(sql, *params))
                # asyncpg prepares, then binds, in two round trips; out of a transaction
                # PgBouncer may send the second to another server, which lacks the statement.
                async with driver.transaction(readonly=True):
                    return list(await driver.fetch(sql, *params))
            except Exception as exc:
                closed = driver.is_closed()
                if closed or is_unavailable(exc):
                    # SQLAlchemy never saw this error, so its pool would hand the dead
                    # connection out again, and on the lookup pool only a push would find
                    # it dead (tests/sync/test_pg_reconnect.py): thrown away instead.
                    await conn.invalidate(exc)
                if closed:  # whatever PostgreSQL's reason (57P05 idle_session_timeout...)
                    raise unavailable(exc) from exc
                raise

    async def _upsert(self, table: Any, row: dict[str, Any], keys: list[str]) -> None:
        stmt = dialect_insert(self.is_sqlite, table).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={k: v for k, v in row.items() if k not in keys}
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)


async def _ensure_counter(conn: AsyncConnection, is_sqlite: bool) -> None:
    stmt = dialect_insert(is_sqlite, t.counter).values(name="seq", value=0)
    await conn.execute(stmt.on_conflict_do_nothing())


TOKEN_SQL = (
    "SELECT d.id, d.name, o.id, o.role, o.station_id FROM device d"
    " JOIN officer o ON o.id = d.officer_id"
    " WHERE d.token_hash = ? AND d.revoked_ms IS NULL"
)
SESSION_SQL = (
    "SELECT s.token_hash, s.officer_id, s.csrf, s.expires_ms, o.role, o.station_id"
    " FROM web_session s JOIN officer o ON o.id = s.officer_id"
    " WHERE s.token_hash = ? AND s.expires_ms > ?"
)
# The same two for asyncpg, whose placeholders are numbered.
PG_TOKEN_SQL = TOKEN_SQL.replace("?", "$1")
PG_SESSION_SQL = SESSION_SQL.replace("?", "$1", 1).replace("?", "$2", 1)


def _credential(row: Any) -> Credential:
    return Credential(row.officer_id, row.password_hash, row.failed, row.locked_until_ms)
