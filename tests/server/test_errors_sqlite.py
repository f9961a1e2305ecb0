"""SQLite's errors are told apart by their result code: a locked, missing or damaged database
is 503 ``store_unavailable`` (retry later), bad SQL is a bug (500, logged as one).

sqlite3 raises ``OperationalError`` for both "database is locked" and "no such column", and
SQLAlchemy wraps both in its own ``OperationalError``: sync/store/driver_errors.py decides by
the driver's ``sqlite_errorcode``.  Every error here is made by real SQLite on a real file: a
second connection holding ``BEGIN EXCLUSIVE`` (the store runs in WAL mode, where that blocks
writers, not readers), a folder or garbage where the file should be, a table renamed away.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from sync.attachments.index import SQLiteAccess
from sync.errors import StoreUnavailable
from sync.store.driver_errors import translated
from sync.store.sql import SQLStore
from tests.attachments.support import TUS, create, jpeg_with_gps, patch, push_incident, ref
from tests.server.conftest import Served, served_on
from tests.server.test_error_shape import assert_error_shape

UNAVAILABLE_BODY = {  # docs/protocol.md, "Request-level errors"
    "code": "store_unavailable",
    "message": "the database is unavailable; retry",
    "details": {},
}
SHORT_BUSY_MS = 50  # the app waits 10 s for a lock; the tests need not


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, attachments=AttachmentSettings(dir=str(tmp_path / "att")))


@contextlib.contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another connection holds the write lock of ``db`` (``BEGIN EXCLUSIVE``) meanwhile."""
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


async def short_busy_timeout(engine: AsyncEngine) -> None:
    """The engine's connections, made again, wait ``SHORT_BUSY_MS`` for a lock (the store's
    own ``connect`` hook, which sets 10 s, runs first)."""

    def shorten(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SHORT_BUSY_MS}")
        cursor.close()

    event.listen(engine.sync_engine, "connect", shorten)
    await engine.dispose()


def raised(block: Callable[[], object]) -> BaseException:
    """What ``block`` raises inside ``translated()``, the store's translation."""
    try:
        with translated():
            block()
    except BaseException as exc:  # the test looks at whatever it is
        return exc
    raise AssertionError("nothing was raised")


def test_sqlite3_errors_meaning_unavailable_become_store_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    conn = sqlite3.connect(db, isolation_level=None, timeout=0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    with locked(db):  # SQLITE_BUSY
        busy = raised(lambda: conn.execute("INSERT INTO t VALUES (1)"))
    folder = tmp_path / "folder.db"
    folder.mkdir()  # SQLITE_CANTOPEN
    cantopen = raised(lambda: sqlite3.connect(folder))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 512)  # SQLITE_NOTADB
    other = sqlite3.connect(garbage)
    notadb = raised(lambda: other.execute("SELECT * FROM sqlite_master"))
    other.close()
    conn.close()
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)  # a rollback journal
    old.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    os.rename(tmp_path / "old.db", tmp_path / "moved.db")  # SQLITE_READONLY_DBMOVED
    moved = raised(lambda: old.execute("INSERT INTO t VALUES (2)"))
    old.close()
    for exc in (busy, cantopen, notadb, moved):
        assert isinstance(exc, StoreUnavailable), repr(exc)
        assert isinstance(exc.__cause__, sqlite3.Error)  # the driver's text, for the log


async def test_opening_a_store_tells_a_broken_schema_from_an_unavailable_file(
    tmp_path: Path,
) -> None:
    """A schema an upgrade cannot apply to (made by hand: an index where migration 0007 puts
    a table) is shown as its own error: "cannot open the database", which means "retry
    later", would send the operator to wait for nothing."""
    broken = tmp_path / "broken.db"
    store = SQLStore(f"sqlite+aiosqlite:///{broken}", upgrade=True)
    await store.open()
    await store.close()
    with contextlib.closing(sqlite3.connect(broken)) as conn:
        conn.execute("DROP TABLE chain_base")
        conn.execute("UPDATE alembic_version SET version_num = '0006_cluster'")
        conn.execute("CREATE INDEX chain_base ON record (id)")
        conn.commit()
    with pytest.raises(DBAPIError, match="already an index named chain_base"):
        await SQLStore(f"sqlite+aiosqlite:///{broken}", upgrade=True).open()
    folder = tmp_path / "folder.db"
    folder.mkdir()  # SQLITE_CANTOPEN: unavailable, as before
    with pytest.raises(StoreUnavailable, match="cannot open the database"):
        await SQLStore(f"sqlite+aiosqlite:///{folder}", upgrade=True).open()


