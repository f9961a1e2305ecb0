"""Promise 5: paging through changes skips nothing while others write at the same time.

Several writers push at once, each through its own ``SQLStore`` (its own engine, pool and
in-process lock), so only the database itself orders them: ``BEGIN IMMEDIATE`` on SQLite, the
counter row lock on PostgreSQL, with truly parallel transactions there.  Every push is held
open for a few random milliseconds between numbering its changes and committing, which is
exactly the window in which a later sequence number could become visible before an earlier
one.  Meanwhile readers page from cursor 0 with tiny limits until the writers have stopped
and they are caught up.  Each reader must never be handed a sequence at or below a cursor it
already passed, and must end holding the final version of every record.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.store.base import PushUnit
from sync.store.records import (
    ChainHead,
    Conflict,
    Identity,
    MarkKey,
    RecordWrite,
    StoredAnswer,
    StoredRecord,
)
from sync.store.sql import SQLStore
from tests.server_process import ServerProcess, own_postgres_database, seed_database
from tests.support import incident, new_id, store_params

WRITERS = 4
BATCHES = 30


class _SlowUnit(PushUnit):
    """A push unit that lingers before and after writing, i.e. between numbering and commit."""

    def __init__(self, unit: PushUnit, rng: random.Random) -> None:
        self.unit = unit
        self.rng = rng

    async def replay(self, device_id: str, batch_id: str) -> StoredAnswer | None:
        return await self.unit.replay(device_id, batch_id)

    async def load(self, collection: str, ids: list[str]) -> dict[str, StoredRecord]:
        return await self.unit.load(collection, ids)

    async def chain_head(self, device_id: str) -> ChainHead | None:
        return await self.unit.chain_head(device_id)

    async def allocate(self, count: int) -> int:
        first = await self.unit.allocate(count)
        await asyncio.sleep(self.rng.uniform(0, 0.004))
        return first

    async def save(
        self,
        writes: list[RecordWrite],
        conflicts: list[Conflict],
        heads: list[ChainHead],
        answer: StoredAnswer | None,
        marks: Collection[MarkKey] = (),
    ) -> None:
        await self.unit.save(writes, conflicts, heads, answer, marks)
        await asyncio.sleep(self.rng.uniform(0, 0.004))


class SlowCommitStore(SQLStore):
    """An ``SQLStore`` whose pushes stay open a little longer before they commit."""

    def __init__(self, url: str, seed: int) -> None:
        super().__init__(url)
        self.rng = random.Random(seed)

    @asynccontextmanager
    async def push_unit(self) -> AsyncIterator[PushUnit]:
        async with super().push_unit() as unit:
            yield _SlowUnit(unit, self.rng)


@dataclass
class Shared:
    """What the writers acknowledged, and whether they are done."""

    ids: list[str] = field(default_factory=list)
    acked: list[tuple[str, int]] = field(default_factory=list)
    done: bool = False


Push = Callable[[dict[str, Any]], Awaitable[bytes]]
Pull = Callable[[str, int], Awaitable[bytes]]


def engine_push(engine: SyncEngine, who: Identity) -> Push:
    async def push(body: dict[str, Any]) -> bytes:
        return (await engine.push(who, body)).answer

    return push


def engine_pull(engine: SyncEngine, who: Identity) -> Pull:
    async def pull(cursor: str, limit: int) -> bytes:
        return await engine.pull(who, cursor, limit)

    return pull


async def writer(
    push: Push, shared: Shared, rng: random.Random, clock: HybridClock, batches: int = BATCHES
) -> None:
    """Push small batches: mostly new incidents, some updates of anyone's earlier ones."""
    for _ in range(batches):
        changes = []
        for _ in range(rng.randint(1, 4)):
            if shared.ids and rng.random() < 0.3:
                rid = rng.choice(shared.ids)
                fields = {"description": f"edit {new_id()[:8]}"}
                changes.append(incident(rid, clock, fields))
            else:
                changes.append(incident(new_id(), clock))
        answer = await push({"batch_id": new_id(), "changes": changes})
        for result in orjson.loads(answer)["results"]:
            assert result["status"] in ("applied", "unchanged"), result
            shared.acked.append((result["id"], result["seq"]))
            if result["id"] not in shared.ids:
                shared.ids.append(result["id"])
        await asyncio.sleep(rng.uniform(0, 0.002))


