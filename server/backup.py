"""Backups and restores of the store, and the new epoch every restore must give it.

A restored database gives sequence numbers again from the backup's last one, so a device's
pull cursor from before the restore could point past records it never received.  Each
database has an epoch (``sync.cursor``) that pull cursors carry; a restore through these
functions puts a new one in the restored database before anything can read it, and every
older cursor is refused (the devices resync).  SQLite: the backup API (consistent while the
server runs) and an atomic file swap; PostgreSQL: ``pg_dump -Fc`` and ``pg_restore`` in one
transaction.  See docs/operations.md, "Backups and restores".
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from core.errors import RondaError
from server.durable import fsync_path
from sync.cursor import new_epoch
from sync.store.sql_epoch import replace_epoch


class BackupError(RondaError):
    """A backup or restore that cannot go ahead; the message says why and what to do."""

    code = "backup_refused"


@dataclass(frozen=True)
class Restored:
    epoch: int
    kept: Path | None  # where the replaced SQLite database was moved (None: there was none)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupError("a SQLite store needs a file: sqlite+aiosqlite:///PATH")
    return Path(path)


# --- the epoch ---
async def set_new_epoch(url: str) -> int:
    """Give the database at ``url`` a new epoch (after a restore by other means)."""
    if is_sqlite(url) and not sqlite_file(url).is_file():
        raise BackupError(f"no database at {sqlite_file(url)}")
    epoch = new_epoch()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            has_counter = await conn.run_sync(lambda c: c.dialect.has_table(c, "counter"))
            if not has_counter:
                raise BackupError("no Ronda database here (no counter table)")
            await replace_epoch(conn, is_sqlite(url), epoch)
    finally:
        await engine.dispose()
    return epoch


def _sqlite_new_epoch(conn: sqlite3.Connection) -> int:
    epoch = new_epoch()
    conn.execute(
        "INSERT INTO counter (name, value) VALUES ('epoch', ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (epoch,),
    )
    conn.execute("DELETE FROM counter WHERE name = 'legacy_seq'")
    return epoch


# --- SQLite ---
def sqlite_backup(url: str, dest: Path) -> None:
    """Copy the live database with SQLite's backup API (it may be serving meanwhile)."""
    source = sqlite_file(url)
    if not source.exists():
        raise BackupError(f"no database at {source}")
    if dest.exists():
        raise BackupError(f"{dest} exists: a backup never overwrites a file")
    partial = dest.with_name(dest.name + ".partial")
    src = sqlite3.connect(source)
    try:
        out = sqlite3.connect(partial)
        try:
            src.backup(out)
            _check_sqlite(out, partial)
        finally:
            out.close()
    finally:
        src.close()
    fsync_path(partial)
    partial.rename(dest)  # a file named like a backup is a whole one


def sqlite_restore(url: str, backup: Path) -> Restored:
    """Put ``backup`` in place of the database (the server must be stopped), with a new
    epoch written into the copy before it takes the database's name."""
    target = sqlite_file(url)
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    staged = target.with_name(target.name + ".restoring")
    try:
        epoch = _stage(backup, staged)
        kept = _retire(target) if target.exists() else None
    except BaseException:
        for suffix in ("", "-wal", "-shm", "-journal"):
            staged.with_name(staged.name + suffix).unlink(missing_ok=True)
        raise
    staged.rename(target)
    fsync_path(target.parent)
    return Restored(epoch, kept)


def _stage(backup: Path, staged: Path) -> int:
    """A checked copy of the backup with a new epoch, as one self-contained file."""
    staged.unlink(missing_ok=True)
    shutil.copyfile(backup, staged)
    conn = sqlite3.connect(staged, isolation_level=None)
    try:
        _check_sqlite(conn, backup)
        conn.execute("BEGIN IMMEDIATE")
        epoch = _sqlite_new_epoch(conn)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup} is not a whole SQLite database: {exc}") from exc
    finally:
        conn.close()
    fsync_path(staged)
    return epoch


def _retire(target: Path) -> Path:
    """Fold the log into the database file and move it aside.  Switching the journal mode
    needs the only connection to the file: a running server makes it fail, and nothing is
    touched."""
    conn = sqlite3.connect(target, isolation_level=None, timeout=0.5)
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        raise BackupError(f"{target} is in use: stop the server first ({exc})") from exc
    finally:
        conn.close()
    if str(mode).lower() != "delete":
        raise BackupError(f"{target} is in use: stop the server first")
    kept = target.with_name(f"{target.name}.before-restore-{time.strftime('%Y%m%dT%H%M%S')}")
    target.rename(kept)
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    return kept


def _check_sqlite(conn: sqlite3.Connection, name: Path) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{name} fails its integrity check: {result}")
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='counter'")
    if found.fetchone() is None:
        raise BackupError(f"{name} is not a Ronda database (no counter table)")


