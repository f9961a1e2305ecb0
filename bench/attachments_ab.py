"""A/B of the upload path's server CPU: the bench's 16 concurrent uploads against the server of
any tree (a ``git worktree`` of an older commit), many rounds, CPU per MiB (or per upload with
``--small``: 16 uploads of 4 KiB, where the per-upload work shows) and of the event-loop thread.

    .venv/bin/python bench/attachments_ab.py --tree /tmp/old --rounds 10 [--small]

On a shared machine absolute MiB/s are noise; alternate runs of the two trees and compare the
CPU figures (docs/benchmarks.md, "Attachments"). The tree's own bench/attachments.py is used.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path[0] = str(ROOT)  # run as a file: this folder, not the repo, would be on the path

import httpx  # noqa: E402

from bench.serve import free_port, wait_ready  # noqa: E402  (before the tree's on the path)


def load_bench(tree: Path) -> ModuleType:
    sys.path.insert(0, str(tree))  # the tree's sync package, for its seed and push helpers
    spec = importlib.util.spec_from_file_location("tree_bench", tree / "bench" / "attachments.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def thread_cpu_s(pid: int, tid: int) -> float:
    fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(tree: Path, rounds: int, small: bool) -> None:
    b: Any = load_bench(tree)  # the tree's module: its constants are set below
    if small:
        b.SIZE = 4096
    unit = b.FILES if small else b.FILES * b.SIZE / b.MIB  # per upload, or per MiB
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder / 'ronda.db'}"
        token = await b.seed(url)
        auth = {"Authorization": f"Bearer {token}"}
        port = free_port()
        env = {
            **os.environ,
            "RONDA_DATABASE__URL": url,
            "RONDA_ATTACHMENTS__DIR": str(folder / "att"),
            "RONDA_ATTACHMENTS__MAX_DEVICE_BYTES_PER_DAY": str(1 << 40),
            "RONDA_SERVER__LOG_LEVEL": "warning",  # as bench/attachments.py runs it
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app",
                   "--port", str(port), "--log-level", "warning"]  # fmt: skip
        server = subprocess.Popen(command, cwd=tree, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                await wait_ready(client, server, seconds=120)
            cpu, loop_cpu, wall = [], [], []
            for r in range(rounds):
                before, loop_before = b.cpu_s(server.pid), thread_cpu_s(server.pid, server.pid)
                wall.append(await b.timed(b.plain, base, auth, b.photos(r), f"p{r}"))
                cpu.append(1000 * (b.cpu_s(server.pid) - before) / unit)
                loop_cpu.append(1000 * (thread_cpu_s(server.pid, server.pid) - loop_before) / unit)
        finally:
            server.terminate()
            server.wait(10)
    per = "upload" if small else "MiB"
    print(
        f"{tree}: server_cpu_ms_per_{per} {' '.join(f'{c:.1f}' for c in cpu)} "
        f"(median {statistics.median(cpu):.2f}); event loop {statistics.median(loop_cpu):.2f}; "
        f"wall s {' '.join(f'{w:.2f}' for w in wall)}; load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.tree.resolve(), args.rounds, args.small))
