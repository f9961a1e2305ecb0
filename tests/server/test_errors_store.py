"""A database that goes away mid-life reaches the client as 503 ``store_unavailable``.

The store translates its drivers' errors (sync/store/driver_errors.py) so that only
``StoreUnavailable`` crosses the port; server/errors.py knows no driver.  Each test breaks a
real database under a running app: the SQLite file can no longer be opened, or every
connection to PostgreSQL is cut (a proxy between the app and the server is shut).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.app import create_app
from server.settings import DatabaseSettings, Settings
from sync.errors import StoreUnavailable
from sync.store.sql import SQLStore
from tests.server.conftest import Served
from tests.server.test_error_shape import assert_error_shape
from tests.support import PG_URL, reset_postgres, seed_people

REPO = Path(__file__).resolve().parents[2]
DRIVERS = ("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite", "psycopg", "psycopg2")


def test_server_errors_imports_no_driver() -> None:
    tree = ast.parse((REPO / "server" / "errors.py").read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & set(DRIVERS)


async def test_sqlite_file_gone_answers_503(served: Served, tmp_path: Path) -> None:
    store = served.store
    assert isinstance(store, SQLStore)
    db = tmp_path / "ronda.db"
    assert db.is_file()
    stations = "/v1/admin/stations"
    assert (await served.client.get(stations, headers=served.auth("admin"))).status_code == 200
    # The pooled connections are dropped (as after a recycle) and the file is replaced by a
    # folder: SQLite cannot open it ("unable to open database file"), root or not.
    await store.engine.dispose()
    db.rename(tmp_path / "moved.db")
    db.mkdir()
    try:
        answer = await served.client.get(stations, headers=served.auth("admin"))
        # A reader next to the port (the attachment index, analysis) uses the engine directly.
        with pytest.raises(StoreUnavailable):
            async with store.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        db.rmdir()
        (tmp_path / "moved.db").rename(db)  # the WAL checkpointer's last pass opens it again
    error = assert_error_shape(answer, 503, "store_unavailable")
    assert error == {
        "code": "store_unavailable",
        "message": "the database is unavailable; retry",
        "details": {},
    }
    assert (await served.client.get(stations, headers=served.auth("admin"))).status_code == 200


async def test_a_cancelled_query_stays_cancelled(served: Served) -> None:
    """SQLAlchemy reports a task cancelled mid-statement to the error hook as a disconnect;
    it must leave as a cancellation, not StoreUnavailable (the background jobs retry on
    that, so the server's shutdown waited for them forever)."""
    store = served.store
    assert isinstance(store, SQLStore)
    running = asyncio.Event()
    slow = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)"
        " SELECT count(*) FROM n"
    )

    async def query() -> None:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            running.set()  # the task runs on into execute() and waits there for the driver
            await conn.execute(slow)

    task = asyncio.create_task(query())
    await running.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class Proxy:
    """A TCP proxy to PostgreSQL that can be shut: listening stops, open connections drop."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0  # where it listens
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> int:
        """Listen on ``port`` (0: any free one), as PostgreSQL back after a restart."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        bound: int = self.server.sockets[0].getsockname()[1]
        return bound

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self.tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)
        self.tasks.difference_update(pumps)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def shut(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in self.writers:
            writer.transport.abort()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        self.writers.clear()


@contextlib.asynccontextmanager
async def app_through(proxy: Proxy) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    assert PG_URL
    await reset_postgres(PG_URL)
    proxy.port = await proxy.start()
    url = make_url(PG_URL).set(port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(_env_file=None, database=DatabaseSettings(url=url))
    store = SQLStore(url)
    app = create_app(settings, store)
    async with app.router.lifespan_context(app):
        people = await seed_people(store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, {"Authorization": f"Bearer {people.tokens['admin']}"}


@pytest.mark.skipif(not PG_URL, reason="RONDA_TEST_PG_URL is not set")
async def test_postgres_gone_answers_503() -> None:
    assert PG_URL
    target = make_url(PG_URL)
    proxy = Proxy(target.host or "127.0.0.1", target.port or 5432)
    try:
        async with app_through(proxy) as (client, admin):
            assert (await client.get("/v1/admin/stations", headers=admin)).status_code == 200
            await proxy.shut()
            # The token lookup (asyncpg directly, on a pooled connection now dead), then a
            # connection refused: both are the database being gone.
            for path in ("/v1/admin/stations", "/v1/admin/officers"):
                answer = await client.get(path, headers=admin)
                error = assert_error_shape(answer, 503, "store_unavailable")
                assert error["message"] == "the database is unavailable; retry"
                assert error["details"] == {}
            # PostgreSQL back on its address: the pooled connections that died are thrown
            # away as requests meet them (each may cost one 503), and the server serves
            # again by itself, every request after.
            await proxy.start(proxy.port)
            statuses = [(await client.get("/v1/admin/stations", headers=admin)).status_code]
            while statuses[-1] != 200 and len(statuses) < 15:
                statuses.append((await client.get("/v1/admin/stations", headers=admin)).status_code)
            assert statuses[-1] == 200 and set(statuses) <= {200, 503}, statuses
            for path in ("/v1/admin/stations", "/v1/admin/officers", "/v1/admin/devices") * 3:
                assert (await client.get(path, headers=admin)).status_code == 200, path
    finally:
        await proxy.shut()
