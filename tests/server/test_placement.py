"""Placement in the push path: pushed incidents come back on pull with their places."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import httpx
import pandas as pd
import shapely

from server.maps.places import reload_places, store_layer
from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.support import batch, incident, new_id

# Two districts side by side (0.01° ≈ 1.1 km), one station area and sector each, and one
# street of four blocks running east along the middle of both.
WEST = shapely.box(-77.04, -12.06, -77.03, -12.05)
EAST = shapely.box(-77.03, -12.06, -77.02, -12.05)


def _layers() -> dict[str, gpd.GeoDataFrame]:
    def frame(rows: list[dict[str, Any]], geoms: list[object]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs="EPSG:4326")

    blocks = []
    for i in range(4):
        x0 = -77.04 + i * 0.005
        blocks.append(shapely.LineString([(x0, -12.055), (x0 + 0.005, -12.055)]))
    streets = frame(
        [
            {
                "code": f"arequipa-{i + 1}",
                "name": "Arequipa",
                "street_type": "Av.",
                "district_code": "150101" if i < 2 else "150102",
                "from_left": 100 * (i + 1) + 1,
                "to_left": 100 * (i + 1) + 99,
                "from_right": 100 * (i + 1),
                "to_right": 100 * (i + 1) + 98,
            }
            for i in range(4)
        ],
        blocks,
    )
    return {
        "districts": frame(
            [
                {"code": "150101", "name": "Cercado", "population": 1000},
                {"code": "150102", "name": "Breña", "population": 2000},
            ],
            [WEST, EAST],
        ),
        "stations": frame(
            [
                {"code": "st-a", "name": "A", "district_code": "150101"},
                {"code": "st-b", "name": "B", "district_code": "150102"},
            ],
            [WEST, EAST],
        ),
        "sectors": frame(
            [
                {"code": "st-a-s1", "name": "A1", "station_code": "st-a"},
                {"code": "st-b-s1", "name": "B1", "station_code": "st-b"},
            ],
            [WEST, EAST],
        ),
        "streets": streets,
    }


async def _derived(client: httpx.AsyncClient, served: Served, rid: str) -> dict[str, Any]:
    page = await client.get("/v1/sync/pull", params={"limit": 500}, headers=served.auth("chief-a"))
    docs = {d["id"]: d for d in page.json()["changes"]}
    derived: dict[str, Any] = docs[rid]["derived"]
    return derived


async def test_pushed_incidents_come_back_placed(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    for name, layer in _layers().items():
        await store_layer(served.store, name, layer)
    assert await reload_places(served.app.state.ctx)
    clock, headers = HybridClock(), served.auth("off-a")
    by_address, by_gps, poor, nowhere = new_id(), new_id(), new_id(), new_id()
    base = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00"}
    changes = [
        incident(by_address, clock, {**base, "address_text": "Av. Arequipa 350, Breña"}),
        incident(
            by_gps, clock, {**base, "location": {"lon": -77.035, "lat": -12.052, "accuracy_m": 8}}
        ),
        incident(
            poor, clock, {**base, "location": {"lon": -77.025, "lat": -12.052, "accuracy_m": 900}}
        ),
        incident(nowhere, clock, {**base, "address_text": "Jr. Inexistente 99"}),
    ]
    answer = await app_client.post("/v1/sync/push", json=batch(changes), headers=headers)
    assert answer.json()["summary"]["applied"] == 4
    address = await _derived(app_client, served, by_address)
    assert (address["source"], address["district"], address["sector"]) == (
        "address",
        "150102",
        "st-b-s1",
    )
    assert address["quality"] in ("interpolated", "exact") and address["confidence"] >= 0.5
    assert address["cell"] and address["cell"].startswith("89")
    assert -77.03 < address["lon"] < -77.02
    gps = await _derived(app_client, served, by_gps)
    assert (gps["source"], gps["district"], gps["station_area"], gps["quality"]) == (
        "gps",
        "150101",
        "st-a",
        "gps",
    )
    flagged = await _derived(app_client, served, poor)
    assert flagged["quality"] == "gps_poor" and "poor_accuracy" in flagged["fix_flags"]
    failed = await _derived(app_client, served, nowhere)
    assert failed["source"] == "none" and failed["quality"] == "failed"
    assert "district" not in failed


async def test_reimport_replaces_layer_and_replaces_incidents(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    layers = _layers()
    for name, layer in layers.items():
        await store_layer(served.store, name, layer)
    context = served.app.state.ctx
    await reload_places(context)
    clock = HybridClock()
    rid = new_id()
    fields = {
        "category": "hurto",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "location": {"lon": -77.035, "lat": -12.052, "accuracy_m": 8},
    }
    await app_client.post(
        "/v1/sync/push", json=batch([incident(rid, clock, fields)]), headers=served.auth("off-a")
    )
    assert (await _derived(app_client, served, rid))["district"] == "150101"
    merged = layers["districts"].iloc[[0]].copy()
    merged["code"], merged["name"] = "150199", "Unido"
    merged.geometry = [shapely.union(WEST, EAST)]
    await store_layer(served.store, "districts", merged)
    await reload_places(context)
    assert await context.engine.rederive() == 1
    assert await context.engine.rederive() == 0  # nothing left to move
    assert (await _derived(app_client, served, rid))["district"] == "150199"
    assert [b.code for b in await served.store.boundaries("districts")] == ["150199"]
