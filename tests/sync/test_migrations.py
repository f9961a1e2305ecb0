"""Schema migrations (Alembic): they make exactly the models' schema, and older databases are
upgraded (or refused) as docs/operations.md says.

A test below fails when a table or column is added to ``sync/store/sql_tables.py`` without a
migration: ``ronda db revision "what changed"`` drafts one.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from server.app import create_app
from server.cli import main
from server.settings import Settings
from sync.errors import SchemaOutdated, SchemaUnknown
from sync.store import schema
from sync.store.sql import SQLStore
from sync.store.sql_tables import metadata
from tests.support import PG_URL, store_params

LEGACY_DDL = Path(__file__).resolve().with_name("schema_34ec50d")
# Indexes as servers before b4f0c94 (chain) and 0a7eac8 (points) made them.
OLDER_INDEXES = (
    "CREATE INDEX ix_record_chain ON record (author_device, chain_n)",
    "CREATE INDEX ix_point_station_time ON incident_point (station_id, occurred_s)",
    "CREATE INDEX ix_point_time ON incident_point (occurred_s)",
    "CREATE INDEX ix_point_cell ON incident_point (cell)",
)
T = TypeVar("T")

# Rows as 34ec50d wrote them: (table, row).
ROWS: list[tuple[str, dict[str, Any]]] = [
    ("station", {"id": "cms-1", "name": "Comisaría Zárate", "district_code": "150132"}),
    ("officer", {"id": "off-1", "name": "Ana Quispe", "role": "officer", "station_id": "cms-1"}),
    (
        "device",
        {
            "id": "dev-1",
            "officer_id": "off-1",
            "name": "phone",
            "token_hash": "h-1",
            "created_ms": 1_700_000_000_000,
            "revoked_ms": None,
        },
    ),
    ("counter", {"name": "seq", "value": 2}),
    ("chain_head", {"device_id": "dev-1", "n": 1, "hash": "c-1"}),
    *(
        (
            "record",
            {
                "collection": collection,
                "id": record_id,
                "station_id": "cms-1",
                "seq": seq,
                "deleted": False,
                "doc": f'{{"id": "{record_id}"}}',
                "clocks": "{}",
                "pii": pii,
                "author_officer": "off-1",
                "author_device": "dev-1",
                "chain_n": chain_n,
                "updated_ms": 1_700_000_000_000 + seq,
            },
        )
        for collection, record_id, seq, pii, chain_n in [
            ("incidents", "inc-1", 1, '{"victim": "María"}', None),
            ("patrol_logs", "log-1", 2, None, 1),
        ]
    ),
]


@pytest.fixture(params=store_params())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    assert PG_URL
    asyncio.run(run(PG_URL, drop_every_table))
    return PG_URL


async def run(url: str, work: Callable[[Connection], T]) -> T:
    """``work`` on a plain connection, in one committed transaction."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def drop_every_table(conn: Connection) -> None:
    for name in inspect(conn).get_table_names():
        conn.execute(text(f'DROP TABLE "{name}" CASCADE'))


def differences(conn: Connection) -> list[Any]:
    """What autogenerate would write to turn this database into the models: nothing, we hope."""
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def index_sql(conn: Connection, name: str) -> str:
    if conn.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :n"
    return str(conn.execute(text(query), {"n": name}).scalar_one_or_none())


def make_legacy(era: str) -> Callable[[Connection], None]:
    """A database as 34ec50d made it (``era="34ec50d"``), or as a server from before
    2b268a4 / 0a7eac8 / b4f0c94 left it (``"older"``), with the rows of ``ROWS``."""

    def make(conn: Connection) -> None:
        ddl = (LEGACY_DDL / f"{conn.dialect.name}.sql").read_text(encoding="utf-8")
        lines = [line for line in ddl.splitlines() if not line.startswith("--")]
        for statement in "\n".join(lines).split(";"):
            if statement.strip():
                conn.execute(text(statement))
        if era == "older":
            for table in ("credential", "web_session", "audit"):  # came with 2b268a4
                conn.execute(text(f"DROP TABLE {table}"))
            for name in ("ix_record_chain", "ix_point_station_time", "ix_point_time"):
                conn.execute(text(f"DROP INDEX {name}"))
            for statement in OLDER_INDEXES:
                conn.execute(text(statement))
        for table, row in ROWS:
            columns = ", ".join(row)
            values = ", ".join(f":{c}" for c in row)
            conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)

    return make


def read_rows(conn: Connection) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for table, row in ROWS:
        keys = list(row)
        where = " AND ".join(f"{k} = :{k}" for k in keys[:2])
        found = conn.execute(
            text(f"SELECT {', '.join(keys)} FROM {table} WHERE {where}"), row
        ).one()
        out.append((table, dict(zip(keys, found, strict=True))))
    return out


def ronda(*args: str) -> Result:
    """The command line, in this process (its own process costs seconds of imports)."""
    return CliRunner().invoke(main, list(args))


