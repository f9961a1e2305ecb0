"""Changes are taken as sent or refused, never converted or trimmed (docs/protocol.md,
"Changes"): a value of the wrong JSON type gets ``invalid_field`` and nothing of the change is
stored, on the bytes path (msgspec first) and the values path alike, on both backends.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.errors import InvalidRequest
from sync.store.records import Identity
from tests.support import People, log_entry, new_id

CREATE: dict[str, Any] = {
    "collection": "incidents",
    "op": "upsert",
    "base_seq": 0,
    "fields": {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "location": {"lon": -77.03, "lat": -12.05, "accuracy_m": 12},
    },
    "pii": {"victims": [{"name": "María Torres", "dni": "45781234", "age": 34}]},
}


def change(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(CREATE)
    raw["id"] = new_id()
    raw["hlc"] = str(HybridClock().tick())
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


async def push(engine: SyncEngine, who: Identity, changes: list[Any], fast: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"batch_id": new_id(), "changes": changes}
    if fast:
        outcome = await engine.push_json(who, orjson.dumps(body))
    else:
        outcome = await engine.push(who, body)
    answer: dict[str, Any] = orjson.loads(outcome.answer)
    return answer


async def stored_ids(engine: SyncEngine, who: Identity) -> set[str]:
    page = orjson.loads(await engine.pull(who, "", 1000))
    return {doc["id"] for doc in page["changes"]}


WRONG_TYPES = [
    (("fields", "location", "lon"), "-77.03"),
    (("fields", "location", "lon"), True),
    (("fields", "location", "accuracy_m"), "12"),
    (("fields", "occurred_at"), 1764172800),
    (("fields", "occurred_at"), "1764172800"),
    (("pii", "victims", 0, "age"), "34"),
    (("pii", "victims", 0, "age"), True),
    (("pii", "victims", 0, "age"), 34.0),
    (("base_seq",), "0"),
    (("base_seq",), True),
    (("base_seq",), 0.0),
]


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
@pytest.mark.parametrize(("path", "value"), WRONG_TYPES)
async def test_a_wrong_json_type_is_refused(
    engine: SyncEngine, people: People, fast: bool, path: tuple[Any, ...], value: Any
) -> None:
    bad = change(path, value)
    good = change(("fields", "location", "lon"), -77)  # an integer is a number
    answer = await push(engine, people.officer_a, [bad, good], fast)
    first, second = answer["results"]
    assert first["status"] == "rejected" and first["error"]["code"] == "invalid_field"
    assert first["error"]["details"]["errors"][0]["loc"] == [str(p) for p in path]
    assert second["status"] == "applied"
    assert await stored_ids(engine, people.officer_a) == {good["id"]}


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
@pytest.mark.parametrize("value", [True, "1764172800000", 1764172800000.0])
async def test_a_wrong_device_time_refuses_the_batch(
    engine: SyncEngine, people: People, fast: bool, value: Any
) -> None:
    body = {"batch_id": new_id(), "device_time_ms": value, "changes": [change(("id",), "a1")]}
    with pytest.raises(InvalidRequest) as refused:
        if fast:
            await engine.push_json(people.officer_a, orjson.dumps(body))
        else:
            await engine.push(people.officer_a, body)
    assert refused.value.details["errors"][0]["loc"] == ["device_time_ms"]
    assert await stored_ids(engine, people.officer_a) == set()


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (("n",), True),
        (("n",), "1"),
        (("n",), 1.0),
        (("body", "lon_e6"), True),
        (("body", "lon_e6"), "-77028200"),
        (("body", "text"), 5),
        (("body", "at"), 1764172800),
        (("body", "kind"), True),
    ],
)
async def test_a_patrol_log_entry_of_a_wrong_type_is_refused(
    engine: SyncEngine, people: People, member: tuple[str, ...], value: Any
) -> None:
    entry = log_entry(people.officer_a.device_id, 1, "", HybridClock())
    entry["body"]["lon_e6"] = -77028200
    target = entry
    for key in member[:-1]:
        target = target[key]
    target[member[-1]] = value
    answer = await push(engine, people.officer_a, [entry], True)
    (result,) = answer["results"]
    assert result["status"] == "rejected" and result["error"]["code"] == "invalid_field"
    assert result["error"]["details"]["errors"][0]["loc"] == list(member)


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
@pytest.mark.parametrize(
    ("carried", "loc"),
    [
        ({"fields": {"status": "closed"}}, ["fields"]),
        ({"fields": {"status": None}}, ["fields"]),
        ({"pii": {"victims": []}}, ["pii"]),
        ({"pii": {"suspects": None}}, ["pii"]),
        ({"fields": {"description": "x"}, "pii": {"victims": []}}, ["fields"]),
    ],
)
async def test_a_delete_carrying_values_is_refused(
    engine: SyncEngine, people: People, fast: bool, carried: dict[str, Any], loc: list[str]
) -> None:
    clock = HybridClock()
    created = change(("hlc",), str(clock.tick()))
    await push(engine, people.chief_a, [created], fast)
    delete = {
        "collection": "incidents",
        "id": created["id"],
        "op": "delete",
        "hlc": str(clock.tick()),
        **carried,
    }
    answer = await push(engine, people.chief_a, [delete], fast)
    (result,) = answer["results"]
    assert result["status"] == "rejected" and result["error"]["code"] == "invalid_field"
    assert result["error"]["details"]["errors"][0]["loc"] == loc
    doc = orjson.loads(await engine.pull(people.chief_a, "", 1000))["changes"][0]
    assert doc["deleted"] is False and doc["fields"].get("status") is None
    assert doc["pii"]["victims"] == CREATE["pii"]["victims"]


@pytest.mark.parametrize("fast", [True, False], ids=["bytes", "values"])
@pytest.mark.parametrize("empty", [{}, {"fields": {}}, {"pii": None}, {"pii": {}}])
async def test_a_delete_with_empty_members_deletes(
    engine: SyncEngine, people: People, fast: bool, empty: dict[str, Any]
) -> None:
    clock = HybridClock()
    created = change(("hlc",), str(clock.tick()))
    await push(engine, people.chief_a, [created], fast)
    delete = {"collection": "incidents", "id": created["id"], "op": "delete", **empty}
    delete["hlc"] = str(clock.tick())
    answer = await push(engine, people.chief_a, [delete], fast)
    assert answer["results"][0]["status"] == "applied"
    doc = orjson.loads(await engine.pull(people.chief_a, "", 1000))["changes"][0]
    assert doc["deleted"] is True
