"""What a client written from docs/protocol.md alone found after the correctness fixes."""

from __future__ import annotations

import httpx
import pytest

from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.support import batch, incident, log_entry, new_id


@pytest.mark.parametrize("device_time_ms", [2**63, 2**64 - 1, 2**64, 10**20, 10**30, -1])
@pytest.mark.parametrize("with_log", [False, True])
async def test_device_time_beyond_year_9999_refuses_the_batch(
    app_client: httpx.AsyncClient, served: Served, device_time_ms: int, with_log: bool
) -> None:
    # 2^64 made the clock offset overflow: a 500, and the same 500 on every retry.
    clock = HybridClock()
    changes = [incident(new_id(), clock)]
    if with_log:  # a patrol-log entry sends the body down the general parse path
        changes.append(log_entry(served.people.officer_a.device_id, 1, "", clock))
    body = batch(changes) | {"device_time_ms": device_time_ms}
    answer = await app_client.post("/v1/sync/push", json=body, headers=served.auth("off-a"))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


async def test_device_time_at_the_bound_is_accepted(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    body = batch([incident(new_id(), HybridClock())]) | {"device_time_ms": 253_402_300_799_999}
    answer = await app_client.post("/v1/sync/push", json=body, headers=served.auth("off-a"))
    assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "applied"


async def test_chain_of_another_stations_device_is_forbidden_before_it_has_entries(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    other = served.people.officer_b.device_id  # st-b; the chief is of st-a; no entries yet
    answer = await app_client.get(f"/v1/chains/{other}", headers=served.auth("chief-a"))
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    own = served.people.officer_a.device_id
    assert (await app_client.get(f"/v1/chains/{own}", headers=served.auth("chief-a"))).json()[
        "intact"
    ]


async def test_chain_of_no_device_is_not_found(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    for who in ("chief-a", "admin"):
        answer = await app_client.get("/v1/chains/dev-doesnotexist", headers=served.auth(who))
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


async def test_a_bad_hlc_and_an_unknown_collection_are_not_echoed(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    bad_hlc = incident(new_id(), HybridClock()) | {"hlc": "123-1"}
    odd = incident(new_id(), HybridClock()) | {"collection": "x" * 100}
    answer = await app_client.post(
        "/v1/sync/push", json=batch([bad_hlc, odd]), headers=served.auth("off-a")
    )
    first, second = answer.json()["results"]
    assert first["error"]["code"] == "invalid_field"
    assert first["error"]["details"] == {"field": "hlc"}
    assert second["error"]["code"] == "unknown_collection"
    assert len(second["error"]["details"]["collection"]) == 64


@pytest.mark.parametrize("with_log", [False, True])
async def test_a_new_record_with_a_base_seq_never_issued_is_refused(
    app_client: httpx.AsyncClient, served: Served, with_log: bool
) -> None:
    # "Above the record's current seq (a version never issued)": a create took 99999999.
    clock, device = HybridClock(), served.people.officer_a.device_id
    first = incident(new_id(), clock)
    answer = await app_client.post(
        "/v1/sync/push", json=batch([first]), headers=served.auth("off-a")
    )
    issued = answer.json()["results"][0]["seq"]
    never = incident(new_id(), clock, base_seq=99_999_999)
    above = incident(new_id(), clock, base_seq=issued + 1)
    at_last = incident(new_id(), clock, base_seq=issued)  # issued: a record lost since, say
    plain = incident(new_id(), clock)
    del plain["base_seq"]
    changes = [never, above, at_last, plain, incident(new_id(), clock, base_seq=0)]
    if with_log:  # a patrol-log entry sends the body down the general parse path
        changes.append(log_entry(device, 1, "", clock))
    answer = await app_client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    results = answer.json()["results"]
    for refused in results[:2]:
        assert refused["status"] == "rejected", refused
        assert refused["error"]["code"] == "invalid_field"
        assert refused["error"]["details"] == {"field": "base_seq", "seq": 0}
    assert [r["status"] for r in results[2:]] == ["applied"] * (len(changes) - 2)
