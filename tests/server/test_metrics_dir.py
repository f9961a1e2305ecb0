"""The directory where a multi-worker server's processes keep their counts (issue 19, item 4):
a new server removes an earlier run's files, never those of a process still running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server.metrics import prepare_dir


def _gone_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(done.stdout)


def test_a_new_server_drops_the_files_of_gone_processes_only(tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / ".server").write_text("an earlier server")
    gone = shared / f"counter_{_gone_pid()}.db"
    running = shared / f"counter_{os.getppid()}.db"  # pytest's parent: alive, not this one
    for path in (gone, running):
        path.write_bytes(b"\0" * 8)
    prepare_dir(shared)
    assert not gone.exists()
    assert running.exists()
    assert (shared / ".server").read_text() != "an earlier server"
    gone_again = shared / f"histogram_{_gone_pid()}.db"
    gone_again.write_bytes(b"\0" * 8)
    prepare_dir(shared)  # the same server (a worker restarted): nothing is removed
    assert gone_again.exists()
