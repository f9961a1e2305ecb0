"""Boundaries load after start-up (issue 19, item 5): until they are loaded the worker says it
is not ready, and a push that arrives meanwhile waits and is placed like any other."""

from __future__ import annotations

import asyncio
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import pytest
import shapely

import server.app
from server.app import create_app
from server.maps.places import store_layer
from server.settings import DatabaseSettings, Settings
from sync.clock import HybridClock
from sync.store.sql import SQLStore
from tests.support import PG_URL, batch, incident, new_id, reset_postgres, seed_people

WEST = shapely.box(-77.04, -12.06, -77.03, -12.05)
EAST = shapely.box(-77.03, -12.06, -77.02, -12.05)


def _districts() -> gpd.GeoDataFrame:
    rows = pd.DataFrame(
        [{"code": "150101", "name": "Cercado"}, {"code": "150102", "name": "Breña"}]
    )
    return gpd.GeoDataFrame(rows, geometry=[WEST, EAST], crs="EPSG:4326")


async def _url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    if not PG_URL:
        pytest.skip("RONDA_TEST_PG_URL is not set")
    await reset_postgres(PG_URL)
    return PG_URL


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_not_ready_until_placed_and_early_pushes_wait(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await _url(kind, tmp_path)
    seeding = SQLStore(url)
    await seeding.open()
    people = await seed_people(seeding)
    await store_layer(seeding, "districts", _districts())
    await seeding.close()
    monkeypatch.setattr(server.app, "PLACES_GRACE_S", 0.0)  # start-up does not wait at all
    settings = Settings(_env_file=None, database=DatabaseSettings(url=url))
    app = create_app(settings)
    places = app.state.ctx.places
    await places.lock.acquire()  # holds the background load back until the test lets it go
    headers = {"Authorization": f"Bearer {people.tokens['off-a']}"}
    rid, clock = new_id(), HybridClock()
    fields = {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "location": {"lon": -77.025, "lat": -12.055, "accuracy_m": 8},
    }
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            early = await client.get("/readyz")
            assert early.status_code == 503
            assert early.json()["error"]["code"] == "starting"
            assert early.json()["error"]["details"] == {"reason": "loading_places"}
            assert (await client.get("/healthz")).status_code == 200
            body = batch([incident(rid, clock, fields)])
            pushing = asyncio.create_task(client.post("/v1/sync/push", json=body, headers=headers))
            await asyncio.sleep(0)
            places.lock.release()
            answer = await pushing
            assert answer.status_code == 200, answer.text
            assert answer.json()["summary"]["applied"] == 1
            assert (await client.get("/readyz")).status_code == 200
            page = await client.get("/v1/sync/pull", headers=headers)
    doc = next(c for c in page.json()["changes"] if c["id"] == rid)
    assert doc["derived"]["district"] == "150102"
    assert doc["derived"]["source"] == "gps"