async def reader(
    pull: Pull, shared: Shared, rng: random.Random
) -> tuple[dict[str, dict[str, Any]], int]:
    """Page from 0 until caught up after the writers stopped; the last version seen per id."""
    seen: dict[str, dict[str, Any]] = {}
    cursor, after, pages = "", 0, 0
    while True:
        finished = shared.done  # read before the pull: a page after this sees all writes
        page = orjson.loads(await pull(cursor, rng.randint(1, 7)))
        pages += 1
        seqs = [change["seq"] for change in page["changes"]]
        assert all(s > after for s in seqs), f"seq {min(seqs)} after cursor {cursor}"
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
        for change in page["changes"]:
            seen[change["id"]] = change
        cursor = page["cursor"]
        after = int(cursor.rpartition(".")[2])  # <epoch>.<seq> (docs/protocol.md)
        if not page["has_more"]:
            if finished:
                return seen, pages
            await asyncio.sleep(0.001)


async def final_state(pull: Pull) -> dict[str, dict[str, Any]]:
    page = orjson.loads(await pull("", 100_000))
    assert not page["has_more"]
    return {change["id"]: change for change in page["changes"]}


async def database_for(kind: str, tmp_path: Path, name: str = "ronda_paging") -> str:
    if kind == "postgres":
        return await own_postgres_database(name)
    return f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"


@pytest.mark.parametrize("kind", store_params())
async def test_pull_pages_skip_nothing_under_concurrent_writers(kind: str, tmp_path: Path) -> None:
    url = await database_for(kind, tmp_path)
    people = await seed_database(url)
    writers = [SlowCommitStore(url, seed) for seed in range(WRITERS)]
    readers = [SQLStore(url) for _ in range(2)]
    for store in [*writers, *readers]:
        await store.open()
    rng = random.Random(42)
    shared = Shared()
    authors = [people.officer_a, people.officer_a2, people.chief_a]
    try:
        reading = [
            asyncio.create_task(reader(engine_pull(SyncEngine(s), people.chief_a), shared, rng))
            for s in readers
        ]
        await asyncio.gather(
            *(
                writer(
                    engine_push(SyncEngine(s), authors[i % 3]),
                    shared,
                    random.Random(i),
                    HybridClock(),
                )
                for i, s in enumerate(writers)
            )
        )
        shared.done = True
        results = await asyncio.gather(*reading)
        final = await final_state(engine_pull(SyncEngine(readers[0]), people.chief_a))
    finally:
        for store in [*writers, *readers]:
            await store.close()
    check(final, shared, results)


def check(
    final: dict[str, dict[str, Any]],
    shared: Shared,
    results: list[tuple[dict[str, dict[str, Any]], int]],
) -> None:
    """Each reader ends with the final version of every acknowledged record."""
    assert set(final) == {rid for rid, _ in shared.acked}
    for rid, seq in shared.acked:
        assert final[rid]["seq"] >= seq
    for seen, pages in results:
        missing = sorted(set(final) - set(seen))
        assert not missing, f"{len(missing)} records never seen, e.g. {missing[:3]}"
        stale = [rid for rid in final if seen[rid] != final[rid]]
        assert not stale, f"{len(stale)} records seen only in an older version"
        assert pages > len(final) // 7


def http_push(http: httpx.AsyncClient, token: str) -> Push:
    async def push(body: dict[str, Any]) -> bytes:
        response = await http.post("/v1/sync/push", json=body, headers=_auth(token))
        assert response.status_code == 200, response.text
        return response.content

    return push


def http_pull(http: httpx.AsyncClient, token: str) -> Pull:
    async def pull(cursor: str, limit: int) -> bytes:
        params = {"cursor": cursor, "limit": str(limit)}
        response = await http.get("/v1/sync/pull", params=params, headers=_auth(token))
        assert response.status_code == 200, response.text
        return response.content

    return pull


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
@pytest.mark.parametrize("kind", store_params())
async def test_pull_pages_skip_nothing_across_two_server_processes(
    kind: str, tmp_path: Path
) -> None:
    """Two uvicorn processes on one database: writers use both, readers page from both."""
    url = await database_for(kind, tmp_path, "ronda_paging_http")
    people = await seed_database(url)
    tokens = people.tokens
    rng = random.Random(42)
    shared = Shared()
    async with (
        ServerProcess(url, tmp_path / "one") as one,
        ServerProcess(url, tmp_path / "two") as two,
        httpx.AsyncClient(base_url=one.base_url, timeout=60) as http_one,
        httpx.AsyncClient(base_url=two.base_url, timeout=60) as http_two,
    ):
        https = [http_one, http_two]
        writers = [http_push(https[i % 2], tokens[("off-a", "off-a2")[i % 2]]) for i in range(4)]
        reading = [
            asyncio.create_task(reader(http_pull(http, tokens["chief-a"]), shared, rng))
            for http in https
        ]
        await asyncio.gather(
            *(writer(w, shared, random.Random(i), HybridClock(), 15) for i, w in enumerate(writers))
        )
        shared.done = True
        results = await asyncio.gather(*reading)
        final = await final_state(http_pull(http_one, tokens["chief-a"]))
    check(final, shared, results)
