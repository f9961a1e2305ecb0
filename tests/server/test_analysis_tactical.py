"""Tactical analysis endpoints (issue 14): near repeats, repeat locations, repeat victims (DNI
only for personal-data roles, audited) and concentration; answers as the OpenAPI document
says. On SQLite and, when RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from server.settings import ServerSettings, Settings
from sync.clock import HybridClock
from tests.server.conftest import Served, served_on_both_backends
from tests.server.test_openapi import check
from tests.support import batch, incident, new_id

LON0, LAT0 = -77.03, -12.05
M_LAT = 111_320.0  # metres per degree of latitude
WINDOW = {"start": "2026-10-01", "end": "2026-12-01"}
Row = tuple[dict[str, float] | None, str, str]  # location, occurred_at, category


@pytest.fixture
def app_settings() -> Settings:
    # The first Knox test of a fresh clone compiles its kernel (numba): 28-33 s with two test
    # workers busy, past the default 30 s request timeout.
    return Settings(_env_file=None, server=ServerSettings(request_timeout_s=120))


served = served_on_both_backends()


def _at(east_m: float, north_m: float) -> dict[str, float]:
    lat = LAT0 + north_m / M_LAT
    lon = LON0 + east_m / (M_LAT * math.cos(math.radians(lat)))
    return {"lon": lon, "lat": lat, "accuracy_m": 5}


async def _push(served: Served, rows: list[Row], pii: list[Any]) -> list[str]:
    """Incidents (location, occurred_at, category) with their personal data; their ids."""
    clock, changes, ids = HybridClock(), [], []
    for (where, at, category), people in zip(rows, pii, strict=True):
        rid = new_id()
        fields: dict[str, Any] = {"category": category, "occurred_at": at}
        if where is not None:
            fields["location"] = where
        changes.append(incident(rid, clock, fields, pii=people))
        ids.append(rid)
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.status_code == 200, answer.text
    assert all(r["status"] == "applied" for r in answer.json()["results"]), answer.text
    return ids


async def _get(served: Served, path: str, who: str, **params: Any) -> httpx.Response:
    return await served.client.get(path, params={**WINDOW, **params}, headers=served.auth(who))


async def test_near_repeat_counts_every_pair_once(served: Served) -> None:
    # Five incidents: two 50 m apart on consecutive days, one 30 m from the first 20 days
    # later, and two far away. Bands 100 m x 2, 7 days x 2.
    rows: list[Row] = [
        (_at(0, 0), "2026-11-02T15:00:00Z", "robo"),
        (_at(50, 0), "2026-11-03T15:00:00Z", "robo"),
        (_at(0, 30), "2026-11-22T15:00:00Z", "robo"),
        (_at(5000, 0), "2026-11-02T15:00:00Z", "robo"),
        (_at(5000, 3000), "2026-11-10T15:00:00Z", "robo"),
    ]
    await _push(served, rows, [None] * 5)
    params = {"distance_m": 100, "distance_bands": 2, "days": 7, "time_bands": 2}
    answer = await _get(served, "/v1/analysis/near-repeat", "chief-a", **params)
    assert answer.status_code == 200, answer.text
    body = check(answer, "/v1/analysis/near-repeat", "get")
    assert body["space_bands"] == ["same location", "1 to 100", "101 to 200", "more than 200"]
    assert body["time_bands"] == ["0 to 7", "8 to 14", "more than 14"]
    observed = {(c["space"], c["time"]): c["observed"] for c in body["cells"]}
    assert observed[("1 to 100", "0 to 7")] == 1  # the 50 m, 1 day pair
    assert observed[("1 to 100", "more than 14")] == 2  # 30 m/20 days and 58 m/19 days
    assert sum(observed.values()) == 10 and body["n_incidents"] == 5
    assert body["n_close_pairs"] == 3
    for cell in body["cells"]:
        assert 1 / 100 <= cell["p"] <= 1
    again = await _get(served, "/v1/analysis/near-repeat", "chief-a", **params)
    assert again.json() == body  # same seed, same answer


async def test_roles_and_scope(served: Served) -> None:
    await _push(served, [(_at(0, 0), "2026-11-02T15:00:00Z", "robo")], [None])
    for path in (
        "/v1/analysis/near-repeat",
        "/v1/analysis/repeat-locations",
        "/v1/analysis/repeat-victims",
        "/v1/analysis/concentration",
    ):
        assert (await _get(served, path, "off-a")).status_code == 403
        assert (await served.client.get(path)).status_code == 401
        other = await _get(served, path, "analyst", station="st-b")
        assert other.status_code == 200, other.text
        check(other, path, "get")
        refused = await served.client.get(
            path, params={"station": "st-a"}, headers=served.auth("off-b")
        )
        assert refused.status_code == 403
    bad = await _get(served, "/v1/analysis/near-repeat", "chief-a", permutations=5)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"


async def test_repeat_locations_and_concentration(served: Served) -> None:
    rows: list[Row] = [(_at(0, 0), f"2026-11-{d:02d}T15:00:00Z", "robo") for d in (2, 9, 16)]
    rows += [(_at(0.5, 1.0), "2026-11-20T15:00:00Z", "hurto")]  # 1.1 m away: the same place
    rows += [(_at(400, 0), f"2026-11-{d:02d}T15:00:00Z", "hurto") for d in (3, 4)]
    rows += [(_at(100 * k, 900), "2026-11-05T15:00:00Z", "robo") for k in range(4)]
    ids = await _push(served, rows, [None] * len(rows))
    answer = await _get(served, "/v1/analysis/repeat-locations", "chief-a", tolerance_m=3)
    body = check(answer, "/v1/analysis/repeat-locations", "get")
    assert [p["count"] for p in body["places"]] == [4, 2]
    assert set(body["places"][0]["incidents"]) == set(ids[:4])
    assert body["places"][0]["categories"] == {"hurto": 1, "robo": 3}
    assert (body["n_incidents"], body["n_places"], body["n_repeat_places"]) == (10, 6, 2)
    assert body["n_incidents_at_repeat_places"] == 6
    answer = await _get(served, "/v1/analysis/concentration", "chief-a", tolerance_m=3)
    body = check(answer, "/v1/analysis/concentration", "get")
    places = body["places"]
    assert (places["units"], places["incidents"]) == (6, 10)
    top = {t["percent"]: (t["units"], t["share"]) for t in places["top"]}
    assert top[20.0] == (2, 0.6)  # ceil(20 % of 6) = 2 places: 4 + 2 of 10 incidents
    assert top[50.0] == (3, 0.7)
    holding = {h["share"]: (h["units"], h["percent"]) for h in places["holding"]}
    assert holding[0.5] == (2, round(100 * 2 / 6, 4))
    assert holding[0.8] == (4, round(100 * 4 / 6, 4))
    assert body["cells"]["incidents"] == 10


async def test_repeat_victims_need_a_personal_data_role(served: Served) -> None:
    ana = {"name": "Ana Prueba (FICTICIO)", "dni": "99000001"}
    ben = {"name": "Ben Prueba (FICTICIO)", "dni": "99000002"}
    once = {"name": "Una Vez (FICTICIO)", "dni": "99000003"}
    rows: list[Row] = [(_at(10 * i, 0), f"2026-11-{2 + i:02d}T15:00:00Z", "robo") for i in range(5)]
    rows.append((None, "2026-11-20T15:00:00Z", "estafa"))  # not placed: still counted
    pii = [
        {"victims": [ana]},
        {"victims": [ana, ben]},
        {"victims": [ben, {"name": "Sin DNI"}]},
        {"victims": [once]},
        None,
        {"victims": [ana]},
    ]
    ids = await _push(served, rows, pii)
    answer = await _get(served, "/v1/analysis/repeat-victims", "analyst")
    body = check(answer, "/v1/analysis/repeat-victims", "get")
    assert body["personal_data"] is False and body["victims"] is None
    assert (body["n_victims_with_dni"], body["n_repeat_victims"]) == (3, 2)
    assert body["n_incidents_of_repeat_victims"] == 4
    assert "99000001" not in answer.text
    before = await served.store.audit_events(0, 1000)
    answer = await _get(served, "/v1/analysis/repeat-victims", "chief-a")
    body = check(answer, "/v1/analysis/repeat-victims", "get")
    assert body["personal_data"] is True
    victims = {v["dni"]: v for v in body["victims"]}
    assert set(victims) == {"99000001", "99000002"}
    assert [i["id"] for i in victims["99000001"]["incidents"]] == [ids[0], ids[1], ids[5]]
    assert victims["99000001"]["count"] == 3
    assert body["victims"][0]["dni"] == "99000001"  # most incidents first
    after = await served.store.audit_events(0, 1000)
    new = [e for _, e in after[len(before) :]]
    assert {e.target for e in new} == {ids[0], ids[1], ids[2], ids[5]}
    assert all(e.action == "view_pii" and e.officer_id == "chief-a" for e in new)
