"""A real Ronda server in its own process, for fault and end-to-end tests.

``ServerProcess`` runs ``python -m uvicorn --factory server.app:create_app`` on a free loopback
port against a database URL (``RONDA_DATABASE__URL``), waits for ``/readyz``, and can be
``kill -9``-ed and started again on the same database.  Its stderr and stdout go to files so
tests can read the logs (and so a full pipe can never stall the server).

``seed_database`` puts the people of ``tests.support.seed_people`` into a database through the
store API before any server runs; ``own_postgres_database`` gives a test its own PostgreSQL
database on the test server, so it never collides with tests that reset ``ronda_test``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from sync.store.sql import SQLStore
from tests.support import PG_URL, People, seed_people
from tests.workers import worker_suffix

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed_database(url: str) -> People:
    """Create the tables and the test people (with device tokens) in the database at ``url``."""
    store = SQLStore(url)
    await store.open()
    try:
        return await seed_people(store)
    finally:
        await store.close()


async def own_postgres_database(name: str) -> str:
    """Drop and create database ``name`` on the test PostgreSQL server; return its URL."""
    import asyncpg

    assert PG_URL, "RONDA_TEST_PG_URL is not set"
    base, _, own = PG_URL.rpartition("/")
    if name != own:  # a name of the test's choosing: one per xdist worker
        name += worker_suffix()
    dsn = base.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base}/{name}"


# For the browser tests' servers. They share a CI machine with a second test worker and a
# Chromium, where a chief's map (6 connections, and the tiles of every view it leaves still
# being built until the disconnect is noticed) can stand in the default admission queue for
# longer than its 0.05 s target and get tiles shed: CI saw 429s on street tiles of a lone
# chief's map. The pages are judged on what they do; shedding has its own tests
# (tests/server/test_shedding.py, test_client_gone.py), at the default limits.
ROOMY_ADMISSION = {"RONDA_SYNC__MAX_INFLIGHT": "32", "RONDA_SYNC__QUEUE_TARGET_S": "0.5"}


class ServerProcess:
    """One uvicorn process serving ``server.app:create_app`` on a database."""

    def __init__(self, database_url: str, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.log_dir = log_dir
        self.extra_env = env or {}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "server.stderr.log"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "server.stdout.log"

    async def start(self, timeout_s: float = 120.0) -> None:
        """Start the server (on the same port as before, if it ran) and wait until ready."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the server is already running")
        for attempt in range(3):
            if not self.port or attempt:
                self.port = free_port()
            self._spawn()
            if await self._wait_ready(timeout_s):
                self.starts += 1
                return
            self.kill9()
        raise RuntimeError(f"the server did not become ready; see {self.stderr_path}")

    def _spawn(self) -> None:
        env = {**os.environ, **self.extra_env}
        env["RONDA_DATABASE__URL"] = self.database_url
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "server.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--timeout-graceful-shutdown",
            "5",
        ]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("ab") as err, self.stdout_path.open("ab") as out:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )

    async def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    return False  # exited: most likely the port was taken meanwhile
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        return False

    def kill9(self) -> None:
        """``kill -9`` the server: no shutdown hook, no flush, no goodbye."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    async def stop(self) -> None:
        """Stop gracefully (SIGTERM); kill if it does not exit within 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        for _ in range(200):
            if self.proc.poll() is not None:
                return
            await asyncio.sleep(0.05)
        self.kill9()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        """Everything the server wrote to stderr and stdout so far."""
        parts = [p.read_text(errors="replace") for p in (self.stderr_path, self.stdout_path)]
        return "".join(parts)

    async def __aenter__(self) -> ServerProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
