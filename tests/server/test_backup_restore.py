"""A real backup and restore, on SQLite and PostgreSQL, with devices that synced in between.

After a restore the database gives sequence numbers again from the backup's last one.  A
device whose cursor was given after the backup must not page on from it (it would miss the
records that take those numbers again): the server refuses the cursor (400 invalid_cursor,
reason epoch_changed) and the reference client resyncs, ending with exactly the server's
records and its outbox intact.  Two ways to restore: ``ronda backup``/``ronda restore``, and
the tools themselves (``sqlite3 .backup`` and a file copy, ``pg_dump``/``pg_restore``)
followed by ``ronda new-epoch``, as docs/operations.md says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from server.app import create_app
from server.backup import libpq_env, pg_tool
from server.settings import Settings
from sync.client import RetryPolicy, SyncClient
from sync.engine import SyncEngine
from sync.store.sql import SQLStore
from tests.support import PG_URL, People, reset_postgres, seed_people, store_params

BASE = "http://ronda.test"
RONDA = str(Path(sys.executable).with_name("ronda"))


def _incident(text: str) -> dict[str, Any]:
    return {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00", "description": text}


_NOTE = {"kind": "note", "at": "2026-11-20T22:15:00-05:00", "text": "antes"}


async def _no_sleep(_: float) -> None:
    return None


class Server:
    """The app on its own store, started and stopped through its lifespan (which opens and
    closes the store, as a real server's start and stop do)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = SQLStore(url)
        self.transport: httpx.ASGITransport | None = None
        self._life: AbstractAsyncContextManager[object] | None = None

    async def start(self) -> None:
        self.store = SQLStore(self.url)
        settings = Settings(_env_file=None)
        settings.server.log_level = "warning"
        app = create_app(settings, self.store)
        self._life = app.router.lifespan_context(app)
        await self._life.__aenter__()
        self.transport = httpx.ASGITransport(app=app)

    async def stop(self) -> None:
        assert self._life is not None
        await self._life.__aexit__(None, None, None)

    def device(self, path: Path, token: str) -> SyncClient:
        return SyncClient(
            path, BASE, token, transport=self.transport, retry=RetryPolicy(2), sleep=_no_sleep
        )


def _ronda(url: str, *args: str) -> str:
    env = {**os.environ, "RONDA_DATABASE__URL": url}
    done = subprocess.run([RONDA, *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def _backup(kind: str, how: str, url: str, dest: Path) -> None:
    if how == "cli":
        _ronda(url, "backup", str(dest))
    elif kind == "sqlite":  # the documented online backup, while the server runs
        db = url.split("///", 1)[1]
        subprocess.run(["sqlite3", db, f".backup '{dest}'"], check=True)
    else:
        dump = [pg_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(dest)]
        subprocess.run(dump, env=libpq_env(url), check=True)


def _restore(kind: str, how: str, url: str, source: Path) -> None:
    """With the server stopped."""
    if how == "cli":
        assert "new epoch" in _ronda(url, "restore", str(source))
        return
    if kind == "sqlite":  # move the three files away, copy the backup in
        db = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            name = db.with_name(db.name + suffix)
            if name.exists():
                name.rename(name.with_name(name.name + ".old"))
        shutil.copyfile(source, db)
    else:
        database = url.rsplit("/", 1)[1]
        restore = [pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "-d", database]
        subprocess.run([*restore, str(source)], env=libpq_env(url), check=True)
    assert "new epoch" in _ronda(url, "new-epoch")


async def _server_records(store: SQLStore, people: People) -> dict[str, dict[str, Any]]:
    page = orjson.loads(await SyncEngine(store).pull(people.officer_a, "", 100_000))
    assert not page["has_more"]
    return {doc["id"]: doc for doc in page["changes"] if doc["collection"] == "incidents"}


def _local_records(client: SyncClient) -> dict[str, dict[str, Any]]:
    return {doc["id"]: doc for doc in client.box.records("incidents")}


@pytest.fixture(params=store_params())
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "postgres":
        assert PG_URL
        await reset_postgres(PG_URL)
        return "postgres", PG_URL
    return "sqlite", f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["cli", "tools"])
async def test_a_device_ahead_of_a_restored_backup_resyncs_and_keeps_its_outbox(
    database: tuple[str, str], how: str, tmp_path: Path
) -> None:
    kind, url = database
    server = Server(url)
    await server.start()
    people = await seed_people(server.store)
    ana = server.device(tmp_path / "ana.db", people.tokens["off-a"])
    luis = server.device(tmp_path / "luis.db", people.tokens["off-a2"])
    kept = [ana.create_incident(_incident(f"antes {i}")) for i in range(2)]
    await ana.identify()  # a device learns its id before it chains log entries
    ana.append_log(_NOTE)
    await ana.sync()
    before = luis.create_incident(_incident("de Luis, antes"))
    await luis.sync()
    await ana.sync()
    assert len(_local_records(ana)) == 3

    _backup(kind, how, url, tmp_path / "backup.bin")

    lost = [luis.create_incident(_incident(f"perdido {i}")) for i in range(2)]
    await luis.sync()
    lost_entries = [ana.append_log({**_NOTE, "text": f"perdida {i}"}) for i in range(2)]
    await ana.sync()  # Ana's cursor is now past everything the backup holds
    stale_cursor = ana.box.get("cursor")
    offline = ana.create_incident(_incident("escrito sin señal"))
    ana.update_incident(kept[0], {"status": "closed"})
    ana.update_incident(lost[0], {"status": "referred"})  # an edit of a record to be lost
    offline_entry = ana.append_log({**_NOTE, "text": "sin señal"})
    for client in (ana, luis):
        await client.aclose()
    await server.stop()

    _restore(kind, how, url, tmp_path / "backup.bin")

    await server.start()
    assert await server.store.last_seq() == 4  # 3 incidents and a log entry
    luis = server.device(tmp_path / "luis.db", people.tokens["off-a2"])
    # These take the sequence numbers of the lost records again.
    fresh = [luis.create_incident(_incident(f"después {i}")) for i in range(3)]
    await luis.sync()
    assert luis.stats.resyncs == 1
    # Luis's phone still held the two incidents it wrote that the restore lost: sent again.
    assert (luis.stats.dropped, luis.stats.resent) == (2, 2)
    assert luis.dropped_records() == []

    async with httpx.AsyncClient(transport=server.transport, base_url=BASE) as http:
        answer = await http.get(
            "/v1/sync/pull",
            params={"cursor": stale_cursor},
            headers={"Authorization": f"Bearer {people.tokens['off-a']}"},
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_cursor"
    assert answer.json()["error"]["details"]["reason"] == "epoch_changed"

    ana = server.device(tmp_path / "ana.db", people.tokens["off-a"])
    assert ana.pending_count() == 4
    result = await ana.sync()
    assert ana.stats.resyncs == 1
    assert (result.pending, ana.rejected()) == (0, [])
    assert ana.stats.resent == 2  # her two chain entries the restore lost

    on_server = await _server_records(server.store, people)
    assert _local_records(ana) == on_server
    assert set(on_server) == {*kept, before, offline, *fresh, *lost}
    assert on_server[offline]["fields"]["description"] == "escrito sin señal"
    assert on_server[kept[0]]["fields"]["status"] == "closed"
    assert on_server[lost[0]]["fields"]["status"] == "referred"  # her later edit still wins
    assert on_server[lost[1]]["fields"]["description"] == "perdido 1"
    assert ana.dropped_records() == []
    async with httpx.AsyncClient(transport=server.transport, base_url=BASE) as http:
        chain = await http.get(
            f"/v1/chains/{ana.device_id}",
            headers={"Authorization": f"Bearer {people.tokens['chief-a']}"},
        )
    assert chain.status_code == 200, chain.text
    assert (chain.json()["entries"], chain.json()["intact"]) == (4, True)
    entries = {doc["id"] for doc in ana.log_entries()}
    assert entries >= {*lost_entries, offline_entry}
    await luis.sync()
    assert _local_records(luis) == on_server
    await ana.aclose()
    await luis.aclose()
    await server.stop()


@pytest.mark.slow
async def test_without_a_new_epoch_a_cursor_past_the_restored_data_is_still_refused(
    database: tuple[str, str], tmp_path: Path
) -> None:
    """Defence in depth: a restore by hand that forgot ``ronda new-epoch`` still refuses a
    cursor beyond the restored data (not_issued), though only until the numbers are given
    again: the epoch is what protects devices."""
    kind, url = database
    server = Server(url)
    await server.start()
    people = await seed_people(server.store)
    ana = server.device(tmp_path / "ana.db", people.tokens["off-a"])
    ana.create_incident(_incident("uno"))
    await ana.sync()
    _backup(kind, "cli", url, tmp_path / "backup.bin")
    ana.create_incident(_incident("dos"))
    await ana.sync()
    cursor = ana.box.get("cursor")
    await ana.aclose()
    await server.stop()
    if kind == "sqlite":
        db = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(tmp_path / "backup.bin", db)
    else:
        database_name = url.rsplit("/", 1)[1]
        restore = [pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner"]
        command = [*restore, "-d", database_name, str(tmp_path / "backup.bin")]
        subprocess.run(command, env=libpq_env(url), check=True)
    await server.start()
    async with httpx.AsyncClient(transport=server.transport, base_url=BASE) as http:
        answer = await http.get(
            "/v1/sync/pull",
            params={"cursor": cursor},
            headers={"Authorization": f"Bearer {people.tokens['off-a']}"},
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["reason"] == "not_issued"
    await server.stop()


def _ronda_fails(url: str, *args: str) -> str:
    env = {**os.environ, "RONDA_DATABASE__URL": url}
    done = subprocess.run([RONDA, *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0, done.stdout
    return done.stderr


@pytest.mark.slow
async def test_a_restore_refused_or_failed_changes_nothing(
    database: tuple[str, str], tmp_path: Path
) -> None:
    """While the server runs, `ronda restore` refuses; a truncated backup fails whole (the
    database keeps its records and its epoch, so no device resyncs for nothing)."""
    _, url = database
    server = Server(url)
    await server.start()
    people = await seed_people(server.store)
    ana = server.device(tmp_path / "ana.db", people.tokens["off-a"])
    ana.create_incident(_incident("uno"))
    await ana.sync()
    await ana.aclose()
    _ronda(url, "backup", str(tmp_path / "backup.bin"))
    assert "stop the server" in _ronda_fails(url, "restore", str(tmp_path / "backup.bin"))
    before = await server.store.sync_state()
    records = await _server_records(server.store, people)
    await server.stop()

    whole = (tmp_path / "backup.bin").read_bytes()
    (tmp_path / "truncated.bin").write_bytes(whole[: len(whole) * 2 // 3])
    _ronda_fails(url, "restore", str(tmp_path / "truncated.bin"))

    await server.start()
    assert await server.store.sync_state() == before
    assert await _server_records(server.store, people) == records
    await server.stop()
