"""The WAL checkpointer: the log is copied back after writes and truncated once writes stop."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from sync.store.sqlite_wal import WalCheckpointer, set_wal_pragmas


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_log_is_checkpointed_then_truncated_when_idle(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    writer = sqlite3.connect(path, isolation_level=None)
    set_wal_pragmas(writer.execute)
    writer.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    checkpointer = WalCheckpointer(str(path), interval_s=0.02, idle_s=0.3)
    checkpointer.start()
    try:
        wal = Path(f"{path}-wal")
        for burst in range(3):
            writer.execute("BEGIN")
            writer.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 500,) for _ in range(2000)])
            writer.execute("COMMIT")
            checkpointer.wrote()
            assert wal.stat().st_size > 1_000_000, "autocheckpoint is off: the log grows"
            # Quiet now: the log is copied into the database and truncated.
            assert wait_for(lambda: wal.stat().st_size == 0), f"burst {burst}: log not truncated"
        reader = sqlite3.connect(path)
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (6000,)
        reader.close()
    finally:
        checkpointer.stop()
        writer.close()
