"""Event-loop CPU of the push path's stages, in process, the best of several rounds.

Usage: ``.venv/bin/python bench/push_stages.py [--tree PATH] [--rounds 15] [--records 8000]``

On a shared machine the server's CPU per record (``bench/sync.py``) moves with the load even
for one tree (docs/benchmarks.md); the least CPU time over many short rounds is steadier.
Two stages, both on SQLite, as the server runs them but with no HTTP and no concurrency:

- ``validate``: ``SyncEngine.push_json`` up to the group commit (decoding, checks, new
  incidents built), a push of 500 new incidents at a time;
- ``apply``: the group write on the event loop (reads, merge, numbering, rows, answers) for
  groups of 8 pushes, new incidents then the same incidents merged; the writer thread's
  statements and commit are not counted.

``--tree`` runs another checkout (a ``git worktree`` of an older commit) for A/B pairs:
alternate the two trees and compare the minima.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BATCH = 500
GROUP = 8


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--rounds", type=int, default=15, help="validate rounds (apply: /4)")
    parser.add_argument("--records", type=int, default=8000, help="a multiple of 500")
    return parser.parse_args()


async def run(args: argparse.Namespace) -> None:
    import orjson

    import bench.sync as bs
    from server.app import tune_gc
    from sync.engine import SyncEngine, SyncLimits
    from sync.identity import identify
    from sync.store.sql import SQLStore

    tune_gc()
    records = bs.make_records(args.records, random.Random(42))
    batches = [records[k : k + BATCH] for k in range(0, args.records, BATCH)]

    async def engine_on_new_db() -> tuple[Any, Any, list[Any], list[Any], list[Any]]:
        db = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='push-stages-')}/r.db"
        writers, _, _ = await bs.seed(db, len(batches))
        store = SQLStore(db)
        await store.open()
        engine = SyncEngine(store, SyncLimits(max_changes=BATCH))
        whos = [await identify(store, d.token) for d in writers]
        queued: list[Any] = []

        async def queue(pending: Any, _size: int) -> None:
            queued.append(pending)

        engine._group.submit = queue  # stop before the group commit: its work is timed apart
        return store, engine, writers, whos, queued

    best: dict[str, float] = {}

    def keep(stage: str, seconds: float) -> None:
        best[stage] = min(best.get(stage, float("inf")), seconds)

    store, engine, writers, whos, queued = await engine_on_new_db()
    bodies = [bs.push_bodies(b, writers[i], None)[0] for i, b in enumerate(batches)]
    for _ in range(args.rounds):
        queued.clear()
        started = time.thread_time()
        for who, body in zip(whos, bodies, strict=True):
            await engine.push_json(who, body)
        keep("validate new", time.thread_time() - started)
    await store.close()

    for _ in range(max(1, args.rounds // 4)):
        store, engine, writers, whos, queued = await engine_on_new_db()
        seqs: dict[str, int] | None = None
        for phase in ("new", "merge"):
            bodies = [bs.push_bodies(b, writers[i], seqs)[0] for i, b in enumerate(batches)]
            queued.clear()
            for who, body in zip(whos, bodies, strict=True):
                await engine.push_json(who, body)
            started = time.thread_time()
            answers = []
            for k in range(0, len(queued), GROUP):
                answers += await engine._write_group(queued[k : k + GROUP])
            keep(f"apply {phase}", time.thread_time() - started)
            seqs = {r["id"]: r["seq"] for a in answers for r in orjson.loads(a.answer)["results"]}
        await store.close()
    per_k = 1e6 / args.records
    shares = " ".join(f"{k.replace(' ', '_')}={v * per_k:.1f}" for k, v in best.items())
    print(f"tree={args.tree} load={os.getloadavg()[0]:.2f} ms per 1,000 records: {shares}")


def main() -> None:
    args = parse_args()
    sys.path[0] = args.tree  # this folder would shadow the sync package with bench/sync.py
    os.chdir(args.tree)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
