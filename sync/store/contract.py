"""The contract every storage adapter must pass, shipped with the package (as Kinto does).

Each check takes a freshly opened, empty store.  ``tests/sync/test_store_contract.py`` runs
every check on every reachable adapter; a new adapter runs them too, unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from sync.errors import AlreadyExists, EnrollmentInvalid
from sync.store.base import Store
from sync.store.records import (
    AuditEvent,
    Boundary,
    ChainHead,
    Conflict,
    Credential,
    Device,
    Enrollment,
    IncidentPoint,
    LoginKey,
    Officer,
    PointQuery,
    PublicSnapshot,
    PullScope,
    RecordWrite,
    Station,
    StoredAnswer,
    SyncState,
    TrackPoint,
    WebSession,
)

Check = Callable[[Store], Awaitable[None]]


def _write(rid: str, seq: int, station: str = "s1", **extra: object) -> RecordWrite:
    doc = {"collection": "incidents", "id": rid, "seq": seq, "fields": {"n": seq}}
    values = {
        "collection": "incidents",
        "id": rid,
        "station_id": station,
        "seq": seq,
        "deleted": False,
        "doc": orjson.dumps(doc).decode(),
        "clocks": '{"n":["0000000000001-00000","d1",1]}',
        "pii": None,
        "author_officer": "o1",
        "author_device": "d1",
        "chain_n": None,
        "updated_ms": 1,
        "is_new": True,
    }
    values.update(extra)
    return RecordWrite(**values)  # type: ignore[arg-type]


def _answer(batch: str, body: bytes = b'{"ok":1}') -> StoredAnswer:
    return StoredAnswer("d1", batch, "h-" + batch, body, 1)


async def _seed(store: Store) -> None:
    await store.put_station(Station("s1", "Uno", "150101"))
    await store.put_station(Station("s2", "Dos", None))
    await store.put_officer(Officer("o1", "Ana", "officer", "s1"))
    await store.put_officer(Officer("o2", "Rosa", "chief", "s1"))


async def check_people(store: Store) -> None:
    await _seed(store)
    await store.put_station(Station("s1", "Uno bis", "150101"))
    assert [s.name for s in await store.list_stations()] == ["Uno bis", "Dos"]
    assert await store.get_officer("o1") == Officer("o1", "Ana", "officer", "s1")
    assert await store.get_officer("nobody") is None
    assert [o.id for o in await store.list_officers("s1")] == ["o1", "o2"]


async def check_enrollment_once(store: Store) -> None:
    await _seed(store)
    await store.add_enrollment(Enrollment("code-h", "o1", expires_ms=1000, created_by="admin"))
    device = await store.redeem_enrollment("code-h", Device("dv1", "", "phone", 10), "tok-h", 10)
    assert device.officer_id == "o1"
    identity = await store.identity_for_token("tok-h")
    assert identity is not None and identity.role == "officer" and identity.station_id == "s1"
    for code, now in (("code-h", 11), ("unknown", 11)):
        try:
            await store.redeem_enrollment(code, Device("dv2", "", "x", now), "tok-2", now)
        except EnrollmentInvalid:
            continue
        raise AssertionError(f"code {code} redeemed twice or unknown code accepted")


async def check_enrollment_expiry(store: Store) -> None:
    await _seed(store)
    await store.add_enrollment(Enrollment("code-e", "o1", expires_ms=1000, created_by="admin"))
    try:
        await store.redeem_enrollment("code-e", Device("dv1", "", "phone", 1000), "t", 1000)
    except EnrollmentInvalid:
        return
    raise AssertionError("an expired code was accepted")


async def check_revocation(store: Store) -> None:
    await _seed(store)
    await store.add_token(Device("dv1", "o1", "phone", 1), "tok-1")
    try:
        await store.add_token(Device("dv1", "o1", "phone", 1), "tok-other")
        raise AssertionError("duplicate device id accepted")
    except AlreadyExists:
        pass
    assert await store.identity_for_token("tok-1") is not None
    assert await store.revoke_device("dv1", 5)
    assert await store.identity_for_token("tok-1") is None
    assert not await store.revoke_device("nope", 5)
    assert [d.revoked_ms for d in await store.list_devices("o1")] == [5]


async def check_push_unit_roundtrip(store: Store) -> None:
    async with store.push_unit() as unit:
        first = await unit.allocate(2)
        assert first == 1
        conflict = Conflict("s1", "incidents", "r1", "n", "1", "h1", "d2", "h2", "d1", 1, 1)
        await unit.save(
            [_write("r1", first), _write("r2", first + 1, "s2")],
            [conflict, conflict],
            [ChainHead("d1", 3, "ab")],
            _answer("b1"),
        )
    async with store.push_unit() as unit:
        loaded = await unit.load("incidents", ["r1", "r2", "missing"])
        assert sorted(loaded) == ["r1", "r2"] and loaded["r1"].doc["fields"] == {"n": 1}
        assert loaded["r1"].clocks == {"n": ["0000000000001-00000", "d1", 1]}
        assert await store.record("incidents", "missing") is None
        assert await unit.chain_head("d1") == ChainHead("d1", 3, "ab")
        assert (await unit.replay("d1", "b1")) == _answer("b1")
        assert await unit.replay("d1", "b2") is None
        assert await unit.allocate(1) == 3
        update = _write("r1", 3, doc='{"v":2}', is_new=False)
        await unit.save([update], [], [ChainHead("d1", 4, "cd")], _answer("b2"))
    assert await store.last_seq() == 3
    one = await store.record("incidents", "r1")
    assert one is not None and one.seq == 3 and one.doc == {"v": 2}
    assert len(await store.conflicts(None, 0, 10)) == 1  # the duplicate was ignored
    rows = await store.pull(PullScope(None, "all", "o1"), 0, 10)
    assert [(r.seq, r.doc) for r in rows][-1] == (3, '{"v":2}')


async def check_push_unit_rollback(store: Store) -> None:
    try:
        async with store.push_unit() as unit:
            await unit.allocate(5)
            await unit.save([_write("r1", 1)], [], [], _answer("b1"))
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
        await unit.save([_write("r1", 1)], [], [], _answer("b1"))
    failed = False
    try:
        async with store.push_unit() as unit:
            await unit.allocate(2)
            await unit.save([_write("r2", 2)], [], [], _answer("b2"))
            await unit.save([_write("r1", 3)], [], [], _answer("b3"))  # r1 exists: refused
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
            _write("a", 1, "s1", pii='{"victims":[1]}'),
            _write("b", 2, "s2", pii='{"victims":[2]}'),
            _write("c", 3, "s1", pii='{"victims":[3]}', author_officer="o2"),
        ]
        await unit.save(writes, [], [], _answer("b1"))
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
        await unit.save([], conflicts, [], _answer("b1"))
    page = await store.conflicts(None, 0, 3)
    assert len(page) == 3
    rest = await store.conflicts(None, page[-1][0], 10)
    assert [c.record_id for _, c in rest] == ["r3", "r4"]
    assert all(c.station_id == "s1" for _, c in await store.conflicts(("s1",), 0, 10))


async def check_chain_and_prune(store: Store) -> None:
    async with store.push_unit() as unit:
        await unit.allocate(2)
        entries = [
            _write("e2", 2, collection="patrol_logs", chain_n=2),
            _write("e1", 1, collection="patrol_logs", chain_n=1),
        ]
        await unit.save(entries, [], [], StoredAnswer("d1", "old", "h", b"{}", 5))
    assert [e.chain_n for e in await store.chain("d1")] == [1, 2]
    assert await store.chain("d9") == []
    assert await store.prune_answers(6) == 1
    async with store.push_unit() as unit:
        assert await unit.replay("d1", "old") is None


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


def _point(rid: str, seq: int, **extra: object) -> IncidentPoint:
    values: dict[str, object] = {
        "id": rid,
        "station_id": "s1",
        "category": "robo",
        "occurred_s": 1000,
        "lon": -77.0,
        "lat": -12.0,
        "district": "150101",
        "sector": "s1-a",
        "cell": 617733150781865983,
        "deleted": False,
        "seq": seq,
    }
    values.update(extra)
    return IncidentPoint(**values)  # type: ignore[arg-type]


async def check_points_and_cells(store: Store) -> None:
    points = [
        _point("a", 1),
        _point("b", 2, category="hurto", occurred_s=5000),
        _point("c", 3, station_id="s2", cell=617733150781865999, occurred_s=9000),
        _point("d", 4, lon=None, lat=None, cell=None),
        _point("e", 5, deleted=True),
    ]
    async with store.push_unit() as unit:
        await unit.allocate(5)
        writes = [_write(p.id, p.seq, p.station_id, point=p) for p in points]
        await unit.save(writes, [], [], _answer("b1"))
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
    moved = _point("a", 6, deleted=True)
    async with store.push_unit() as unit:
        await unit.allocate(1)
        await unit.save([_write("a", 6, point=moved, is_new=False)], [], [], _answer("b2"))
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
            _write(t.entry_id, i + 1, collection="patrol_logs", track=t)
            for i, t in enumerate(tracks)
        ]
        await unit.save(writes, [], [], _answer("b1"))
    columns = await store.tracks(PointQuery())
    assert list(columns["entry_id"]) == ["t1", "t2", "t3"]
    assert columns["at_s"].dtype.kind == "i" and columns["lon"].dtype.kind == "f"
    window = PointQuery(station_ids=("s1",), since_s=150, until_s=300, categories=("x",))
    assert list((await store.tracks(window, ("entry_id",)))["entry_id"]) == ["t2"]


async def check_credentials(store: Store) -> None:
    await _seed(store)
    assert await store.credential("o2") is None
    await store.put_credential(Credential("o2", "$argon2id$hash"))
    assert await store.credential("o2") == Credential("o2", "$argon2id$hash", 0, 0)
    await store.put_credential(Credential("o2", "$argon2id$other"))  # replaced, not added
    assert await store.credential("o2") == Credential("o2", "$argon2id$other", 0, 0)


async def check_login_failures(store: Store) -> None:
    pair = LoginKey("pair", "o2", "10.0.0.1")
    officer, address = LoginKey("officer", "o2"), LoginKey("address", "", "10.0.0.1")
    other = LoginKey("pair", "o2", "10.0.0.2")
    assert await store.login_failures([pair, officer], 0) == {}
    for now in (1000, 1100, 1200):
        await store.add_login_failure([pair, officer, address], now, 0)
    await store.add_login_failure([other], 1300, 0)
    counts = await store.login_failures([pair, officer, address, other], 0)
    assert counts == {pair: (3, 1200), officer: (3, 1200), address: (3, 1200), other: (1, 1300)}
    assert await store.login_failures([pair, other], 1250) == {other: (1, 1300)}  # pair is stale
    await store.add_login_failure([pair], 2000, 1250)  # stale counts start again at 1
    assert (await store.login_failures([pair], 0))[pair] == (1, 2000)
    await store.clear_login_failures("o2", "10.0.0.1")
    left = await store.login_failures([pair, officer, address, other], 0)
    assert set(left) == {other}  # the pair with that address and the officer count only
    await store.clear_login_failures("o2")
    assert await store.login_failures([other], 0) == {}
    assert await store.login_failures([], 0) == {}


async def check_sessions_and_audit(store: Store) -> None:
    await _seed(store)
    await store.add_session(WebSession("sh", "o2", "csrf-1", expires_ms=100))
    found = await store.session("sh", 50)
    assert found is not None
    session, who = found
    assert session.csrf == "csrf-1" and (who.role, who.station_id) == ("chief", "s1")
    assert await store.session("sh", 100) is None  # expired
    await store.drop_session("sh")
    assert await store.session("sh", 50) is None
    await store.add_audit(AuditEvent(5, "o2", "view_pii", "r1", {"fields": ["victims"]}))
    await store.add_audit(AuditEvent(6, "o2", "export", "incidents", {}))
    events = await store.audit_events(0, 10)
    assert [e.action for _, e in events] == ["view_pii", "export"]
    assert events[0][1].details == {"fields": ["victims"]}
    assert [e.action for _, e in await store.audit_events(events[0][0], 10)] == ["export"]


async def check_public_snapshots_first_wins(store: Store) -> None:
    assert await store.public_snapshots() == []
    first = [
        PublicSnapshot("2025-02", "districts", '{"k":5}', '{"total":7}', 10),
        PublicSnapshot("2025-01", "districts", '{"k":5}', '{"total":null}', 10),
        PublicSnapshot("2025-01", "cells", '{"k":5}', '{"cells":[]}', 10),
    ]
    await store.add_public_snapshots(first)
    # a second publication of a month already published changes nothing stored ...
    again = PublicSnapshot("2025-01", "districts", '{"k":5}', '{"total":5}', 20)
    late = PublicSnapshot("2025-03", "cells", '{"k":3}', '{"cells":[["x",10]]}', 20)
    await store.add_public_snapshots([again, late])  # ... and the new one is still added
    await store.add_public_snapshots([])
    stored = await store.public_snapshots()
    assert [(s.month, s.kind) for s in stored] == [
        ("2025-01", "cells"),
        ("2025-01", "districts"),
        ("2025-02", "districts"),
        ("2025-03", "cells"),
    ]
    assert stored[1] == first[1] and stored[3] == late


async def check_sync_state_and_epoch(store: Store) -> None:
    """A new database has a random epoch of its own; the state follows the sequence; a new
    epoch replaces it and ends the legacy bound (sync.cursor)."""
    state = await store.sync_state()
    assert state.epoch > 0 and (state.last_seq, state.legacy_seq) == (0, None)
    async with store.push_unit() as unit:
        first = await unit.allocate(2)
        await unit.save([_write("r1", first), _write("r2", first + 1)], [], [], _answer("b1"))
    after = await store.sync_state()
    assert (after.epoch, after.last_seq) == (state.epoch, 2)
    await store.new_epoch(state.epoch + 1)
    assert await store.sync_state() == SyncState(state.epoch + 1, 2, None)


async def check_leases(store: Store) -> None:
    """One holder at a time; the holder renews; an expired lease passes to another."""
    assert await store.take_lease("job", "w1", now_ms=1_000, ttl_ms=500)
    assert not await store.take_lease("job", "w2", now_ms=1_200, ttl_ms=500)
    assert await store.take_lease("job", "w1", now_ms=1_400, ttl_ms=500)  # renewed to 1,900
    assert not await store.take_lease("job", "w2", now_ms=1_800, ttl_ms=500)
    assert await store.take_lease("job", "w2", now_ms=2_000, ttl_ms=500)  # w1 let it lapse
    assert not await store.take_lease("job", "w1", now_ms=2_100, ttl_ms=500)
    await store.drop_lease("job", "w1")  # not w1's: nothing happens
    assert not await store.take_lease("job", "w1", now_ms=2_200, ttl_ms=500)
    await store.drop_lease("job", "w2")
    assert await store.take_lease("job", "w1", now_ms=2_300, ttl_ms=500)
    assert await store.take_lease("other", "w2", now_ms=2_300, ttl_ms=500)


async def check_analysis_results_first_wins(store: Store) -> None:
    assert await store.analysis_result("q", 7) is None
    await store.put_analysis_result("q", 7, b"first", now_ms=1)
    await store.put_analysis_result("q", 7, b"second", now_ms=2)
    assert await store.analysis_result("q", 7) == b"first"
    await store.put_analysis_result("q", 9, b"\x00\xffnewer", now_ms=3)
    assert await store.analysis_result("q", 9) == b"\x00\xffnewer"
    assert await store.analysis_result("q", 7) is None  # superseded
    await store.put_analysis_result("other", 7, b"kept", now_ms=4)
    assert await store.analysis_result("q", 9) is not None


CHECKS: list[Check] = [
    check_leases,
    check_analysis_results_first_wins,
    check_sync_state_and_epoch,
    check_public_snapshots_first_wins,
    check_credentials,
    check_login_failures,
    check_sessions_and_audit,
    check_tracks,
    check_points_and_cells,
    check_boundaries,
    check_people,
    check_enrollment_once,
    check_enrollment_expiry,
    check_revocation,
    check_push_unit_roundtrip,
    check_push_unit_rollback,
    check_failed_write_rolls_back_unit,
    check_pull_scope_and_pii,
    check_conflicts_paging,
    check_chain_and_prune,
]
