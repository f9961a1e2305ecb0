"""Values written by a record's creating change are concurrent with an edit that had not seen
the creation (docs/protocol.md, "Merge rule"): overwriting them is logged, whichever way the
creation was applied (a new record built outside the lock, a merge, a group commit).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from sync.clock import now_ms
from sync.engine import SyncEngine
from sync.store.base import Store
from sync.store.records import Identity
from tests.support import People, count_groups, new_id

START = now_ms() - 60_000  # stamps in the past are never refused
OPEN_VICTIM = [{"name": "María Condori", "dni": "41234567"}]


def stamp(step: int) -> str:
    return f"{START + step:013d}-00000"


def creation(record_id: str) -> dict[str, Any]:
    return {
        "collection": "incidents",
        "id": record_id,
        "op": "upsert",
        "hlc": stamp(0),
        "fields": {
            "category": "robo",
            "occurred_at": "2026-11-20T22:15:00-05:00",
            "status": "open",
        },
        "pii": {"victims": OPEN_VICTIM},
    }


def blind_edit(record_id: str, base_seq: int) -> dict[str, Any]:
    """The chief's device (a role that may write the personal data) closes the incident and
    clears its victims, later, not having seen it."""
    return {
        "collection": "incidents",
        "id": record_id,
        "op": "upsert",
        "hlc": stamp(10),
        "base_seq": base_seq,
        "fields": {"status": "closed"},
        "pii": {"victims": []},
    }


async def send(engine: SyncEngine, who: Identity, changes: list[Any], fast: bool) -> dict[str, Any]:
    body = {"batch_id": new_id(), "changes": changes}
    if fast:  # the bytes path (msgspec first), as the HTTP route calls it
        outcome = await engine.push_json(who, orjson.dumps(body))
    else:
        outcome = await engine.push(who, body)
    answer: dict[str, Any] = orjson.loads(outcome.answer)
    return answer


async def logged(store: Store, record_id: str) -> dict[str, Any]:
    rows = await store.conflicts(None, 0, 1000)
    return {c.field: orjson.loads(c.losing_value) for _, c in rows if c.record_id == record_id}


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
@pytest.mark.parametrize("base", ["zero", "before_creation"])
async def test_overwriting_creation_values_unseen_is_logged(
    engine: SyncEngine, store: Store, people: People, fast: bool, base: str
) -> None:
    # Some other records first, so the creation's seq is well above 1.
    for _ in range(2):
        await send(engine, people.officer_b, [creation(new_id())], fast)
    rid = new_id()
    created = await send(engine, people.officer_a, [creation(rid)], fast)
    s0 = created["results"][0]["seq"]
    assert s0 == 3
    base_seq = 0 if base == "zero" else s0 - 1
    answer = await send(engine, people.chief_a, [blind_edit(rid, base_seq)], fast)
    result = answer["results"][0]
    assert (result["status"], result["conflicts"]) == ("applied", 2)
    assert await logged(store, rid) == {"status": "open", "pii.victims": OPEN_VICTIM}


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
async def test_an_edit_that_saw_the_creation_logs_nothing(
    engine: SyncEngine, store: Store, people: People, fast: bool
) -> None:
    rid = new_id()
    created = await send(engine, people.officer_a, [creation(rid)], fast)
    seen = created["results"][0]["seq"]
    answer = await send(engine, people.chief_a, [blind_edit(rid, seen)], fast)
    assert answer["results"][0]["conflicts"] == 0
    assert await logged(store, rid) == {}


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
async def test_creation_and_blind_edit_in_one_group_commit(
    engine: SyncEngine, store: Store, people: People, fast: bool
) -> None:
    rid = new_id()
    groups = count_groups(engine)
    # gather: both pushes validate and queue before the writer runs, so one unit holds both.
    created, edited = await asyncio.gather(
        send(engine, people.officer_a, [creation(rid)], fast),
        send(engine, people.chief_a, [blind_edit(rid, 0)], fast),
    )
    assert groups == [2]
    assert created["results"][0]["status"] == "applied"
    assert edited["results"][0]["seq"] > created["results"][0]["seq"]
    assert edited["results"][0]["conflicts"] == 2
    assert await logged(store, rid) == {"status": "open", "pii.victims": OPEN_VICTIM}


async def test_a_creation_stored_with_sequence_zero_is_unseen_by_base_zero(
    engine: SyncEngine, store: Store, people: People
) -> None:
    """Records created before this fix kept sequence 0 in their clocks."""
    rid = new_id()
    await send(engine, people.officer_a, [creation(rid)], True)
    async with store.push_unit() as unit:
        record = (await unit.load("incidents", [rid]))[rid]
    clocks = {name: [c[0], c[1], 0] for name, c in record.clocks.items()}
    await _rewrite_clocks(store, rid, orjson.dumps(clocks).decode())
    answer = await send(engine, people.chief_a, [blind_edit(rid, 0)], True)
    assert answer["results"][0]["conflicts"] == 2
    assert set(await logged(store, rid)) == {"status", "pii.victims"}


async def _rewrite_clocks(store: Store, record_id: str, clocks: str) -> None:
    from sqlalchemy import text

    from sync.store.sql import SQLStore

    assert isinstance(store, SQLStore)
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE record SET clocks = :c WHERE collection = 'incidents' AND id = :i"),
            {"c": clocks, "i": record_id},
        )


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
@pytest.mark.parametrize("claimed", [1, 10**15])
async def test_a_base_seq_never_issued_is_refused_not_a_free_pass(
    engine: SyncEngine, store: Store, people: People, fast: bool, claimed: int
) -> None:
    # base_seq above the record's seq marked every value as seen: the overwrite of the
    # creation's values went unlogged (found by a client written from the doc alone).
    rid = new_id()
    created = await send(engine, people.officer_a, [creation(rid)], fast)
    seq = created["results"][0]["seq"]
    answer = await send(engine, people.chief_a, [blind_edit(rid, seq + claimed)], fast)
    result = answer["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "invalid_field"
    assert result["error"]["details"] == {"field": "base_seq", "seq": seq}
    record = await store.record("incidents", rid)
    assert record is not None and record.doc["fields"]["status"] == "open"
