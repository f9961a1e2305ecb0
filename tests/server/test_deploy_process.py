"""Deploying for real (issue 19): real uvicorn processes with several workers.

- ``/metrics`` gives one figure for the whole server, whichever worker answers;
- every line a server writes, an unhandled error's traceback included, is one JSON object,
  and no exception message (which may quote a token or a name) reaches it;
- ``ronda serve --workers 4`` on all of Peru's districts starts without uvicorn killing a
  worker (its 5 s health check went unanswered while the worker imported and loaded).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from server.cli import LOG_CONFIG
from server.logs import uvicorn_log_config
from sync.clock import HybridClock
from tests.boom_app import SECRET
from tests.server_process import REPO, ServerProcess, own_postgres_database, seed_database
from tests.support import PG_URL, incident, new_id, store_params

RONDA = Path(sys.executable).with_name("ronda")


class Uvicorn(ServerProcess):
    """``ServerProcess`` with a command of the test's choosing (workers, factory, log config)."""

    def __init__(self, url: str, log_dir: Path, args: list[str], **kw: Any) -> None:
        super().__init__(url, log_dir, **kw)
        self.args = args

    async def start(self, timeout_s: float = 180.0) -> None:
        # Several workers importing the geo stack on a busy machine can take a minute.
        await super().start(timeout_s)

    def _spawn(self) -> None:
        env = {**os.environ, **self.extra_env, "RONDA_DATABASE__URL": self.database_url}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        command = [a.replace("{port}", str(self.port)) for a in self.args]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("ab") as err, self.stdout_path.open("ab") as out:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )


def uvicorn_args(factory: str, workers: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        str(workers),
        *extra,
    ]


def json_lines(server: ServerProcess) -> list[dict[str, Any]]:
    """Every line the server wrote, each parsed as JSON (a line that is not fails the test)."""
    records = []
    for path in (server.stderr_path, server.stdout_path):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                pytest.fail(f"{path.name}:{number} is not JSON: {line[:160]!r}")
    return records


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.slow
@pytest.mark.parametrize("kind", store_params())
async def test_metrics_are_the_servers_not_a_workers(tmp_path: Path, kind: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    if kind == "postgres":  # the database RONDA_TEST_PG_URL names, made afresh
        url = await own_postgres_database(PG_URL.rpartition("/")[2])  # type: ignore[union-attr]
    people = await seed_database(url)
    token = people.tokens["off-a"]
    server = Uvicorn(url, tmp_path / "logs", uvicorn_args("server.app:create_app", 2))
    clock = HybridClock()
    pushes = 24
    async with server:
        for _ in range(pushes):
            # A new connection each time, so that the pushes spread over both workers.
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                body = {"batch_id": new_id(), "changes": [incident(new_id(), clock)]}
                answer = await http.post("/v1/sync/push", json=body, headers=auth(token))
                assert answer.status_code == 200, answer.text
        figures = []
        for _ in range(8):
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                text = (await http.get("/metrics")).text
            figures.append(
                (
                    sample(text, 'ronda_syncs_total{kind="push"}'),
                    sample(text, 'ronda_sync_changes_total{status="applied"}'),
                )
            )
    assert figures == [(pushes, pushes)] * 8


async def _provoke_500(server: ServerProcess) -> None:
    for _ in range(3):
        # A connection each: uvicorn closes the one whose request raised.
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            answer = await http.get("/boom")
        assert answer.status_code == 500
        assert answer.json()["error"]["code"] == "internal_error"


def _check_error_records(records: list[dict[str, Any]]) -> None:
    failures = [r for r in records if r.get("code") == "internal_error"]
    assert len(failures) == 3
    for record in failures:
        assert record["exc_type"] == "RuntimeError"
        assert "in boom" in record["exc"]  # the frames are there, for the operator
    assert not any("Exception in ASGI application" in r["msg"] for r in records)


@pytest.mark.slow
@pytest.mark.parametrize("with_log_config", [False, True], ids=["plain-uvicorn", "log-config"])
async def test_every_line_is_json_and_errors_quote_nothing(
    tmp_path: Path, with_log_config: bool
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    await seed_database(url)
    extra = ["--log-config", str(LOG_CONFIG)] if with_log_config else []
    workers = 2 if with_log_config else 1  # a supervisor's own lines only with --log-config
    args = uvicorn_args("tests.boom_app:create_app", workers, *extra)
    server = Uvicorn(url, tmp_path / "logs", args)
    async with server:
        await _provoke_500(server)
    records = json_lines(server)
    _check_error_records(records)
    assert SECRET.split()[0] not in server.logs()
    assert "Zoila" not in server.logs()
    assert any("Started server process" in r["msg"] for r in records)  # uvicorn's, as JSON


def test_shipped_log_config_is_the_one_ronda_serve_uses() -> None:
    assert orjson.loads(LOG_CONFIG.read_bytes()) == uvicorn_log_config("info")


async def _districts_database(url: str, peru: Path) -> None:
    from geo.importer import import_districts
    from server.maps.places import store_layer
    from sync.store.sql import SQLStore

    found = import_districts(
        peru / "peru_distrital_simple.geojson", code_column="IDDIST", name_column="NOMBDIST"
    )
    store = SQLStore(url)
    await store.open()
    try:
        await store_layer(store, "districts", found.frame)
    finally:
        await store.close()


async def _wait_for(server: ServerProcess, text: str, count: int, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while server.logs().count(text) < count:
        assert loop.time() < deadline, f"fewer than {count} {text!r} in {server.stderr_path}"
        assert server.running, f"the server stopped; see {server.stderr_path}"
        await asyncio.sleep(0.2)


@pytest.mark.slow
@pytest.mark.skipif(not RONDA.exists(), reason="the ronda command is not installed")
async def test_four_workers_start_on_all_of_peru(tmp_path: Path, shared_data_dir: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    await _districts_database(url, shared_data_dir)
    for start in range(5):
        args = [str(RONDA), "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", "4"]
        server = Uvicorn(url, tmp_path / f"logs-{start}", args)
        await server.start(timeout_s=180)
        try:
            # Each worker says so when its boundaries are loaded; a worker uvicorn killed and
            # replaced on the way would show as a fifth "Started server process".
            await _wait_for(server, '"msg":"places loaded"', 4, 300)
            logs = server.logs()
            assert logs.count("Started server process") == 4, server.stderr_path
            assert " died" not in logs, server.stderr_path
        finally:
            await server.stop()
        json_lines(server)  # ronda serve writes JSON only, uvicorn's supervisor included
