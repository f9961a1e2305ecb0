"""The schema's version: Alembic migrations, driven from code (no alembic.ini anywhere).

A database is in one of four states when the store opens it:

- **empty** (none of Ronda's tables): the models' ``create_all`` makes it, and it is stamped
  at the newest revision. One pass instead of replaying every migration: the store is opened
  constantly (every test), and ``tests/sync/test_migrations.py`` proves that replaying the
  migrations gives exactly the same schema.
- **at head**: nothing to do (one query for the table names, one for the version).
- **behind**: made before migrations existed (tables, no ``alembic_version``) or at an older
  revision. Upgraded when asked (``ronda db upgrade``, or the server's start), refused with
  ``SchemaOutdated`` otherwise.
- **ahead**: a revision this code does not know (a newer Ronda migrated it): ``SchemaUnknown``.

The whole decision and any migration run in one transaction that holds the schema lock
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so two processes starting
together upgrade once: the second sees the first one's result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, inspect, text

from sync.errors import SchemaOutdated, SchemaUnknown
from sync.store.sql_tables import metadata

log = logging.getLogger("ronda.store")

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "alembic_version"
# A database with tables but no version table was made before migrations: it is at "legacy".
LEGACY = "legacy"
# Tables every Ronda database has had since the first commit: their presence marks a database
# of ours (another application's tables in the same PostgreSQL schema do not).
OWN_TABLES = frozenset({"record", "device", "officer", "station", "counter"})
# pg_advisory_xact_lock key of schema changes ("ronda" in ASCII).
PG_LOCK_KEY = 0x726F6E6461


@dataclass(frozen=True)
class SchemaChange:
    """What opening did to the schema: ``before`` is None for a new database."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config() -> Config:
    """Alembic's configuration, built in code: the scripts ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s")  # files named after their ids
    return config


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this code knows."""
    current = scripts().get_current_head()
    assert current is not None, "no migrations found"
    return current


def lock(conn: Connection) -> None:
    """Serialise schema work across processes (SQLite: the caller began with BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})


def revision_of(conn: Connection) -> str | None:
    """The database's revision: None if it has none of our tables, ``LEGACY``, or an id."""
    tables = set(inspect(conn).get_table_names())
    if not tables & OWN_TABLES:
        return None
    if VERSION_TABLE not in tables:
        return LEGACY
    heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(heads) if heads else LEGACY


def prepare(conn: Connection, upgrade: bool) -> SchemaChange:
    """Bring the schema to head on an open transaction holding the lock (see module doc)."""
    target = head()
    before = revision_of(conn)
    if before == target:
        return SchemaChange(before, target)
    if before is None:
        conn.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))  # left by a drop_all
        metadata.create_all(conn)
        MigrationContext.configure(conn).stamp(scripts(), "head")
        return SchemaChange(None, target)
    if before != LEGACY:
        check_known(before, target)
    if not upgrade:
        raise SchemaOutdated(
            f"the database schema is at revision {before}, this Ronda needs {target}: back the"
            " database up, then run `ronda db upgrade` (or start the server with upgrades on)",
            {"database": before, "code": target},
        )
    run_upgrade(conn)
    log.warning("database schema upgraded from %s to %s", before, target)
    return SchemaChange(before, target)


def check_known(revision: str, target: str) -> None:
    for one in revision.split(","):
        try:
            known = scripts().get_revision(one) is not None
        except CommandError:
            known = False
        if not known:
            raise SchemaUnknown(
                f"the database schema is at revision {one}, which this Ronda does not know"
                f" (its newest is {target}): a newer Ronda migrated it. Run that version, or"
                " restore a backup taken before the upgrade",
                {"database": revision, "code": target},
            )


def run_upgrade(conn: Connection, target: str = "heads") -> None:
    """Run the migrations up to ``target`` on ``conn`` (the caller's transaction)."""
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, target)
