"""Group commit: concurrent pushes written in one transaction keep every promise of one push.

``asyncio.gather`` of pushes puts them in one group: each push validates and queues without
suspending, and the writer task takes the whole queue when it first runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest

from sync.clock import HybridClock
from sync.engine import SyncEngine, SyncLimits
from sync.errors import BatchIdReused
from sync.store.base import PushUnit, Store
from sync.store.records import ChainHead, Conflict, MarkKey, RecordWrite, StoredAnswer
from sync.store.sql import SQLStore
from sync.store.sql_unit import SQLPushUnit
from sync.store.sqlite_unit import SQLitePushUnit
from tests.support import People, batch, count_groups, incident, log_entry, new_id


async def pull_all(engine: SyncEngine, who: Any) -> list[dict[str, Any]]:
    docs, cursor = [], ""
    while True:
        page = orjson.loads(await engine.pull(who, cursor, 1000))
        docs.extend(page["changes"])
        cursor = page["cursor"]
        if not page["has_more"]:
            return docs


def answer(outcome: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(outcome.answer)
    return parsed


async def test_one_group_same_record_from_two_devices(engine: SyncEngine, people: People) -> None:
    a, a2 = HybridClock(), HybridClock()
    shared = new_id()
    create = batch([incident(shared, a)])
    (created,) = await asyncio.gather(engine.push(people.officer_a, create))
    base = answer(created)["results"][0]["seq"]
    fresh = [new_id() for _ in range(3)]
    edits = [
        # A new record and an edit of the shared one, from each device, in one group.
        batch([incident(fresh[0], a), incident(shared, a, {"status": "closed"}, base)]),
        batch([incident(fresh[1], a2), incident(shared, a2, {"description": "x"}, base)]),
        batch([incident(fresh[2], a2)]),
    ]
    whos = [people.officer_a, people.officer_a2, people.officer_a2]
    outcomes = await asyncio.gather(*(engine.push(w, b) for w, b in zip(whos, edits, strict=True)))
    results = [r for o in outcomes for r in answer(o)["results"]]
    assert [r["status"] for r in results] == ["applied"] * 5
    seqs = [r["seq"] for r in results]
    assert len(set(seqs)) == 5 and min(seqs) > base
    docs = {d["id"]: d for d in await pull_all(engine, people.chief_a)}
    # The second edit saw the first (same transaction, not yet committed): both fields kept.
    assert docs[shared]["fields"]["status"] == "closed"
    assert docs[shared]["fields"]["description"] == "x"
    assert set(fresh) <= set(docs)
    # One version per record in the feed: the shared record's latest.
    feed = await pull_all(engine, people.chief_a)
    assert len(feed) == len({d["id"] for d in feed}) == 4


async def test_retry_in_the_same_group_gets_the_same_answer(
    engine: SyncEngine, people: People
) -> None:
    clock = HybridClock()
    body = batch([incident(new_id(), clock), incident(new_id(), clock)])
    first, again = await asyncio.gather(
        engine.push(people.officer_a, body), engine.push(people.officer_a, dict(body))
    )
    assert first.answer == again.answer
    assert (first.replayed, again.replayed) == (False, True)
    assert len(await pull_all(engine, people.officer_a)) == 2


async def test_reused_batch_id_fails_alone(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    body = batch([incident(new_id(), clock)])
    await engine.push(people.officer_a, body)
    reused = batch([incident(new_id(), clock)], batch_id=body["batch_id"])
    other = batch([incident(new_id(), clock)])
    results = await asyncio.gather(
        engine.push(people.officer_a, reused),
        engine.push(people.officer_a2, other),
        return_exceptions=True,
    )
    assert isinstance(results[0], BatchIdReused)
    assert answer(results[1])["summary"]["applied"] == 1


async def test_one_device_chain_across_pushes_of_one_group(
    engine: SyncEngine, people: People
) -> None:
    device = people.officer_a.device_id
    clock = HybridClock()
    entries, prev = [], ""
    for n in range(1, 7):
        entry = log_entry(device, n, prev, clock)
        entries.append(entry)
        prev = entry["hash"]
    first, second = await asyncio.gather(
        engine.push(people.officer_a, batch(entries[:3])),
        engine.push(people.officer_a, batch(entries[3:])),
    )
    assert answer(first)["summary"]["applied"] == 3
    assert answer(second)["summary"]["applied"] == 3


async def test_a_group_reads_the_database_a_query_per_table_not_per_push(
    engine: SyncEngine, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pushes of a group find what they read in what the unit read ahead: on PostgreSQL
    each read is a round trip made while the write lock is held (docs/benchmarks.md, "Load"),
    so there it is one query for everything."""
    clock, clock2 = HybridClock(), HybridClock()
    known = new_id()
    earlier = batch([incident(known, clock)])
    await engine.push(people.officer_a, earlier)  # stored before the group: its replay is read
    reads: list[str] = []
    for unit_class in (SQLitePushUnit, SQLPushUnit):
        for name in ("_read_ahead", "_read_answers", "_read_records", "_read_heads"):
            monkeypatch.setattr(unit_class, name, _counted(getattr(unit_class, name), reads))
    device = people.officer_a2.device_id
    entry = log_entry(device, 1, "", clock2)
    pushes = [
        (
            people.officer_a,
            batch([incident(new_id(), clock), incident(known, clock, {"description": f"v{i}"})]),
        )
        for i in range(10)
    ]
    pushes.append((people.officer_a2, batch([entry])))
    pushes.append((people.officer_a, earlier))  # a retry: answered from the stored answer
    outcomes = await asyncio.gather(*(engine.push(who, body) for who, body in pushes))
    assert outcomes[-1].replayed and not any(o.replayed for o in outcomes[:-1])
    assert sum(answer(o)["summary"]["applied"] for o in outcomes[:-1]) == 21
    # Before the group read ahead it was 27 reads (two or three per push). On SQLite, where a
    # query is a call, not a round trip: one for the answers, one a collection, one for the
    # chain heads. On PostgreSQL: one in all.
    if getattr(engine.store, "is_sqlite", True):
        assert sorted(reads) == sorted(
            ["_read_ahead", "_read_answers", "_read_heads", "_read_records", "_read_records"]
        )
    else:
        assert reads == ["_read_ahead"]


