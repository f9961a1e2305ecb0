"""Re-importing a city's OSM gazetteer re-geocodes the address-only incidents (issue 17):
an address that named a street the first import lacked is placed after the second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from geo.boundaries import haversine_m
from geo.osm.build import OsmImport, import_osm
from server.maps.places import reload_places, store_layer
from sync.clock import HybridClock
from tests.geo.test_osm import LAT0, LON0, write_city
from tests.server.conftest import Served
from tests.support import batch, incident, new_id


async def _store(served: Served, imp: OsmImport) -> None:
    for layer in ("districts", "streets", "landmarks", "addresses"):
        await store_layer(served.store, layer, getattr(imp, layer))
    assert await reload_places(served.app.state.ctx)


async def _derived(client: httpx.AsyncClient, served: Served, rid: str) -> dict[str, Any]:
    page = await client.get("/v1/sync/pull", params={"limit": 500}, headers=served.auth("chief-a"))
    derived: dict[str, Any] = {d["id"]: d for d in page.json()["changes"]}[rid]["derived"]
    return derived


async def test_reimport_geocodes_address_only_incidents_again(
    app_client: httpx.AsyncClient,
    served: Served,
    tmp_path: Path,
) -> None:
    first = import_osm(write_city(tmp_path / "before.osm"))
    await _store(served, first)
    rid = new_id()
    fields = {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "address_text": "Jr. Ucayali con Av. Arequipa",
    }
    answer = await app_client.post(
        "/v1/sync/push",
        json=batch([incident(rid, HybridClock(), fields)]),
        headers=served.auth("off-a"),
    )
    assert answer.json()["summary"]["applied"] == 1
    assert (await _derived(app_client, served, rid)).get("quality") != "exact"

    second = import_osm(
        write_city(tmp_path / "after.osm", extra_street="Jirón Ucayali"), districts=first.districts
    )
    await _store(served, second)
    assert await served.app.state.ctx.engine.rederive() >= 1
    placed = await _derived(app_client, served, rid)
    assert placed["source"] == "address" and placed["quality"] == "exact"
    assert haversine_m(placed["lon"], placed["lat"], LON0, LAT0 + 0.003) < 1.0
