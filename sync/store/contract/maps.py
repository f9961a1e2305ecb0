"""The contract's checks of the map reads: boundary layers, incident points and counts per cell
(with their filters), patrol tracks.
"""

from __future__ import annotations

from sync.store.base import Store
from sync.store.contract.data import incident_point, record_write, stored_answer
from sync.store.records import (
    Boundary,
    PointQuery,
    TrackPoint,
)


async def check_boundaries(store: Store) -> None:
    first = [Boundary("districts", c, f"D{c}", {"population": 10}, b"\x01wkb") for c in "ba"]
    await store.replace_boundaries("districts", first)
    await store.replace_boundaries("sectors", [Boundary("sectors", "s", "S", {}, b"x")])
    assert [b.code for b in await store.boundaries("districts")] == ["a", "b"]
    assert (await store.boundaries("districts"))[0] == first[1]
    await store.replace_boundaries("districts", [first[0]])
    assert [b.code for b in await store.boundaries("districts")] == ["b"]
    assert len(await store.boundaries("sectors")) == 1
    assert await store.boundaries("streets") == []


async def check_points_and_cells(store: Store) -> None:
    points = [
        incident_point("a", 1),
        incident_point("b", 2, category="hurto", occurred_s=5000),
        incident_point("c", 3, station_id="s2", cell=617733150781865999, occurred_s=9000),
        incident_point("d", 4, lon=None, lat=None, cell=None),
        incident_point("e", 5, deleted=True),
    ]
    async with store.push_unit() as unit:
        await unit.allocate(5)
        writes = [record_write(p.id, p.seq, p.station_id, point=p) for p in points]
        await unit.save(writes, [], [], stored_answer("b1"))
    everything = await store.points(PointQuery(), ("id", "lon", "occurred_s", "cell"))
    assert list(everything["id"]) == ["a", "b", "c"]
    assert everything["occurred_s"].dtype.kind == "i" and everything["lon"].dtype.kind == "f"
    window = PointQuery(station_ids=("s1",), since_s=1000, until_s=5000, categories=("robo",))
    assert list((await store.points(window, ("id",)))["id"]) == ["a"]
    box = PointQuery(bbox=(-77.1, -12.1, -76.9, -11.9))
    assert len((await store.points(box))["lon"]) == 3
    assert len((await store.points(PointQuery(bbox=(0, 0, 1, 1))))["lon"]) == 0
    assert await store.time_span(PointQuery()) == (1000, 9000)
    assert await store.time_span(PointQuery(station_ids=("s1",))) == (1000, 5000)
    assert await store.time_span(PointQuery(station_ids=("zz",))) is None
    counts = await store.cell_counts(PointQuery())
    assert dict(zip(counts["cell"].tolist(), counts["count"].tolist(), strict=True)) == {
        617733150781865983: 2,
        617733150781865999: 1,
    }
    weekly = await store.cell_counts(PointQuery(station_ids=("s1",)), bucket_s=4000)
    assert sorted(zip(weekly["bucket"].tolist(), weekly["count"].tolist(), strict=True)) == [
        (0, 1),
        (1, 1),
    ]
    moved = incident_point("a", 6, deleted=True)
    async with store.push_unit() as unit:
        await unit.allocate(1)
        await unit.save(
            [record_write("a", 6, point=moved, is_new=False)], [], [], stored_answer("b2")
        )
    assert list((await store.points(PointQuery(), ("id",)))["id"]) == ["b", "c"]


async def check_tracks(store: Store) -> None:
    tracks = [
        TrackPoint("t2", "d1", "o1", "s1", 200, -77.0, -12.0),
        TrackPoint("t1", "d1", "o1", "s1", 100, -77.1, -12.1),
        TrackPoint("t3", "d2", "o2", "s2", 150, -77.2, -12.2),
    ]
    async with store.push_unit() as unit:
        await unit.allocate(3)
        writes = [
            record_write(t.entry_id, i + 1, collection="patrol_logs", track=t)
            for i, t in enumerate(tracks)
        ]
        await unit.save(writes, [], [], stored_answer("b1"))
    columns = await store.tracks(PointQuery())
    assert list(columns["entry_id"]) == ["t1", "t2", "t3"]
    assert columns["at_s"].dtype.kind == "i" and columns["lon"].dtype.kind == "f"
    window = PointQuery(station_ids=("s1",), since_s=150, until_s=300, categories=("x",))
    assert list((await store.tracks(window, ("entry_id",)))["entry_id"]) == ["t2"]
