"""Notices and acknowledgements in the engine, on SQLite and PostgreSQL: one record per
station of the area, an acknowledgement once per officer (repeats unchanged, in one batch or
across batches), a replayed batch gets its first answer, ending writes tombstones once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.notices import end_notice, expire_due, post_notice
from sync.protocol_notices import NoticeDraft
from sync.store.records import AuditQuery, PullScope
from tests.support import People


def draft(seconds: float = 3600, **extra: object) -> NoticeDraft:
    expires = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    return NoticeDraft.model_validate(
        {"text": "Moto roja", "category": "robo", "expires_at": expires, **extra}
    )


def ack(notice_id: str, clock: HybridClock) -> dict[str, object]:
    at = datetime.now(UTC).isoformat()
    return {
        "collection": "notice_acks",
        "id": notice_id,
        "op": "ack",
        "hlc": str(clock.tick()),
        "at": at,
    }


async def docs(engine: SyncEngine, collection: str) -> list[dict[str, object]]:
    rows = await engine.store.pull(PullScope(None, "none", ""), 0, 1000)
    return [d for d in map(orjson.loads, (r.doc for r in rows)) if d["collection"] == collection]


async def test_one_copy_per_station_and_acks_once(engine: SyncEngine, people: People) -> None:
    now = int(datetime.now(UTC).timestamp() * 1000)
    notice = await post_notice(engine, people.analyst, draft(stations=["st-a", "st-b"]), now)
    copies = await docs(engine, "notices")
    assert sorted(str(c["station_id"]) for c in copies) == ["st-a", "st-b"]
    assert {c["id"] for c in copies} == {f"{notice.notice_id}@st-a", f"{notice.notice_id}@st-b"}
    clock = HybridClock()
    body = {
        "batch_id": "b1",
        "changes": [ack(notice.notice_id, clock), ack(notice.notice_id, clock)],
    }
    first = orjson.loads((await engine.push(people.officer_a, body)).answer)
    assert [r["status"] for r in first["results"]] == ["applied", "unchanged"]
    assert first["results"][0]["seq"] == first["results"][1]["seq"]
    again = await engine.push(people.officer_a, body)
    assert again.replayed and orjson.loads(again.answer) == first
    later = {"batch_id": "b2", "changes": [ack(notice.notice_id, clock)]}
    second = orjson.loads((await engine.push(people.officer_a, later)).answer)
    assert second["results"][0]["status"] == "unchanged"
    assert second["results"][0]["seq"] == first["results"][0]["seq"]
    other = {"batch_id": "b3", "changes": [ack(notice.notice_id, clock)]}
    by_b = orjson.loads((await engine.push(people.officer_b, other)).answer)
    assert by_b["results"][0]["status"] == "applied"
    acks = await docs(engine, "notice_acks")
    assert sorted((a["officer_id"], a["station_id"]) for a in acks) == [
        ("off-a", "st-a"),
        ("off-b", "st-b"),
    ]
    read_only = {"batch_id": "b4", "changes": [ack(notice.notice_id, clock)]}
    refused = orjson.loads((await engine.push(people.analyst, read_only)).answer)
    assert refused["results"][0]["error"]["code"] == "read_only"


async def test_ending_writes_tombstones_once(engine: SyncEngine, people: People) -> None:
    now = int(datetime.now(UTC).timestamp() * 1000)
    notice = await post_notice(engine, people.chief_a, draft(seconds=60), now)
    assert await expire_due(engine, now) == []
    later = now + 61_000
    assert await expire_due(engine, later) == [notice.notice_id]
    assert await expire_due(engine, later) == []  # ended already: nothing written again
    (copy,) = await docs(engine, "notices")
    assert copy["deleted"] is True and copy["ended"] == "expired" and "body" not in copy
    ended = await end_notice(engine, notice.notice_id, "withdrawn", later, people.chief_a)
    assert ended.ended == "expired"  # the first ending stays
    events = await engine.store.audit_search(AuditQuery(actions=("expire_notice",)))
    assert [e.target for _, e in events] == [notice.notice_id]
