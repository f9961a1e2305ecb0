"""The contract's checks of the sync path: the push unit (round trip, rollback, a failed write
rolls the unit back), pulls by scope with the personal-data rule, conflict paging, patrol-log
chains and pruned answers, the sync state and its epoch.
"""

from __future__ import annotations

from sync.store.base import Store
from sync.store.contract.data import record_write, stored_answer
from sync.store.records import (
    ChainHead,
    Conflict,
    PullScope,
    StoredAnswer,
    SyncState,
    UnitReads,
)


async def check_push_unit_roundtrip(store: Store) -> None:
    async with store.push_unit() as unit:
        first = await unit.allocate(2)
        assert first == 1
        conflict = Conflict("s1", "incidents", "r1", "n", "1", "h1", "d2", "h2", "d1", 1, 1)
        await unit.save(
            [record_write("r1", first), record_write("r2", first + 1, "s2")],
            [conflict, conflict],
            [ChainHead("d1", 3, "ab")],
            stored_answer("b1"),
        )
    async with store.push_unit() as unit:
        loaded = await unit.load("incidents", ["r1", "r2", "missing"])
        assert sorted(loaded) == ["r1", "r2"] and loaded["r1"].doc["fields"] == {"n": 1}
        assert loaded["r1"].clocks == {"n": ["0000000000001-00000", "d1", 1]}
        assert await store.record("incidents", "missing") is None
        assert await unit.chain_head("d1") == ChainHead("d1", 3, "ab")
        assert (await unit.replay("d1", "b1")) == stored_answer("b1")
        assert await unit.replay("d1", "b2") is None
        assert await unit.allocate(1) == 3
        update = record_write("r1", 3, doc='{"v":2}', is_new=False)
        await unit.save([update], [], [ChainHead("d1", 4, "cd")], stored_answer("b2"))
    assert await store.last_seq() == 3
    one = await store.record("incidents", "r1")
    assert one is not None and one.seq == 3 and one.doc == {"v": 2}
    assert len(await store.conflicts(None, 0, 10)) == 1  # the duplicate was ignored
    rows = await store.pull(PullScope(None, "all", "o1"), 0, 10)
    assert [(r.seq, r.doc) for r in rows][-1] == (3, '{"v":2}')


async def check_prefetch_answers_as_reads_do(store: Store) -> None:
    """A unit that read ahead (``prefetch``) answers every read as one that did not: stored
    rows, missing ones (found absent, not read again as present), keys it was not told of, and
    the unit's own writes over what it read ahead."""
    async with store.push_unit() as unit:
        first = await unit.allocate(3)
        await unit.save(
            [
                record_write("r1", first),
                record_write("e1", first + 1, collection="patrol_logs", chain_n=1),
                record_write("r3", first + 2),
            ],
            [],
            [ChainHead("d1", 1, "h1")],
            stored_answer("b1"),
        )
    ahead = UnitReads(answers={("d1", "b1"), ("d1", "b9"), ("d2", "b1")}, heads={"d1", "d2"})
    ahead.add_records("incidents", ["r1", "missing"])
    ahead.add_records("patrol_logs", ["e1"])
    async with store.push_unit() as unit:
        await unit.prefetch(ahead)
        assert await unit.replay("d1", "b1") == stored_answer("b1")
        assert await unit.replay("d1", "b9") is None and await unit.replay("d2", "b1") is None
        loaded = await unit.load("incidents", ["r1", "missing", "r3"])  # r3: not read ahead
        assert sorted(loaded) == ["r1", "r3"] and loaded["r1"].doc["fields"] == {"n": 1}
        assert sorted(await unit.load("patrol_logs", ["e1", "e9"])) == ["e1"]
        assert await unit.chain_head("d1") == ChainHead("d1", 1, "h1")
        assert await unit.chain_head("d2") is None
        assert await unit.chain_head("d3") is None  # not read ahead: read now
        seq = await unit.allocate(2)
        await unit.save(
            [
                record_write("r1", seq, doc='{"v":2}', is_new=False),
                record_write("missing", seq + 1),
            ],
            [],
            [ChainHead("d2", 1, "h2")],
            stored_answer("b9"),
        )
        again = await unit.load("incidents", ["r1", "missing"])
        assert again["r1"].seq == seq and again["missing"].seq == seq + 1
        assert await unit.chain_head("d2") == ChainHead("d2", 1, "h2")
        assert await unit.replay("d1", "b9") == stored_answer("b9")
    async with store.push_unit() as unit:
        await unit.prefetch(ahead)  # a new unit reads ahead what the last one committed
        assert await unit.replay("d1", "b9") == stored_answer("b9")
        assert (await unit.load("incidents", ["missing"]))["missing"].seq == seq + 1
        assert await unit.chain_head("d2") == ChainHead("d2", 1, "h2")


