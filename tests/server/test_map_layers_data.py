"""Every layer of the chief's map answers with drawable GeoJSON (the density layer answered
500 on every request and no test had asked for it)."""

from __future__ import annotations

import math
import random
import re

import pytest

from server.web.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, set_password
from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.support import batch, incident, new_id

PASSWORD = "una-clave-larga-1"
LAYERS = ["incidents", "hotspots", "emerging", "density", "districts", "tracks", "dosage"]


async def _sign_in(served: Served, officer: str) -> None:
    await set_password(served.store, officer, PASSWORD)
    client = served.client
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    client.cookies.set(LOGIN_CSRF_COOKIE, token.group(1))
    answer = await client.post(
        "/login", data={"csrf": token.group(1), "officer_id": officer, "password": PASSWORD}
    )
    assert answer.status_code == 303
    client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])


async def _push_cluster(served: Served, n: int) -> None:
    rng, clock = random.Random(42), HybridClock()
    changes = []
    for i in range(n):
        # a tight cluster and a scatter, over the last days, in Lima time
        spread = 0.002 if i % 2 else 0.03
        fields = {
            "category": "robo",
            "occurred_at": f"2026-11-{10 + i % 10:02d}T22:15:00-05:00",
            "location": {
                "lon": -77.03 + rng.uniform(-spread, spread),
                "lat": -12.05 + rng.uniform(-spread, spread),
                "accuracy_m": 10,
            },
        }
        changes.append(incident(new_id(), clock, fields))
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.status_code == 200, answer.text
    assert all(r["status"] == "applied" for r in answer.json()["results"])


@pytest.mark.parametrize("layer", LAYERS)
async def test_every_map_layer_draws(served: Served, layer: str) -> None:
    await _push_cluster(served, 200)
    await _sign_in(served, "chief-a")
    answer = await served.client.get(
        f"/web/data/{layer}.geojson", params={"since": "2026-11-01", "until": "2026-11-30"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "FeatureCollection"
    for feature in body["features"]:
        ring = feature["geometry"]["coordinates"]
        flat = str(ring).replace("[", "").replace("]", "").split(",")
        assert all(math.isfinite(float(v)) for v in flat if v.strip())
    if layer in ("incidents", "density"):
        assert body["features"], f"{layer}: 200 incidents drew nothing"