# --- PostgreSQL ---
def pg_tool(name: str, bin_dir: str | None = None) -> str:
    """``pg_dump``/``pg_restore``: from ``bin_dir``, the PATH, or the newest Debian install."""
    if bin_dir:
        return str(Path(bin_dir) / name)
    found = shutil.which(name)
    if found:
        return found
    installed = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=_major)
    if not installed:
        raise BackupError(f"{name} not found: install postgresql-client or pass --pg-bin")
    return str(installed[-1])


def _major(path: Path) -> int:
    version = path.parent.parent.name
    return int(version) if version.isdigit() else 0


def libpq_env(url: str) -> dict[str, str]:
    """The connection as libpq variables: the password never appears in a command line."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    pairs = {
        "PGHOST": parsed.host,
        "PGPORT": parsed.port,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }
    env.update({k: str(v) for k, v in pairs.items() if v is not None})
    return env


def pg_backup(url: str, dest: Path, bin_dir: str | None = None) -> None:
    """``pg_dump -Fc``: one consistent snapshot, taken while the server runs."""
    if dest.exists():
        raise BackupError(f"{dest} exists: a backup never overwrites a file")
    partial = dest.with_name(dest.name + ".partial")
    _run([pg_tool("pg_dump", bin_dir), "-Fc", "--no-owner", "-f", str(partial)], url)
    fsync_path(partial)
    partial.rename(dest)


async def pg_restore(url: str, backup: Path, bin_dir: str | None = None) -> Restored:
    """Replace the database's tables by the backup's and set a new epoch, all in one
    transaction (``pg_restore`` to SQL, through ``psql --single-transaction``): a failure
    anywhere leaves the database as it was.  Every table of the current schema is dropped
    first (tables of a newer version would otherwise stay beside the restored ones).  The
    server must be stopped: other sessions on the database make it refuse."""
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    others, tables = await _pg_state(url)
    if others:
        raise BackupError(f"{others} other sessions use the database: stop the server first")
    epoch = new_epoch()
    head = "".join(f"DROP TABLE IF EXISTS {_quoted(name)} CASCADE;\n" for name in tables)
    # The dump's script empties search_path; the epoch goes to the restored counter table.
    tail = (
        "RESET search_path;\n"
        f"INSERT INTO counter (name, value) VALUES ('epoch', {epoch})"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value;\n"
        "DELETE FROM counter WHERE name = 'legacy_seq';\n"
    )
    restore = [pg_tool("pg_restore", bin_dir), "--no-owner", "-f", "-", str(backup)]
    database = make_url(url).database or ""
    psql = [pg_tool("psql", bin_dir), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    _pipe(restore, [*psql, "-d", database, "-f", "-"], head.encode(), tail.encode(), url)
    return Restored(epoch, None)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _pg_state(url: str) -> tuple[int, list[str]]:
    """Other client sessions on the database, and the tables of its current schema."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            sessions = text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            others = int((await conn.execute(sessions)).scalar_one())
            names = text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            tables = [str(row[0]) for row in await conn.execute(names)]
            return others, tables
    finally:
        await engine.dispose()


def _pipe(produce: list[str], consume: list[str], head: bytes, tail: bytes, url: str) -> None:
    """``produce | consume`` with ``head`` before and ``tail`` after.  If the producer fails,
    the consumer is killed before it reads the end of its input, so a single-transaction
    psql never commits a partial script."""
    env = libpq_env(url)
    with tempfile.TemporaryFile() as made_err, tempfile.TemporaryFile() as used_err:
        consumer = subprocess.Popen(
            consume, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=used_err
        )
        producer = subprocess.Popen(
            produce, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=made_err
        )
        assert consumer.stdin is not None and producer.stdout is not None
        try:
            consumer.stdin.write(head)
            shutil.copyfileobj(producer.stdout, consumer.stdin)
            if producer.wait() != 0:
                raise BackupError(f"{Path(produce[0]).name} failed: {_tail_of(made_err)}")
            consumer.stdin.write(tail)
            consumer.stdin.close()
        except (BackupError, BrokenPipeError):
            consumer.kill()
            producer.kill()
            consumer.wait()
            producer.wait()
            if consumer.returncode not in (0, -9):
                raise BackupError(f"{Path(consume[0]).name} failed: {_tail_of(used_err)}") from None
            raise
        if consumer.wait() != 0:
            raise BackupError(f"{Path(consume[0]).name} failed: {_tail_of(used_err)}")


def _tail_of(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace").strip()[-2000:]


def _run(command: list[str], url: str) -> None:
    done = subprocess.run(
        command, env=libpq_env(url), stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()[-2000:]
        raise BackupError(f"{Path(command[0]).name} failed: {message}")