def test_sqlite3_errors_of_a_bug_pass_through(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES (1)")
    reader = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    reader.execute("PRAGMA query_only=ON")  # as the store's and the index's readers
    bugs = {
        "no such column": lambda: conn.execute("SELECT nope FROM t"),
        "no such table": lambda: conn.execute("SELECT * FROM gone"),
        "syntax error": lambda: conn.execute("SELEC 1"),
        "UNIQUE constraint": lambda: conn.execute("INSERT INTO t VALUES (1)"),
        "readonly database": lambda: reader.execute("INSERT INTO t VALUES (2)"),
        "binding parameter": lambda: conn.execute("SELECT ?", (object(),)),
    }
    try:
        for words, block in bugs.items():
            exc = raised(block)
            assert isinstance(exc, sqlite3.Error), (words, repr(exc))
            assert words in str(exc)
    finally:
        conn.close()
        reader.close()


async def test_sqlalchemy_over_sqlite_bad_sql_is_no_store_unavailable(served: Served) -> None:
    """Through the store's engine (aiosqlite, the ``handle_error`` hook): bad SQL leaves as
    SQLAlchemy's error, a locked file as StoreUnavailable."""
    store = served.store
    assert isinstance(store, SQLStore)
    for sql, params in (
        ("SELECT nope FROM station", {}),
        ("SELEC 1", {}),
        ("SELECT :x", {"x": object()}),  # sqlite3 cannot bind it
    ):
        with pytest.raises(DBAPIError) as caught:
            async with store.engine.connect() as conn:
                await conn.execute(text(sql), params)
        assert isinstance(caught.value.orig, sqlite3.Error)
    await short_busy_timeout(store.engine)
    with locked(Path(str(store.engine.url.database))), pytest.raises(StoreUnavailable):
        async with store.engine.begin() as conn:
            await conn.execute(text("INSERT INTO station (id, name) VALUES ('st-x', 'X')"))


async def test_a_locked_sqlite_file_answers_503(served: Served) -> None:
    store = served.store
    assert isinstance(store, SQLStore)
    await short_busy_timeout(store.engine)
    station = {"id": "st-new", "name": "Nueva", "district_code": "150101"}
    admin = served.auth("admin")
    with locked(Path(str(store.engine.url.database))):
        answer = await served.client.post("/v1/admin/stations", json=station, headers=admin)
    assert assert_error_shape(answer, 503, "store_unavailable") == UNAVAILABLE_BODY
    answer = await served.client.post("/v1/admin/stations", json=station, headers=admin)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_bad_sql_answers_500(backend: str, tmp_path: Path, app_settings: Settings) -> None:
    """A table the code reads is not there (the code and the schema disagree): a bug, 500."""
    async with served_on(backend, tmp_path, app_settings) as served:
        store = served.store
        assert isinstance(store, SQLStore)

        async def rename(old: str, new: str) -> None:
            async with store.engine.begin() as conn:
                await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

        transport = httpx.ASGITransport(app=served.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            stations = "/v1/admin/stations"
            await rename("station", "station_gone")
            try:
                answer = await client.get(stations, headers=served.auth("admin"))
            finally:
                await rename("station_gone", "station")
            error = assert_error_shape(answer, 500, "internal_error")
            assert error["message"] == "the server failed; the error is logged"
            assert (await client.get(stations, headers=served.auth("admin"))).status_code == 200


async def test_a_locked_attachment_index_answers_the_upload_503(served: Served) -> None:
    """The SQLite attachment index (plain sqlite3 connections) writes the upload's row: a
    locked file answers the last PATCH, and the HEAD that would finish it, 503; once the lock
    is gone the HEAD adds the row and answers the full offset."""
    store = served.store
    assert isinstance(store, SQLStore)
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps(noise=33)
    await push_incident(client, auth, "inc-locked", [ref(data)])
    created = await create(client, auth, data, "inc-locked")
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    index = served.app.state.attachments.index.sqlite
    assert index is not None  # SQLite: the plain connections
    index.writer.execute(f"PRAGMA busy_timeout={SHORT_BUSY_MS}")  # idle: its thread waits
    with locked(Path(str(store.engine.url.database))):
        last = await patch(client, auth, location, 0, data)
        head = await client.head(location, headers={**TUS, **auth})
    assert assert_error_shape(last, 503, "store_unavailable") == UNAVAILABLE_BODY
    assert last.headers["tus-resumable"] == "1.0.0"
    assert head.status_code == 503  # not the full offset: the client keeps its copy
    head = await client.head(location, headers={**TUS, **auth})
    assert head.status_code == 200 and head.headers["upload-offset"] == str(len(data))
    listed = (await client.get("/v1/attachments/incidents/inc-locked", headers=auth)).json()
    assert listed["attachments"][0]["received"] is True


async def test_the_attachment_index_keeps_bad_sql_a_bug(served: Served) -> None:
    """The index's plain connections use the same classification: bad SQL is no 503."""
    store = served.store
    assert isinstance(store, SQLStore)
    db = Path(str(store.engine.url.database))
    index = SQLiteAccess(str(db), "FULL", lambda: None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such column"):
            index.read("SELECT nope FROM attachment", ())
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await index.write("INSERT INTO gone VALUES (?)", (1,))
        index.writer.execute(f"PRAGMA busy_timeout={SHORT_BUSY_MS}")
        with locked(db), pytest.raises(StoreUnavailable):
            await index.write("INSERT INTO gone VALUES (?)", (1,))  # the lock comes first
    finally:
        index.close()