async def check_push_unit_rollback(store: Store) -> None:
    try:
        async with store.push_unit() as unit:
            await unit.allocate(5)
            await unit.save([record_write("r1", 1)], [], [], stored_answer("b1"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert await store.last_seq() == 0
    assert await store.pull(PullScope(None, "all", "o1"), 0, 10) == []
    async with store.push_unit() as unit:
        assert await unit.replay("d1", "b1") is None


async def check_failed_write_rolls_back_unit(store: Store) -> None:
    """A write the database refuses (here a second insert of one id) undoes the whole unit,
    including what was saved before it, whenever the store reports the failure."""
    async with store.push_unit() as unit:
        await unit.allocate(1)
        await unit.save([record_write("r1", 1)], [], [], stored_answer("b1"))
    failed = False
    try:
        async with store.push_unit() as unit:
            await unit.allocate(2)
            await unit.save([record_write("r2", 2)], [], [], stored_answer("b2"))
            await unit.save(
                [record_write("r1", 3)], [], [], stored_answer("b3")
            )  # r1 exists: refused
    except Exception:
        failed = True
    assert failed
    assert await store.last_seq() == 1
    assert [r.seq for r in await store.pull(PullScope(None, "all", "o1"), 0, 10)] == [1]
    async with store.push_unit() as unit:
        assert await unit.replay("d1", "b2") is None
        assert (await unit.load("incidents", ["r2"])) == {}


async def check_pull_scope_and_pii(store: Store) -> None:
    async with store.push_unit() as unit:
        await unit.allocate(3)
        writes = [
            record_write("a", 1, "s1", pii='{"victims":[1]}'),
            record_write("b", 2, "s2", pii='{"victims":[2]}'),
            record_write("c", 3, "s1", pii='{"victims":[3]}', author_officer="o2"),
        ]
        await unit.save(writes, [], [], stored_answer("b1"))
    everything = await store.pull(PullScope(None, "all", "o1"), 0, 10)
    assert [r.seq for r in everything] == [1, 2, 3] and all(r.pii for r in everything)
    own = await store.pull(PullScope(("s1",), "own", "o1"), 0, 10)
    assert [(r.seq, r.pii is not None) for r in own] == [(1, True), (3, False)]
    none = await store.pull(PullScope(("s1",), "none", "o1"), 0, 10)
    assert [r.pii for r in none] == [None, None]
    assert [r.seq for r in await store.pull(PullScope(None, "none", "o1"), 1, 1)] == [2]


async def check_conflicts_paging(store: Store) -> None:
    async with store.push_unit() as unit:
        conflicts = [
            Conflict(f"s{i % 2 + 1}", "incidents", f"r{i}", "f", "1", "h", "d", "h2", "e", i, 1)
            for i in range(5)
        ]
        await unit.save([], conflicts, [], stored_answer("b1"))
    page = await store.conflicts(None, 0, 3)
    assert len(page) == 3
    rest = await store.conflicts(None, page[-1][0], 10)
    assert [c.record_id for _, c in rest] == ["r3", "r4"]
    assert all(c.station_id == "s1" for _, c in await store.conflicts(("s1",), 0, 10))


async def check_chain_and_prune(store: Store) -> None:
    async with store.push_unit() as unit:
        await unit.allocate(2)
        entries = [
            record_write("e2", 2, collection="patrol_logs", chain_n=2),
            record_write("e1", 1, collection="patrol_logs", chain_n=1),
        ]
        await unit.save(entries, [], [], StoredAnswer("d1", "old", "h", b"{}", 5))
    assert [e.chain_n for e in await store.chain("d1")] == [1, 2]
    assert await store.chain("d9") == []
    assert await store.prune_answers(6) == 1
    async with store.push_unit() as unit:
        assert await unit.replay("d1", "old") is None


async def check_sync_state_and_epoch(store: Store) -> None:
    """A new database has a random epoch of its own; the state follows the sequence; a new
    epoch replaces it and ends the legacy bound (sync.cursor)."""
    state = await store.sync_state()
    assert state.epoch > 0 and (state.last_seq, state.legacy_seq) == (0, None)
    async with store.push_unit() as unit:
        first = await unit.allocate(2)
        await unit.save(
            [record_write("r1", first), record_write("r2", first + 1)], [], [], stored_answer("b1")
        )
    after = await store.sync_state()
    assert (after.epoch, after.last_seq) == (state.epoch, 2)
    await store.new_epoch(state.epoch + 1)
    assert await store.sync_state() == SyncState(state.epoch + 1, 2, None)
