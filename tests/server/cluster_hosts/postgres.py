"""A PostgreSQL primary and its streaming replica (Debian's PostgreSQL, as ``scripts/pg-start``
runs it), each on its own port and data directory, listening on loopback and on the root side
of every host's veth pair.

The primary logs every writing statement (``log_statement = mod``), so the test can count
analysis results stored; the replica logs every statement, so the test can see which reads
it served. The replica is made the documented way: ``pg_basebackup -R`` from the primary,
then started as a server of its own (a hot standby following the primary's WAL stream).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.server_process import free_port


def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return found[-1] if found else None


def as_postgres(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the postgres user (it refuses to run as root)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, check=False)


class Server:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.data = folder / "data"
        self.log = folder / "server.log"

    def start(self, listen: list[str], *settings: str) -> None:
        bindir = pg_bin()
        assert bindir is not None
        options = f"-p {self.port} -k {self.folder} -c listen_addresses={','.join(listen)}"
        options += "".join(f" -c {s}" for s in settings)
        done = as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "120",
                "-o",
                options,
                "start",
            ]
        )
        assert done.returncode == 0, done.stderr + self.log.read_text(errors="replace")

    def stop(self) -> None:
        bindir = pg_bin()
        if bindir is not None and (self.data / "postmaster.pid").exists():
            as_postgres([str(bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")


class Cluster:
    """Primary and replica under ``folder`` (which must be reachable by the postgres user)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.primary = Server(folder / "primary", free_port())
        self.replica = Server(folder / "replica", free_port())

    def start(self, subnets: list[str], listen: list[str]) -> None:
        bindir = pg_bin()
        assert bindir is not None
        for server in (self.primary, self.replica):
            server.folder.mkdir(parents=True)
        shutil.chown(self.folder, "postgres", "postgres")
        for server in (self.primary, self.replica):
            shutil.chown(server.folder, "postgres", "postgres")
        init = [str(bindir / "initdb"), "-D", str(self.primary.data), "-A", "trust"]
        done = as_postgres([*init, "-U", "postgres", "-E", "UTF8"])
        assert done.returncode == 0, done.stderr
        hba = self.primary.data / "pg_hba.conf"
        rules = ("host all all {} trust\n", "host replication all {} trust\n")
        lines = "".join(rule.format(s) for s in subnets for rule in rules)
        hba.write_text(hba.read_text() + lines)
        self.primary.start(listen, "log_statement=mod")
        done = as_postgres(
            [
                str(bindir / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.primary.port),
                "-U",
                "postgres",
                "-D",
                str(self.replica.data),
                "-R",
                "-X",
                "stream",
            ]
        )
        assert done.returncode == 0, done.stderr
        self.replica.start(listen, "log_statement=all")

    def stop(self) -> None:
        for server in (self.replica, self.primary):
            server.stop()

    def url(self, server: Server, address: str, database: str) -> str:
        return f"postgresql+asyncpg://postgres@{address}:{server.port}/{database}"

    def psql(self, server: Server, sql: str, database: str = "postgres") -> str:
        bindir = pg_bin()
        assert bindir is not None
        done = as_postgres(
            [
                str(bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(server.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-qtAc",
                sql,
            ]
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()
