"""A push unit keeps its writes until it ends (sync/store/unit_buffer.py): what it writes then.

Both adapters write each table once per unit, so a record written several times in one unit
(a group of pushes touching the same incident) must end as its last version, once.
"""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import text

from sync.store import sql_unit
from sync.store.records import (
    ChainHead,
    Conflict,
    IncidentPoint,
    PointQuery,
    PullScope,
    RecordWrite,
    StoredAnswer,
    TrackPoint,
)
from sync.store.sql import SQLStore

EVERYTHING = PullScope(None, "all", "o1")


@pytest.fixture(autouse=True, params=["one statement", "copy"])
def write_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """PostgreSQL writes a usual unit in one statement and a large one by COPY: every test
    here runs both ways (SQLite has one way; it runs twice)."""
    if request.param == "copy":
        monkeypatch.setattr(sql_unit, "ONE_STATEMENT_ROWS", -1)
    return str(request.param)


def _point(rid: str, seq: int, lon: float) -> IncidentPoint:
    return IncidentPoint(rid, "s1", "robo", 1000, lon, -12.0, "150101", "s1-a", 7, False, seq)


def _write(rid: str, seq: int, is_new: bool, lon: float = -77.0) -> RecordWrite:
    doc = {"collection": "incidents", "id": rid, "seq": seq, "fields": {"v": seq}}
    return RecordWrite(
        "incidents",
        rid,
        "s1",
        seq,
        False,
        orjson.dumps(doc).decode(),
        "{}",
        None,
        "o1",
        "d1",
        None,
        seq,
        is_new,
        point=_point(rid, seq, lon),
    )


def _answer(batch: str) -> StoredAnswer:
    return StoredAnswer("d1", batch, "h", b"{}", 1)


async def _points(store: SQLStore) -> list[tuple[str, int, float]]:
    columns = await store.points(PointQuery(), ("id", "seq", "lon"))
    return list(zip(columns["id"], columns["seq"].tolist(), columns["lon"].tolist(), strict=True))


async def test_a_record_created_and_changed_in_one_unit_is_stored_as_its_last_version(
    store: SQLStore,
) -> None:
    async with store.push_unit() as unit:
        first = await unit.allocate(3)
        await unit.save([_write("r1", first, True)], [], [], _answer("b1"))
        await unit.save([_write("r1", first + 1, False, -77.1)], [], [], _answer("b2"))
        assert (await unit.load("incidents", ["r1"]))["r1"].seq == first + 1
        await unit.save([_write("r1", first + 2, False, -77.2)], [], [], _answer("b3"))
    rows = await store.pull(EVERYTHING, 0, 10)
    assert [(r.seq, orjson.loads(r.doc)["fields"]) for r in rows] == [(3, {"v": 3})]
    assert await _points(store) == [("r1", 3, -77.2)]
    assert await store.last_seq() == 3


async def test_a_stored_record_changed_twice_in_one_unit_ends_as_the_second_change(
    store: SQLStore,
) -> None:
    async with store.push_unit() as unit:
        await unit.allocate(1)
        await unit.save([_write("r1", 1, True)], [], [], _answer("b1"))
    async with store.push_unit() as unit:
        await unit.allocate(2)
        await unit.save([_write("r1", 2, False, -77.1)], [], [], _answer("b2"))
        await unit.save([_write("r1", 3, False, -77.3)], [], [], _answer("b3"))
    record = await store.record("incidents", "r1")
    assert record is not None and record.seq == 3 and record.doc["fields"] == {"v": 3}
    assert await _points(store) == [("r1", 3, -77.3)]
    assert [r.seq for r in await store.pull(EVERYTHING, 0, 10)] == [3]


async def test_a_second_creation_of_one_id_in_one_unit_fails_the_whole_unit(
    store: SQLStore,
) -> None:
    with pytest.raises(Exception):  # noqa: B017 - each database names its own error
        async with store.push_unit() as unit:
            await unit.allocate(2)
            await unit.save([_write("r0", 1, True)], [], [], _answer("b0"))
            await unit.save([_write("r1", 2, True)], [], [], _answer("b1"))
            await unit.save([_write("r1", 3, True)], [], [], _answer("b2"))
    assert await store.pull(EVERYTHING, 0, 10) == []
    assert await store.last_seq() == 0
    async with store.push_unit() as unit:
        assert await unit.replay("d1", "b0") is None


async def test_a_point_left_without_its_record_does_not_block_the_new_incident(
    store: SQLStore,
) -> None:
    # A map row whose record is missing (a hand-made row, a partial restore): the incident
    # created with that id must still be stored, and its point replace the old one.
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO incident_point (id, station_id, category, occurred_s, lon, lat,"
                " deleted, seq) VALUES ('r9', 's1', 'hurto', 5, -70.0, -10.0, false, 99)"
            )
        )
    async with store.push_unit() as unit:
        await unit.allocate(2)
        await unit.save([_write("r8", 1, True), _write("r9", 2, True)], [], [], _answer("b1"))
    assert await _points(store) == [("r8", 1, -77.0), ("r9", 2, -77.0)]
    assert [r.seq for r in await store.pull(EVERYTHING, 0, 10)] == [1, 2]


async def test_a_unit_writing_every_table_reads_back_the_same(store: SQLStore) -> None:
    """New and changed records, a patrol position, map points, conflicts (one twice), chain
    heads, answers and the counter, in one unit: each where it belongs, once."""
    async with store.push_unit() as unit:
        await unit.allocate(1)
        await unit.save([_write("old", 1, True)], [], [ChainHead("d1", 1, "a")], _answer("b0"))
    track = TrackPoint("e1", "d1", "o1", "s1", 1_000, -77.05, -12.05)
    entry = RecordWrite(
        "patrol_logs", "e1", "s1", 4, False, '{"id":"e1"}', "{}", None, "o1", "d1", 2, 4, True,
        track=track,
    )  # fmt: skip
    lost = Conflict("s1", "incidents", "old", "v", "1", "h1", "d2", "h2", "d1", 2, 9)
    async with store.push_unit() as unit:
        first = await unit.allocate(3)
        await unit.save(
            [_write("new", first, True), _write("old", first + 1, False, -77.4)],
            [lost, lost],
            [ChainHead("d1", 2, "b"), ChainHead("d2", 1, "c")],
            _answer("b1"),
        )
        await unit.save([entry], [], [], _answer("b2"))
    assert await store.last_seq() == 4
    assert [r.seq for r in await store.pull(EVERYTHING, 0, 10)] == [2, 3, 4]
    assert await _points(store) == [("new", 2, -77.0), ("old", 3, -77.4)]
    assert list((await store.tracks(PointQuery(), ("entry_id",)))["entry_id"]) == ["e1"]
    assert [c for _, c in await store.conflicts(None, 0, 10)] == [lost]
    async with store.push_unit() as unit:
        assert await unit.chain_head("d1") == ChainHead("d1", 2, "b")
        assert await unit.chain_head("d2") == ChainHead("d2", 1, "c")
        assert await unit.replay("d1", "b2") == _answer("b2")
        assert (await unit.load("incidents", ["old"]))["old"].seq == 3
