"""Analysis endpoints on a small city: a planted cluster comes out hot, scope holds."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from server.maps.places import reload_places, store_layer
from server.settings import AnalysisSettings, Settings
from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.server.test_placement import _layers
from tests.support import batch, incident, log_entry, new_id

CLUSTER = (-77.035, -12.055)


@pytest.fixture
def app_settings() -> Settings:
    return Settings(_env_file=None, analysis=AnalysisSettings(debounce_s=0.05))


async def _city(served: Served, n_background: int = 300, n_cluster: int = 60) -> None:
    for name, layer in _layers().items():
        await store_layer(served.store, name, layer)
    await reload_places(served.app.state.ctx)
    rng, clock = random.Random(42), HybridClock()
    changes = []
    for i in range(n_background + n_cluster):
        if i < n_cluster:
            lon, lat = CLUSTER[0] + rng.gauss(0, 0.0002), CLUSTER[1] + rng.gauss(0, 0.0002)
        else:
            lon, lat = rng.uniform(-77.0399, -77.0301), rng.uniform(-12.0599, -12.0501)
        day = 1 + i % 28
        fields = {
            "category": "robo" if i % 3 else "hurto",
            "occurred_at": f"2026-10-{day:02d}T12:00:00-05:00",
            "location": {"lon": lon, "lat": lat, "accuracy_m": 10},
        }
        changes.append(incident(new_id(), clock, fields))
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.json()["summary"]["applied"] == len(changes)


async def test_planted_cluster_is_hot(app_client: httpx.AsyncClient, served: Served) -> None:
    await _city(served)
    params: dict[str, str | int] = {"start": "2026-10-01", "end": "2026-11-01", "resolution": 9}
    answer = await app_client.get(
        "/v1/analysis/hotspots", params=params, headers=served.auth("chief-a")
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["n_incidents"] == 360 and body["window"]["stations"] == ["st-a"]
    hot = [c for c in body["cells"] if c["gi_bin"] == 3]
    import h3

    cluster_cell = h3.latlng_to_cell(CLUSTER[1], CLUSTER[0], 9)
    assert cluster_cell in {c["cell"] for c in hot}
    assert all(c["gi_bin"] < 3 for c in body["cells"] if c["count"] < 5)
    again = await app_client.get(
        "/v1/analysis/hotspots",
        params=params,
        headers={**served.auth("chief-a"), "If-None-Match": answer.headers["etag"]},
    )
    assert again.status_code == 304


async def test_scope_and_categories(app_client: httpx.AsyncClient, served: Served) -> None:
    await _city(served)
    params = {"start": "2026-10-01", "end": "2026-11-01", "category": "hurto"}
    mine = await app_client.get(
        "/v1/analysis/hotspots", params=params, headers=served.auth("chief-a")
    )
    assert mine.json()["n_incidents"] == 120
    other = await app_client.get(
        "/v1/analysis/hotspots", params=params, headers=served.auth("off-b")
    )
    assert other.json()["n_incidents"] == 0
    refused = await app_client.get(
        "/v1/analysis/hotspots",
        params={**params, "station": "st-a"},
        headers=served.auth("off-b"),
    )
    assert refused.status_code == 403
    analyst = await app_client.get(
        "/v1/analysis/hotspots", params=params, headers=served.auth("analyst")
    )
    assert analyst.json()["n_incidents"] == 120
    assert (await app_client.get("/v1/analysis/hotspots")).status_code == 401
    bad = await app_client.get(
        "/v1/analysis/hotspots", params={"start": "ayer"}, headers=served.auth("chief-a")
    )
    assert bad.json()["error"]["code"] == "invalid_request"


async def test_results_are_recomputed_after_syncs(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    await _city(served)
    params = {"start": "2026-10-01", "end": "2026-11-01"}
    first = await app_client.get(
        "/v1/analysis/hotspots", params=params, headers=served.auth("chief-a")
    )
    more = [
        incident(
            new_id(),
            HybridClock(),
            {
                "category": "robo",
                "occurred_at": "2026-10-15T12:00:00-05:00",
                "location": {"lon": -77.025, "lat": -12.052, "accuracy_m": 10},
            },
        )
    ]
    await app_client.post("/v1/sync/push", json=batch(more), headers=served.auth("off-a"))
    second = await app_client.get(
        "/v1/analysis/hotspots", params=params, headers=served.auth("chief-a")
    )
    assert second.json()["n_incidents"] == first.json()["n_incidents"] + 1
    assert second.headers["etag"] != first.headers["etag"]


async def test_emerging_rates_pai_and_dosage(app_client: httpx.AsyncClient, served: Served) -> None:
    await _city(served)
    chief = served.auth("chief-a")
    emerging = await app_client.get(
        "/v1/analysis/emerging", params={"end": "2026-11-01", "slices": 6}, headers=chief
    )
    assert emerging.status_code == 200, emerging.text
    assert len(emerging.json()["slice_edges"]) == 7
    rates = await app_client.get(
        "/v1/analysis/rates", params={"start": "2026-10-01", "end": "2026-11-01"}, headers=chief
    )
    by_code = {r["district"]: r for r in rates.json()["districts"]}
    assert by_code["150101"]["count"] > 0 and by_code["150101"]["population"] == 1000
    pai = await app_client.get(
        "/v1/analysis/pai",
        params={"start": "2026-10-01", "end": "2026-10-15", "test_end": "2026-11-01"},
        headers=chief,
    )
    assert pai.status_code == 200 and pai.json()["n_test"] > 0
    device = served.people.officer_a.device_id
    clock, prev, entries = HybridClock(), "", []
    for n in range(1, 6):
        body = {
            "kind": "checkpoint",
            "at": f"2026-10-10T10:{n:02d}:00-05:00",
            "lon_e6": int(CLUSTER[0] * 1e6),
            "lat_e6": int(CLUSTER[1] * 1e6),
        }
        entry = log_entry(device, n, prev, clock, body)
        prev = entry["hash"]
        entries.append(entry)
    await app_client.post("/v1/sync/push", json=batch(entries), headers=served.auth("off-a"))
    dose = await app_client.get(
        "/v1/analysis/dosage", params={"start": "2026-10-01", "end": "2026-11-01"}, headers=chief
    )
    summary = dose.json()["summary"]
    assert summary and summary[0]["station"] == "st-a"
    assert summary[0]["minutes_by_class"]["3"] == pytest.approx(4.0)


async def test_a_question_during_a_recomputation_gets_the_new_answer(
    app_client: httpx.AsyncClient, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background recomputation after a sync is held half-way; a request meanwhile must
    not be served the answer from before the sync, and gets the recomputation's answer."""
    await _city(served)
    params = {"start": "2026-10-01", "end": "2026-11-01"}
    headers = served.auth("chief-a")
    first = await app_client.get("/v1/analysis/hotspots", params=params, headers=headers)
    store, gate, calls = served.store, asyncio.Event(), []
    original = store.cell_counts

    async def held_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the background task's read waits; the request's does not
            await gate.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(store, "cell_counts", held_once)  # undone before the app stops
    try:
        more = {
            "category": "robo",
            "occurred_at": "2026-10-15T12:00:00-05:00",
            "location": {"lon": -77.025, "lat": -12.052, "accuracy_m": 10},
        }
        change = incident(new_id(), HybridClock(), more)
        await app_client.post("/v1/sync/push", json=batch([change]), headers=served.auth("off-a"))
        for _ in range(100):  # until the background task is inside its read
            if calls:
                break
            await asyncio.sleep(0.01)
        assert calls, "the background recomputation did not start"
        # The request waits for the computation under way (one per question and sequence,
        # across workers) instead of answering from before the sync or computing it again.
        asked = asyncio.create_task(
            app_client.get("/v1/analysis/hotspots", params=params, headers=headers)
        )
        await asyncio.sleep(0.5)
        assert not asked.done(), asked.result().json().get("n_incidents")
        gate.set()
        second = await asked
        assert second.json()["n_incidents"] == first.json()["n_incidents"] + 1
        assert len(calls) == 1  # computed once
    finally:
        gate.set()