def ronda_process(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``ronda`` command in its own process, from a directory of no alembic.ini."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("ronda")), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_revisions_form_one_numbered_line() -> None:
    """Ids ``NNNN_name`` in their own file, each revising the one before: two branches adding
    ``0005_...`` at once would leave two heads, which no upgrade can follow."""
    heads = schema.scripts().get_heads()
    assert len(heads) == 1, f"several heads {heads}: renumber one revision onto the other"
    revisions = list(reversed(list(schema.scripts().walk_revisions())))
    for number, script in enumerate(revisions, start=1):
        assert re.fullmatch(rf"{number:04d}_[a-z0-9_]+", script.revision), script.revision
        assert Path(script.path).name == f"{script.revision}.py"
        previous = revisions[number - 2].revision if number > 1 else None
        assert script.down_revision == previous, script.revision


async def test_the_migrations_make_the_models_schema(url: str) -> None:
    """Replaying every migration on an empty database gives exactly the models' tables,
    columns, types, indexes and constraints (what ``create_all`` gives a new database)."""
    await run(url, schema.run_upgrade)
    assert await run(url, differences) == []
    assert await run(url, schema.revision_of) == schema.head()
    assert "chain_n IS NOT NULL" in await run(url, lambda c: index_sql(c, "ix_record_chain"))


async def test_a_new_database_is_made_from_the_models_at_the_newest_revision(url: str) -> None:
    store = SQLStore(url)
    await store.open()
    await store.close()
    assert store.schema_change == schema.SchemaChange(None, schema.head())
    assert await run(url, schema.revision_of) == schema.head()
    assert await run(url, differences) == []
    await store.open()  # at head: opens as it is
    await store.close()
    assert store.schema_change == schema.SchemaChange(schema.head(), schema.head())


async def test_the_upgrade_marks_the_files_incidents_mark_as_personal_data(url: str) -> None:
    """0009 fills ``attachment_mark`` from the records' current versions: a reference an
    incident or a patrol-log entry marks ``pii: true`` is marked, an unmarked one is not."""
    await run(url, lambda c: schema.run_upgrade(c, "0008_attachment_use"))
    marked, plain = "ab" * 32, "cd" * 32
    refs = [{"sha256": marked, "pii": True}, {"sha256": plain, "pii": False}]
    docs = {
        ("incidents", "inc-1"): {"fields": {"attachments": refs}},
        ("incidents", "inc-2"): {"fields": {"attachments": refs[1:]}},
        ("patrol_logs", "log-1"): {"body": {"attachments": refs}},
    }

    def insert(conn: Connection) -> None:
        for seq, ((collection, record_id), doc) in enumerate(docs.items(), start=1):
            row = dict(ROWS[5][1], collection=collection, id=record_id, seq=seq)
            row["doc"] = json.dumps(doc, separators=(",", ":"))
            names = ", ".join(row)
            conn.execute(
                text(f"INSERT INTO record ({names}) VALUES ({', '.join(':' + k for k in row)})"),
                row,
            )

    await run(url, insert)
    await run(url, schema.run_upgrade)
    found = await run(
        url,
        lambda c: c.execute(
            text("SELECT collection, record_id, sha256 FROM attachment_mark")
        ).all(),
    )
    assert sorted(tuple(r) for r in found) == [
        ("incidents", "inc-1", marked),
        ("patrol_logs", "log-1", marked),
    ]


async def check_upgraded(url: str) -> None:
    """The rows of ``ROWS`` intact, the schema the models', and the store serving from it."""
    assert await run(url, read_rows) == ROWS
    assert await run(url, schema.revision_of) == schema.head()
    assert await run(url, differences) == []
    # compare_metadata does not look at a partial index's WHERE, nor at indexes gone stale
    assert "chain_n IS NOT NULL" in await run(url, lambda c: index_sql(c, "ix_record_chain"))
    assert await run(url, lambda c: index_sql(c, "ix_point_cell")) == "None"
    store = SQLStore(url)
    await store.open()
    try:
        assert [r.id for r in await store.chain("dev-1")] == ["log-1"]
        found = await store.record("incidents", "inc-1")
        assert found is not None and found.seq == 1 and found.pii == {"victim": "María"}
        assert await store.last_seq() == 2
    finally:
        await store.close()


@pytest.mark.slow
async def test_ronda_db_upgrade_upgrades_a_database_of_34ec50d(url: str, tmp_path: Path) -> None:
    """The real command, in its own process, started where there is no alembic.ini."""
    await run(url, make_legacy("34ec50d"))
    assert await run(url, schema.revision_of) == schema.LEGACY

    done = ronda_process(tmp_path, "--db", url, "db", "upgrade")

    assert done.returncode == 0, done.stderr
    assert f"{schema.LEGACY} -> {schema.head()}" in done.stderr
    await check_upgraded(url)


@pytest.mark.parametrize("era", ["34ec50d", "older"])
def test_a_database_made_before_migrations_is_upgraded(url: str, era: str) -> None:
    asyncio.run(run(url, make_legacy(era)))

    done = ronda("--db", url, "db", "upgrade")

    assert done.exit_code == 0, done.output
    assert f"{schema.LEGACY} -> {schema.head()}" in done.stderr
    asyncio.run(check_upgraded(url))
    again = ronda("--db", url, "db", "upgrade")
    assert again.exit_code == 0 and "up to date" in again.stderr


def test_an_old_database_is_refused_when_upgrades_are_off(url: str) -> None:
    asyncio.run(run(url, make_legacy("34ec50d")))
    with pytest.raises(SchemaOutdated, match="ronda db upgrade"):
        asyncio.run(SQLStore(url).open())
    assert asyncio.run(run(url, schema.revision_of)) == schema.LEGACY  # left as it was
    current = ronda("--db", url, "db", "current")
    assert current.exit_code == 0, current.output
    assert "behind" in current.stdout and schema.head() in current.stdout
    refused = ronda("--db", url, "devices")  # other commands never upgrade
    assert refused.exit_code == 1
    assert "ronda db upgrade" in refused.stderr
    assert asyncio.run(run(url, schema.revision_of)) == schema.LEGACY


def test_a_database_migrated_by_a_newer_ronda_is_refused(url: str) -> None:
    asyncio.run(run(url, schema.run_upgrade))
    future = text("UPDATE alembic_version SET version_num = '9999_x'")
    asyncio.run(run(url, lambda c: c.execute(future)))
    with pytest.raises(SchemaUnknown, match="9999_x"):
        asyncio.run(SQLStore(url, upgrade=True).open())
    done = ronda("--db", url, "db", "upgrade")
    assert done.exit_code == 1
    assert "does not know" in done.stderr
    assert "unknown revision" in ronda("--db", url, "db", "current").stdout


async def test_the_server_upgrades_at_start_unless_told_not_to(url: str) -> None:
    await run(url, make_legacy("34ec50d"))
    settings = Settings(_env_file=None)
    settings.database.url = url
    settings.database.upgrade_on_start = False
    app = create_app(settings)
    with pytest.raises(SchemaOutdated):
        async with app.router.lifespan_context(app):
            pass
    settings.database.upgrade_on_start = True
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert await run(url, schema.revision_of) == schema.head()


@pytest.mark.slow
def test_serve_with_no_upgrade_refuses_an_old_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    asyncio.run(run(url, make_legacy("34ec50d")))
    done = ronda_process(tmp_path, "--db", url, "serve", "--no-upgrade", "--port", "0")
    assert done.returncode != 0
    assert "ronda db upgrade" in done.stderr
    assert asyncio.run(run(url, schema.revision_of)) == schema.LEGACY


def open_upgrading(url: str) -> str:
    """Open the store with upgrades on, in a child process; what opening found."""

    async def opened() -> str:
        store = SQLStore(url, upgrade=True)
        await store.open()
        await store.close()
        assert store.schema_change is not None
        return str(store.schema_change.before)

    return asyncio.run(opened())


def test_processes_starting_together_upgrade_once(url: str) -> None:
    """The schema lock: a process opening during another's upgrade waits for it, then finds
    head (without the lock, each replays 0001 and all but one fail on tables just made)."""
    asyncio.run(run(url, make_legacy("34ec50d")))
    forked = multiprocessing.get_context("fork")  # the children need no imports of their own
    with ProcessPoolExecutor(3, mp_context=forked) as pool:
        found = sorted(pool.map(open_upgrading, [url] * 3))
    assert found == [schema.head(), schema.head(), schema.LEGACY]
    assert asyncio.run(run(url, read_rows)) == ROWS


def test_opening_waits_for_another_process_holding_the_file(tmp_path: Path) -> None:
    """Switching an old (rollback-journal) file to WAL needs its lock: held by another
    process, opening waits for it instead of failing with "database is locked" (a CI run of
    the test above lost that race)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    asyncio.run(run(url, make_legacy("34ec50d")))
    holder = sqlite3.connect(tmp_path / "ronda.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the reserved lock: SQLite does not wait for it
    releaser = threading.Timer(0.5, holder.execute, ["COMMIT"])
    releaser.start()
    try:
        assert open_upgrading(url) == schema.LEGACY
    finally:
        releaser.join()
        holder.close()


def test_db_current_changes_nothing_and_db_upgrade_makes_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "ronda.db"
    url = f"sqlite+aiosqlite:///{path}"
    current = ronda("--db", url, "db", "current")
    assert current.exit_code == 0 and "none" in current.stdout
    assert not path.exists()
    made = ronda("--db", url, "db", "upgrade")
    assert made.exit_code == 0 and "created" in made.stderr
    assert asyncio.run(run(url, schema.revision_of)) == schema.head()
    with closing(sqlite3.connect(path)) as conn:  # made by the store, with its pragmas
        assert conn.execute("PRAGMA page_size").fetchone() == (8192,)
