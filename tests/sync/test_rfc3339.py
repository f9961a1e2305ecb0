"""Date-times are RFC 3339 (section 5.6) and taken as sent or refused (docs/protocol.md,
"Changes"): a valid one comes back byte for byte, whatever its fraction or letter case; any
other form is ``invalid_field``, on the bytes path (msgspec first) and the values path alike.
The server's own indexes read the moment from the text, to the second.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sync import protocol, protocol_fast, rfc3339
from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.errors import ChangeError, InvalidField
from sync.store.base import Store
from sync.store.records import Identity, PointQuery
from tests.support import People, log_entry, new_id

VALID = [
    "2025-11-26T10:40:00-05:00",
    "2025-11-26T10:40:00.123456789-05:00",  # came back cut to .123456
    "2025-11-26T10:40:00.5+00:00",  # came back as .500000Z
    "2025-11-26t10:40:00z",  # came back upper-cased
    "2025-11-26T10:40:00-00:00",
    "2025-11-26T10:40:00.00000000000001-05:00",  # 40 characters
]
INVALID = [
    "2025-11-26T10:40-05:00",  # no seconds: came back with ":00" added
    "2025-11-26T10:40:00-0500",  # no colon: came back with one
    "2025-11-26T10:40:00+05",
    "2025-11-26 10:40:00-05:00",
    "2025-11-26T10:40:00",
    "20251126T104000Z",
    "2025-11-26T10:40:00,5Z",
    "2025-11-26T10:40:00.Z",
    "2026-02-31T10:00:00-05:00",
    "2025-11-26T24:00:00Z",
    "2016-12-31T23:59:60Z",  # a leap second: refused, and documented so
    "2025-11-26T10:40:00+24:00",
    "0000-01-01T00:00:00Z",
    "٢٠٢٥-11-26T10:40:00Z",
    "2025-11-26T10:40:00Z\n",
    "2025-11-26T10:40:00.000000000000001-05:00",  # 41 characters
]


def create(occurred_at: str) -> dict[str, Any]:
    return {
        "collection": "incidents",
        "id": new_id(),
        "op": "upsert",
        "hlc": str(HybridClock().tick()),
        "fields": {"category": "robo", "occurred_at": occurred_at},
    }


async def push(engine: SyncEngine, who: Identity, changes: list[Any], fast: bool) -> list[Any]:
    body: dict[str, Any] = {"batch_id": new_id(), "changes": changes}
    if fast:
        outcome = await engine.push_json(who, orjson.dumps(body))
    else:
        outcome = await engine.push(who, body)
    results: list[Any] = orjson.loads(outcome.answer)["results"]
    return results


async def pulled(engine: SyncEngine, who: Identity) -> dict[str, Any]:
    page = orjson.loads(await engine.pull(who, "", 1000))
    return {doc["id"]: doc for doc in page["changes"]}


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
async def test_a_valid_occurred_at_comes_back_as_sent(
    engine: SyncEngine, people: People, fast: bool
) -> None:
    changes = [create(value) for value in VALID]
    results = await push(engine, people.officer_a, changes, fast)
    assert [r["status"] for r in results] == ["applied"] * len(VALID)
    docs = await pulled(engine, people.officer_a)
    assert [docs[c["id"]]["fields"]["occurred_at"] for c in changes] == VALID


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
@pytest.mark.parametrize("value", INVALID)
async def test_an_occurred_at_outside_rfc3339_is_refused(
    engine: SyncEngine, people: People, fast: bool, value: str
) -> None:
    (result,) = await push(engine, people.officer_a, [create(value)], fast)
    assert result["status"] == "rejected" and result["error"]["code"] == "invalid_field"
    assert result["error"]["details"]["errors"][0]["loc"] == ["fields", "occurred_at"]
    assert await pulled(engine, people.officer_a) == {}


@pytest.mark.parametrize(
    ("value", "second"),
    [
        ("2025-11-26T10:40:00.999999999-05:00", 1764171600),  # cut, never rounded up
        ("2025-11-26t15:40:00z", 1764171600),
        ("1969-12-31T23:59:59.9999999Z", -1),
    ],
)
async def test_the_occurred_second_is_read_from_the_text(
    engine: SyncEngine, store: Store, people: People, value: str, second: int
) -> None:
    (result,) = await push(engine, people.officer_a, [create(value)], True)
    assert result["status"] == "applied"
    assert await store.time_span(PointQuery()) == (second, second)


def test_epoch_milliseconds_are_floored() -> None:
    assert rfc3339.epoch_ms("2026-12-04T06:00:00.1239-05:00") == 1796382000123
    assert rfc3339.epoch_ms("1969-12-31T23:59:59.9999Z") == -1
    assert rfc3339.epoch_s("0001-01-01T00:00:00+14:00") == -62135647200


@pytest.mark.parametrize("at", ["2025-11-26t10:40:00.123456789z", "2025-11-26T10:40:00-00:00"])
async def test_a_patrol_log_time_is_hashed_and_kept_as_sent(
    engine: SyncEngine, store: Store, people: People, at: str
) -> None:
    who = people.officer_a
    body = {"kind": "checkpoint", "at": at, "lon_e6": -77028200, "lat_e6": -12046400}
    entry = log_entry(who.device_id, 1, "", HybridClock(), body)
    (result,) = await push(engine, who, [entry], False)
    assert result["status"] == "applied"
    assert (await pulled(engine, who))[entry["id"]]["body"]["at"] == at
    tracks = await store.tracks(PointQuery(), ("at_s",))
    assert list(tracks["at_s"]) == [rfc3339.epoch_s(at)]


@pytest.mark.parametrize("at", INVALID)
async def test_a_patrol_log_time_outside_rfc3339_is_refused(
    engine: SyncEngine, people: People, at: str
) -> None:
    who = people.officer_a
    entry = log_entry(who.device_id, 1, "", HybridClock(), {"kind": "note", "at": at})
    (result,) = await push(engine, who, [entry], False)
    assert result["error"]["code"] == "invalid_field"
    assert result["error"]["details"]["errors"][0]["loc"] == ["body", "at"]


def attached(captured_at: str) -> dict[str, Any]:
    ref = {"sha256": "a" * 64, "media_type": "image/jpeg", "size": 10, "captured_at": captured_at}
    change = create("2025-11-26T10:40:00-05:00")
    change["fields"]["attachments"] = [ref]
    return change


def ack(at: str) -> dict[str, Any]:
    hlc = str(HybridClock().tick())
    return {"collection": "notice_acks", "id": "n1", "op": "ack", "hlc": hlc, "at": at}


@pytest.mark.parametrize("parse", [protocol.parse_change, protocol_fast.parse_change])
def test_other_date_times_are_checked_alike(parse: Any) -> None:
    for value in VALID:
        edit, _ = parse(attached(value))
        assert isinstance(edit, protocol.IncidentEdit)
        assert edit.fields["attachments"][0]["captured_at"] == value
        acked, _ = parse(ack(value))
        assert acked.at == value
    for value in INVALID:
        with pytest.raises(InvalidField):
            parse(attached(value))
        with pytest.raises(ChangeError):
            parse(ack(value))
