"""The benchmarks' own PostgreSQL: one loopback server for Ronda and Kinto alike.

``scripts/pg-start`` makes (or reuses) a cluster with PostgreSQL's default settings (``fsync``
and ``synchronous_commit`` on); each side gets a fresh database on it, so both write to the
same server with the same settings.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise SystemExit("PostgreSQL is not installed (scripts/system-deps)")
    return found[-1]


def start(port: int, data_dir: Path) -> None:
    """Start the loopback server on ``port`` (or reuse the one running there)."""
    command = [str(ROOT / "scripts" / "pg-start"), str(port), str(data_dir)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def stop(data_dir: Path) -> None:
    ctl = f"'{pg_bin() / 'pg_ctl'}' -D '{data_dir}' -m fast stop >/dev/null"
    if os.getuid() == 0:
        subprocess.run(["su", "postgres", "-s", "/bin/bash", "-c", ctl], check=False)
    else:
        subprocess.run(["bash", "-c", ctl], check=False)


def psql(port: int, sql: str, database: str = "postgres") -> str:
    """One statement through psql; its unaligned output."""
    command = [str(pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    command += ["-d", database, "-qtAc", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def fresh_database(port: int, name: str) -> None:
    """Drop and create ``name`` (``--keep-pg`` leaves the last run's data to look at)."""
    psql(port, f"DROP DATABASE IF EXISTS {name}")
    psql(port, f"CREATE DATABASE {name}")


def settings(port: int) -> str:
    """The server settings that decide write speed, for the report."""
    names = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "wal_level")
    values = psql(
        port,
        "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings"
        f" WHERE name IN ({', '.join(repr(n) for n in names)})",
    )
    return values
