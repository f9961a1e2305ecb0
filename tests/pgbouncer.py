"""Debian's PgBouncer as a real process in front of the test PostgreSQL, in transaction mode.

``server_round_robin`` makes PgBouncer hand out its server connections in turn rather than
reusing the last one, so consecutive transactions of one client land on different server
connections: anything that leans on session state between transactions (a prepared
statement, a session advisory lock, a SET) breaks at once instead of once in a while.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

PGBOUNCER = "/usr/sbin/pgbouncer"


def available() -> bool:
    return Path(PGBOUNCER).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pgbouncer(pg_url: str, pool_size: int = 4) -> Iterator[str]:
    """Run PgBouncer for the database of ``pg_url``; yield the URL that goes through it."""
    url = make_url(pg_url)
    port = _free_port()
    # Its own folder in /tmp: pytest's are private to root, and PgBouncer runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="ronda-pgbouncer-"))
    folder.chmod(0o755)
    (folder / "users.txt").write_text(f'"{url.username}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
{url.database} = host={url.host} port={url.port} dbname={url.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
server_round_robin = 1
default_pool_size = {pool_size}
max_client_conn = 200
logfile = {folder / "pgbouncer.log"}
pidfile = {folder / "pgbouncer.pid"}
"""
    )
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        postgres = pwd.getpwnam("postgres")
        for path in (folder, *folder.iterdir()):
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = folder / "pgbouncer.log"
                    said = log.read_text() if log.exists() else ""
                    if process.poll() is not None and process.stderr is not None:
                        said += process.stderr.read().decode(errors="replace")
                    raise RuntimeError(f"pgbouncer did not start: {said[-2000:]}") from None
                time.sleep(0.05)
        yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)