async def test_pushes_that_queue_while_the_writer_waits_for_the_lock_join_its_group(
    engine: SyncEngine, store: Store, people: People
) -> None:
    """Another process's transaction holds the write lock (a second store on the same
    database); the pushes that arrive meanwhile are written with the first, in one group,
    not in a group of one and then one of the rest (a turn of the lock each)."""
    assert isinstance(store, SQLStore)
    groups = count_groups(engine)
    clock = HybridClock()
    other = SQLStore(store.url)
    await other.open()
    try:
        async with other.push_unit():
            first = asyncio.ensure_future(
                engine.push(people.officer_a, batch([incident(new_id(), clock)]))
            )
            await asyncio.sleep(0.3)  # its writer waits for the lock
            later = [
                asyncio.ensure_future(
                    engine.push(people.officer_a2, batch([incident(new_id(), clock)]))
                )
                for _ in range(2)
            ]
            await asyncio.sleep(0.3)
            assert not first.done() and groups == []
        outcomes = await asyncio.gather(first, *later)
    finally:
        await other.close()
    assert [answer(o)["summary"]["applied"] for o in outcomes] == [1, 1, 1]
    assert groups == [3]


def _counted(read: Any, calls: list[str]) -> Any:
    async def counted(self: Any, *args: Any) -> Any:
        calls.append(read.__name__)
        return await read(self, *args)

    return counted


class _FailingStore:
    """The real store, except that saving one marked batch raises (a bug, a full disk)."""

    def __init__(self, store: Store, bad_batch: str) -> None:
        self._store = store
        self._bad = bad_batch
        self.units = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @asynccontextmanager
    async def push_unit(self) -> AsyncIterator[PushUnit]:
        self.units += 1
        async with self._store.push_unit() as unit:
            yield _FailingUnit(unit, self._bad)


class _FailingUnit(PushUnit):
    def __init__(self, unit: PushUnit, bad: str) -> None:
        self._unit, self._bad = unit, bad

    async def replay(self, device_id: str, batch_id: str) -> StoredAnswer | None:
        return await self._unit.replay(device_id, batch_id)

    async def load(self, collection: str, ids: list[str]) -> Any:
        return await self._unit.load(collection, ids)

    async def chain_head(self, device_id: str) -> ChainHead | None:
        return await self._unit.chain_head(device_id)

    async def allocate(self, count: int) -> int:
        return await self._unit.allocate(count)

    async def save(
        self,
        writes: list[RecordWrite],
        conflicts: list[Conflict],
        heads: list[ChainHead],
        answer: StoredAnswer | None,
        marks: Collection[MarkKey] = (),
    ) -> None:
        if answer is not None and answer.batch_id == self._bad:
            raise RuntimeError("disk full")
        await self._unit.save(writes, conflicts, heads, answer, marks)


async def test_a_failing_push_fails_alone(store: Store, people: People) -> None:
    clock = HybridClock()
    bodies = [batch([incident(new_id(), clock)]) for _ in range(3)]
    failing = _FailingStore(store, bodies[1]["batch_id"])
    engine = SyncEngine(failing)  # type: ignore[arg-type]
    results = await asyncio.gather(
        *(engine.push(people.officer_a, b) for b in bodies), return_exceptions=True
    )
    assert isinstance(results[1], RuntimeError)
    assert [answer(results[i])["summary"]["applied"] for i in (0, 2)] == [1, 1]
    # One group that failed, then each push alone: nothing of the failed push was kept.
    assert failing.units == 4
    ids = {d["id"] for d in await pull_all(SyncEngine(store), people.officer_a)}
    assert ids == {bodies[0]["changes"][0]["id"], bodies[2]["changes"][0]["id"]}


@pytest.mark.parametrize("size", [1, 7, 8, 9, 500, 2049])
async def test_multirow_sizes(store: Store, people: People, size: int) -> None:
    """Batches of every shape go in padded multi-row statements and come back whole."""
    engine = SyncEngine(store, SyncLimits(max_changes=3000))
    clock = HybridClock()
    ids = [new_id() for _ in range(size)]
    outcome = await engine.push(people.officer_a, batch([incident(i, clock) for i in ids]))
    assert answer(outcome)["summary"]["applied"] == size
    assert {d["id"] for d in await pull_all(engine, people.officer_a)} == set(ids)
