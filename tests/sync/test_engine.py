"""The sync engine's promises, against the real store (SQLite; PostgreSQL when reachable)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sync.clock import HybridClock, Stamp, now_ms
from sync.engine import Committed, SyncEngine, SyncLimits
from sync.errors import BatchIdReused, BatchTooLarge, InvalidCursor, InvalidRequest
from sync.store.base import Store
from sync.store.records import Identity
from tests.support import People, batch, incident, log_entry, new_id

VICTIM = {"victims": [{"name": "María Condori", "dni": "41234567"}]}


async def push(engine: SyncEngine, who: Identity, changes: list[Any], **kw: Any) -> dict[str, Any]:
    answer: dict[str, Any] = orjson.loads((await engine.push(who, batch(changes, **kw))).answer)
    return answer


async def pull_all(engine: SyncEngine, who: Identity) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    cursor = ""
    while True:
        page = orjson.loads(await engine.pull(who, cursor, 3))
        for doc in page["changes"]:
            out[doc["id"]] = doc
        cursor = page["cursor"]
        if not page["has_more"]:
            return out


def statuses(answer: dict[str, Any]) -> list[str]:
    return [r["status"] for r in answer["results"]]


def codes(answer: dict[str, Any]) -> list[str | None]:
    return [r.get("error", {}).get("code") for r in answer["results"]]


async def test_push_then_pull_roundtrip(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    rid = new_id()
    answer = await push(engine, people.officer_a, [incident(rid, clock)])
    assert answer["results"][0] == {
        "index": 0,
        "collection": "incidents",
        "id": rid,
        "status": "applied",
        "conflicts": 0,
        "seq": 1,
    }
    docs = await pull_all(engine, people.officer_a2)
    assert docs[rid]["fields"] == {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00"}
    assert docs[rid]["station_id"] == "st-a" and docs[rid]["deleted"] is False


async def test_retried_batch_same_answer_no_duplicate(
    engine: SyncEngine, people: People, store: Store
) -> None:
    clock = HybridClock()
    changes = [incident(new_id(), clock) for _ in range(3)]
    body = batch(changes, batch_id="b-retry")
    first = await engine.push(people.officer_a, body)
    again = await engine.push(people.officer_a, body)
    assert again.answer == first.answer and again.replayed and not first.replayed
    # The same changes under a new batch id: applied once, answered "unchanged".
    third = orjson.loads((await engine.push(people.officer_a, batch(changes))).answer)
    assert statuses(third) == ["unchanged"] * 3
    assert await store.last_seq() == 3
    assert len(await pull_all(engine, people.chief_a)) == 3


async def test_batch_id_reused_for_other_changes(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    await push(engine, people.officer_a, [incident(new_id(), clock)], batch_id="b1")
    with pytest.raises(BatchIdReused):
        await push(engine, people.officer_a, [incident(new_id(), clock)], batch_id="b1")


async def test_station_scope_read_and_write(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    rid_a, rid_b = new_id(), new_id()
    await push(engine, people.officer_a, [incident(rid_a, clock)])
    await push(engine, people.officer_b, [incident(rid_b, clock)])
    assert set(await pull_all(engine, people.officer_a)) == {rid_a}
    assert set(await pull_all(engine, people.officer_b)) == {rid_b}
    assert set(await pull_all(engine, people.analyst)) == {rid_a, rid_b}
    edit = incident(rid_a, clock, {"status": "closed"}, base_seq=1)
    answer = await push(engine, people.officer_b, [edit])
    assert codes(answer) == ["out_of_scope"]
    assert (await pull_all(engine, people.officer_a))[rid_a]["fields"].get("status") is None


async def test_pii_reaches_only_allowed_roles(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    rid = new_id()
    await push(engine, people.officer_a, [incident(rid, clock, pii=VICTIM)])
    assert (await pull_all(engine, people.chief_a))[rid]["pii"] == VICTIM
    assert (await pull_all(engine, people.officer_a))[rid]["pii"] == VICTIM  # the author
    assert "pii" not in (await pull_all(engine, people.officer_a2))[rid]
    assert "pii" not in (await pull_all(engine, people.analyst))[rid]
    raw = await engine.pull(people.analyst, "", 100)
    assert b"Condori" not in raw and b"41234567" not in raw


async def test_analyst_and_admin_cannot_write(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    answer = await push(engine, people.analyst, [incident(new_id(), clock)])
    assert codes(answer) == ["read_only"]
    answer = await push(engine, people.admin, [incident(new_id(), clock)])
    assert codes(answer) == ["read_only"]


async def test_bad_changes_rejected_rest_applied(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    good = [incident(new_id(), clock) for _ in range(2)]
    wrong_type = incident(new_id(), clock, {"category": 5, "occurred_at": "yesterday"})
    unknown_field = incident(new_id(), clock, {"category": "robo", "colour": "red"})
    unknown = {"collection": "weapons", "id": new_id(), "op": "upsert", "hlc": good[0]["hlc"]}
    future = incident(new_id(), clock)
    future["hlc"] = str(Stamp(now_ms() + 3 * 86_400_000, 0))
    bad_hlc = incident(new_id(), clock)
    bad_hlc["hlc"] = "yesterday"
    no_category = incident(new_id(), clock, {"status": "open"})
    changes = [good[0], wrong_type, unknown_field, unknown, 42, future, bad_hlc, no_category]
    answer = await push(engine, people.officer_a, [*changes, good[1]])
    assert codes(answer) == [
        None,
        "invalid_field",
        "invalid_field",
        "unknown_collection",
        "invalid_change",
        "clock_skew",
        "invalid_field",
        "invalid_change",
        None,
    ]
    skew = answer["results"][5]["error"]["details"]
    assert skew["offset_ms"] < -2 * 86_400_000 and skew["server_time_ms"] > 0
    assert set(await pull_all(engine, people.officer_a)) == {good[0]["id"], good[1]["id"]}
    assert answer["summary"] == {"applied": 2, "unchanged": 0, "rejected": 7}


async def test_errors_carry_no_personal_data(engine: SyncEngine, people: People) -> None:
    bad = incident(new_id(), HybridClock(), pii={"victims": [{"name": "Ana Pérez", "dni": "12"}]})
    answer = await engine.push(people.officer_a, batch([bad]))
    assert b"Ana P" not in answer.answer and b'"12"' not in answer.answer


async def test_envelope_errors(engine: SyncEngine, people: People) -> None:
    small = SyncEngine(engine.store, SyncLimits(max_changes=2))
    clock = HybridClock()
    with pytest.raises(BatchTooLarge):
        await small.push(people.officer_a, batch([incident(new_id(), clock) for _ in range(3)]))
    body: Any  # malformed on purpose
    for body in ([], {"changes": []}, {"batch_id": "x y", "changes": []}, {"batch_id": "b"}):
        with pytest.raises(InvalidRequest):
            await engine.push(people.officer_a, body)
    with pytest.raises(InvalidCursor):
        await engine.pull(people.officer_a, "abc", 10)


async def test_concurrent_edits_converge_and_log_loser(
    engine: SyncEngine, people: People, store: Store
) -> None:
    clock_a, clock_b = HybridClock(), HybridClock(offset_ms=1000)
    rid = new_id()
    created = await push(engine, people.officer_a, [incident(rid, clock_a)])
    seq = created["results"][0]["seq"]
    loser = incident(rid, clock_a, {"status": "closed"}, base_seq=seq)
    winner = incident(rid, clock_b, {"status": "referred"}, base_seq=seq)
    # Deliver the winner first, then the loser: the loser is refused and logged.
    await push(engine, people.officer_a2, [winner])
    answer = await push(engine, people.officer_a, [loser])
    assert answer["results"][0]["conflicts"] == 1
    doc = (await pull_all(engine, people.chief_a))[rid]
    assert doc["fields"]["status"] == winner["fields"]["status"]
    logged = await store.conflicts(("st-a",), 0, 10)
    assert [(c.field, orjson.loads(c.losing_value)) for _, c in logged] == [
        ("status", loser["fields"]["status"])
    ]


async def test_delete_is_a_chief_tombstone(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    rid = new_id()
    await push(engine, people.officer_a, [incident(rid, clock)])
    answer = await push(engine, people.officer_a, [incident(rid, clock, op="delete")])
    assert codes(answer) == ["not_allowed"]
    answer = await push(engine, people.chief_a, [incident(rid, clock, op="delete", base_seq=1)])
    assert statuses(answer) == ["applied"]
    assert (await pull_all(engine, people.officer_a))[rid]["deleted"] is True
    answer = await push(engine, people.chief_a, [incident(new_id(), clock, op="delete")])
    assert codes(answer) == ["record_not_found"]


async def test_patrol_log_chain(engine: SyncEngine, people: People, store: Store) -> None:
    from sync.chain import verify_chain

    who, clock = people.officer_a, HybridClock()
    e1 = log_entry(who.device_id, 1, "", clock)
    e2 = log_entry(who.device_id, 2, e1["hash"], clock)
    answer = await push(engine, who, [e1, e2])
    assert statuses(answer) == ["applied", "applied"]
    tampered = log_entry(who.device_id, 3, e2["hash"], clock)
    tampered["body"]["text"] = "editado"
    gap = log_entry(who.device_id, 5, "0" * 64, clock)
    broken = log_entry(who.device_id, 3, "f" * 64, clock)
    fork = log_entry(who.device_id, 2, e1["hash"], clock)
    answer = await push(engine, who, [tampered, gap, broken, fork, e2])
    assert codes(answer) == ["chain_tampered", "chain_gap", "chain_broken", "chain_fork", None]
    assert answer["results"][1]["error"]["details"]["expected_n"] == 3
    assert statuses(answer)[-1] == "unchanged"
    correction = log_entry(
        who.device_id,
        3,
        e2["hash"],
        clock,
        {"kind": "correction", "at": "2026-11-20T23:00:00-05:00", "amends": e1["id"]},
    )
    no_target = log_entry(who.device_id, 3, e2["hash"], clock, {**correction["body"]})
    no_target["body"]["amends"] = "missing"
    answer = await push(engine, who, [correction])
    assert statuses(answer) == ["applied"]
    report = verify_chain(who.device_id, await store.chain(who.device_id))
    assert report.intact and report.head_n == 3
    docs = await pull_all(engine, people.chief_a)
    assert docs[correction["id"]]["body"]["amends"] == e1["id"]


async def test_chain_verification_finds_tampering(
    store: Store, engine: SyncEngine, people: People
) -> None:
    from sync.chain import verify_chain

    who, clock = people.officer_a, HybridClock()
    e1 = log_entry(who.device_id, 1, "", clock)
    e2 = log_entry(who.device_id, 2, e1["hash"], clock)
    await push(engine, who, [e1, e2])
    entries = await store.chain(who.device_id)
    entries[0].doc["body"]["text"] = "reescrito"
    del entries[1:]
    report = verify_chain(who.device_id, entries)
    assert report.tampered == [1] and not report.intact


async def test_incidents_are_queryable_points(
    engine: SyncEngine, people: People, store: Store
) -> None:
    from sync.store.records import PointQuery

    clock = HybridClock()
    here = {"lon": -77.03, "lat": -12.05, "accuracy_m": 5.0}
    placed = new_id()
    base = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00", "location": here}
    unplaced = new_id()
    await push(
        engine,
        people.officer_a,
        [
            incident(placed, clock, base),
            incident(unplaced, clock, {**base, "location": None, "address_text": "Jr. X 1"}),
        ],
    )
    columns = await store.points(PointQuery(), ("id", "lon", "occurred_s", "category"))
    assert list(columns["id"]) == [placed]  # the address-only one has no point yet
    assert columns["occurred_s"][0] == 1795230900  # 2026-11-21T03:15:00Z
    await push(engine, people.chief_a, [incident(placed, clock, op="delete", base_seq=1)])
    assert len((await store.points(PointQuery()))["lon"]) == 0


async def test_listeners_hear_what_each_commit_changed(engine: SyncEngine, people: People) -> None:
    heard: list[Committed] = []
    engine.listeners.append(heard.append)
    clock = HybridClock()
    body = batch([incident(new_id(), clock)])
    await engine.push(people.officer_a, body)
    await engine.push(people.officer_a, body)  # a replay commits nothing new
    entry = log_entry(people.officer_b.device_id, 1, "", clock)
    entry_body = {**entry["body"], "lon_e6": -77030000, "lat_e6": -12050000}
    fixed = log_entry(people.officer_b.device_id, 1, "", clock, entry_body, entry["id"])
    await push(engine, people.officer_b, [fixed])
    assert [(sorted(c.collections), sorted(c.stations), c.tracks) for c in heard] == [
        (["incidents"], ["st-a"], False),
        (["patrol_logs"], ["st-b"], True),
    ]


async def test_bytes_and_values_of_one_batch_are_one_batch(
    engine: SyncEngine, people: People
) -> None:
    """A push decoded on the fast path (from bytes) and one decoded the general way match
    when they hold the same changes, though the fast path hashes its own encoding."""
    clock = HybridClock()
    change = incident(new_id(), clock, {"location": {"lon": -77, "lat": -12}})
    body = batch([change])
    first = await engine.push(people.officer_a, body)  # the general way: stored hash
    again = await engine.push_json(people.officer_a, orjson.dumps(body))
    assert (again.replayed, again.answer) == (True, first.answer)
    # And the other way round: stored by the fast path, retried as values.
    body = batch([incident(new_id(), clock, {"location": {"lon": -77, "lat": -12}})])
    first = await engine.push_json(people.officer_a, orjson.dumps(body))
    again = await engine.push(people.officer_a, body)
    assert again.replayed and again.answer == first.answer
    other = batch([incident(new_id(), clock)], body["batch_id"])
    with pytest.raises(BatchIdReused):
        await engine.push_json(people.officer_a, orjson.dumps(other))


async def test_a_batch_of_bytes_is_checked_like_one_of_values(
    engine: SyncEngine, people: People
) -> None:
    clock = HybridClock()
    far = incident(new_id(), clock)
    far["hlc"] = f"{now_ms() + 86_400_000}-00000"
    changes = [incident(new_id(), clock), far, incident(new_id(), clock, op="delete")]
    answer = orjson.loads(
        (await engine.push_json(people.officer_a, orjson.dumps(batch(changes)))).answer
    )
    assert statuses(answer) == ["applied", "rejected", "rejected"]
    assert codes(answer)[1:] == ["clock_skew", "not_allowed"]
    with pytest.raises(BatchTooLarge):
        await SyncEngine(engine.store, SyncLimits(max_changes=2)).push_json(
            people.officer_a, orjson.dumps(batch(changes))
        )


async def test_an_officer_may_not_write_personal_data_they_may_not_read(
    engine: SyncEngine, people: People
) -> None:
    """An officer reads the personal data of their own incidents only, so they may not
    overwrite another officer's lists blind, nor lift the ``pii`` mark of an attachment on
    another officer's incident (which would show a victim's photo to every role in scope);
    the author and a chief may, and the incident's other fields stay open to the station
    (found by a review, 2026-12-04)."""
    clock = HybridClock()
    rid = new_id()
    photo = {"sha256": "ab" * 32, "media_type": "image/jpeg", "size": 10,
             "captured_at": "2026-11-20T22:15:00-05:00", "pii": True}  # fmt: skip
    fields = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00",
              "attachments": [photo]}  # fmt: skip
    victims = {"victims": [{"name": "María Quispe"}]}
    await push(engine, people.officer_a, [incident(rid, clock, fields, pii=victims)])
    overwrite = incident(rid, clock, {"status": "closed"}, pii={"victims": [{"name": "x"}]})
    unmark = incident(rid, clock, {"attachments": [{**photo, "pii": False}]})
    answer = await push(engine, people.officer_a2, [overwrite, unmark])
    assert codes(answer) == ["not_allowed", "not_allowed"]
    assert answer["results"][0]["error"]["details"]["field"] == "pii"
    assert answer["results"][1]["error"]["details"]["sha256"] == [photo["sha256"]]
    # nor take the marked photo off the list: cleared, then named again unmarked, it was
    # served to them (security review, 2026-12-05); adding one's own photo beside it is fine
    other = {**photo, "sha256": "ef" * 32, "pii": False}
    for cleared in ([], None, [other]):
        answer = await push(
            engine, people.officer_a2, [incident(rid, clock, {"attachments": cleared})]
        )
        assert codes(answer) == ["not_allowed"], cleared
    beside = incident(rid, clock, {"attachments": [photo, other]})
    assert statuses(await push(engine, people.officer_a2, [beside])) == ["applied"]
    # the station's fields stay open to its officers; the chief and the author may do both
    answer = await push(engine, people.officer_a2, [incident(rid, clock, {"status": "closed"})])
    assert statuses(answer) == ["applied"]
    chief = incident(rid, clock, {"attachments": [photo, {**photo, "sha256": "cd" * 32}]})
    assert statuses(await push(engine, people.chief_a, [chief])) == ["applied"]
    author = incident(rid, clock, pii={"victims": [{"name": "María Quispe Rojas"}]})
    assert statuses(await push(engine, people.officer_a, [author])) == ["applied"]
    doc = (await pull_all(engine, people.chief_a))[rid]
    assert doc["pii"]["victims"] == [{"name": "María Quispe Rojas"}]
    assert [a.get("pii") for a in doc["fields"]["attachments"]] == [True, True]


async def test_an_analyst_gets_incidents_without_their_free_text(
    engine: SyncEngine, people: People
) -> None:
    """A description names people as often as not (the retention policy empties it with the
    personal data): roles that see no personal data get the incident without it, the other
    fields intact; the station's officers and chief still read it (found by a review,
    2026-12-04)."""
    clock = HybridClock()
    rid, plain = new_id(), new_id()
    told = {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "description": "La Sra. Pérez, DNI 45781234, fue asaltada",
        "status": "open",
    }
    await push(engine, people.officer_a, [incident(rid, clock, told), incident(plain, clock)])
    seen = (await pull_all(engine, people.analyst))[rid]
    assert seen["fields"] == {k: v for k, v in told.items() if k != "description"}
    assert "Pérez" not in (await engine.pull(people.analyst, None, 10)).decode()
    for who in (people.officer_a2, people.chief_a):
        assert (await pull_all(engine, who))[rid]["fields"] == told
    assert (await pull_all(engine, people.analyst))[plain]["fields"]["category"] == "robo"
