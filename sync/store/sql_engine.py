"""Making the adapter's SQLAlchemy engine: SQLite's pragmas and its own BEGIN, PostgreSQL's
pool (and PgBouncer's driver arguments), and SQLite's plain read-only connections.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sync.store.sqlite_wal import BUSY_TIMEOUT_MS, WalCheckpointer, set_wal_pragmas

PG_EXTRA_CONNECTIONS = 5  # on PostgreSQL a worker may open pool_size + this many
# Of those, straight to PostgreSQL, the pool of statements planned once (make_point_engine).
POINT_CONNECTIONS = 3


def make_engine(
    url: str,
    *,
    pool_size: int,
    pgbouncer: bool,
    synchronous: str,
    cache_mb: int,
    point_pool: bool = False,
) -> tuple[AsyncEngine, WalCheckpointer | None]:
    """The engine for ``url``, and on SQLite the WAL checkpointer its commits report to.
    ``point_pool``: PostgreSQL only, ``make_point_engine``'s pool takes ``POINT_CONNECTIONS``
    of the connections beyond ``pool_size``."""
    if not url.startswith("sqlite"):
        # The connections beyond ``pool_size`` are kept once opened, not SQLAlchemy's
        # overflow, which closes them as soon as they are returned: under load that was a
        # connection opened and closed every few requests, each costing a backend fork and
        # asyncpg's type introspection on the new connection (three round trips, ~13 ms of
        # PostgreSQL); PostgreSQL's CPU per served request halved without it (bench.load).
        extra = PG_EXTRA_CONNECTIONS - (POINT_CONNECTIONS if point_pool else 0)
        engine = create_async_engine(
            url,
            pool_size=pool_size + extra,
            max_overflow=0,
            hide_parameters=True,
            connect_args=_pgbouncer_args() if pgbouncer else {},
        )
        if not pgbouncer:
            _plan_for_values(engine)
        return engine, None
    # Reads run without BEGIN (one statement sees one snapshot) and every write path
    # commits or rolls back itself, so a returned connection has nothing to reset:
    # skipping the reset saves a thread hop per request.
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        hide_parameters=True,
        pool_reset_on_return=None,
    )
    path = engine.url.database or ""
    if not path or path == ":memory:":
        # Every pooled connection would get its own empty database.
        raise ValueError("a SQLite store needs a file: sqlite+aiosqlite:///PATH")
    checkpointer = WalCheckpointer(path)
    _sqlite_pragmas(engine, synchronous, cache_mb, checkpointer)
    return engine, checkpointer


def make_point_engine(url: str) -> AsyncEngine:
    """PostgreSQL straight (not through PgBouncer): the pool of the statements whose best plan
    is the same for every value, so PostgreSQL may keep the plan it made once.

    They are the token lookup every request makes (a browser's session lookup in its stead)
    and the push unit's statements (a key, or a list of keys through ``unnest``).  On the main
    pool, where every statement is planned for its values (``_plan_for_values``), planning
    cost more than running them: the token lookup's join 0.18 ms of planning against 0.02 ms
    of execution, and with the push unit's statements a fifth of PostgreSQL's CPU in the load
    runs (pg_stat_statements with ``track_planning``, docs/benchmarks.md).  The server's
    default ``plan_cache_mode`` (``auto``) keeps a generic plan after five runs when it costs
    no more than the custom ones.  Through PgBouncer statements are unnamed and planned on
    every run anyway, so there is no such pool there.
    """
    return create_async_engine(
        url, pool_size=POINT_CONNECTIONS, max_overflow=0, hide_parameters=True
    )


def _pgbouncer_args() -> dict[str, Any]:
    """asyncpg's arguments for PgBouncer in transaction mode: no statement cache (a cached
    statement lives on one server connection) and a unique name for every statement that
    SQLAlchemy prepares (PgBouncer 1.18 passes names through; two clients' "stmt_1" on one
    server connection would collide). As SQLAlchemy's asyncpg dialect documents."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__",
    }


def _plan_for_values(engine: AsyncEngine) -> None:
    """Every statement planned for its values, on each new connection straight to PostgreSQL.

    asyncpg prepares and caches every statement, and PostgreSQL may keep a generic plan,
    made without the values, after five runs of one.  Ronda's reads are the kind that plan
    hurts: how many rows a station, a cursor or a time window selects varies by orders of
    magnitude.  The pull of one station, planned generically on records of many stations
    interleaved (as pushes write them), walked the sequence index and threw the other
    stations' rows away (tests/sync/test_pull_plan.py); in the load runs that was 15-20 ms a
    pull instead of under 1.  A custom plan costs a fraction of a millisecond of planning.
    Through PgBouncer statements are unnamed (``_pgbouncer_args``), so always planned so; a
    ``SET`` there would stay on a server connection other clients share, so none is sent.
    (A SET, not asyncpg's ``server_settings``: PgBouncer refuses unknown startup parameters,
    and a deployment that forgot ``database.pgbouncer`` should fail as docs/operations.md
    says, on its first prepared statement.)
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Outside a transaction (SQLAlchemy's recipe for search_path): the driver would open
        # one, and a connection whose first use only reads is rolled back when returned to
        # the pool, taking the SET with it.
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        cursor = dbapi_conn.cursor()
        cursor.execute("SET plan_cache_mode = force_custom_plan")
        cursor.close()
        dbapi_conn.autocommit = autocommit


def open_lookup(engine: AsyncEngine) -> sqlite3.Connection:
    """A plain, read-only sqlite3 connection to the engine's database file."""
    path = engine.url.database or ""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA query_only=ON")
    return conn


def _sqlite_pragmas(
    engine: AsyncEngine, synchronous: str, cache_mb: int, checkpointer: WalCheckpointer
) -> None:
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below), so the driver must not.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        set_wal_pragmas(cursor.execute)
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        # The default 2 MB cache holds a sliver of the indexes a push inserts into at random.
        cursor.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "commit")
    def _on_commit(_conn: Any) -> None:
        checkpointer.wrote()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        statement = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        if statement:  # "" marks a single-statement read: autocommit, no BEGIN
            conn.exec_driver_sql(statement)
