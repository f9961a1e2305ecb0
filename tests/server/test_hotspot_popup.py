"""The hotspot pop-up's data and the briefing: count, z, class, change, streets and sector.

Expected values come from the test's own construction: the incidents it placed, the streets
and sector it drew, and H3 at the resolution the map's own hotspot layer reports.
"""

from __future__ import annotations

import random

import h3
import shapely

from sync.clock import HybridClock
from sync.store.records import Boundary
from tests.server.conftest import Served
from tests.server.test_map_layers_data import _sign_in
from tests.support import batch, incident, new_id

CENTRE = (-77.03, -12.05)
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}


def _line(name: str, code: str, coords: list[tuple[float, float]]) -> Boundary:
    return Boundary("streets", code, name, {}, shapely.to_wkb(shapely.LineString(coords)))


async def _city(served: Served) -> list[tuple[float, float]]:
    """Two streets crossing at the centre, one far away, a sector around the centre; 300
    incidents in November (a cluster at the centre and a scatter) and 5 in October
    exactly at the centre. Returns the November points."""
    x, y = CENTRE
    await served.store.replace_boundaries(
        "streets",
        [
            _line("Av. Abancay", "s1", [(x - 0.05, y), (x + 0.05, y)]),
            _line("Jr. Lampa", "s2", [(x, y - 0.05), (x, y + 0.05)]),
            _line("Calle Lejana", "s3", [(x + 0.2, y + 0.2), (x + 0.25, y + 0.2)]),
        ],
    )
    square = shapely.box(x - 0.01, y - 0.01, x + 0.01, y + 0.01)
    await served.store.replace_boundaries(
        "sectors", [Boundary("sectors", "SC-1", "Sector Centro", {}, shapely.to_wkb(square))]
    )
    rng, clock = random.Random(42), HybridClock()
    points, changes = [], []
    for i in range(300):
        spread = 0.003 if i % 2 else 0.02
        point = (x + rng.uniform(-spread, spread), y + rng.uniform(-spread, spread))
        points.append(point)
        when = f"2026-11-{1 + i % 28:02d}T22:15:00-05:00"
        changes.append(_incident(clock, point, when))
    changes += [_incident(clock, CENTRE, "2026-10-15T10:00:00-05:00") for _ in range(5)]
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.status_code == 200
    assert all(r["status"] == "applied" for r in answer.json()["results"])
    return points


def _incident(clock: HybridClock, point: tuple[float, float], when: str) -> dict[str, object]:
    location = {"lon": point[0], "lat": point[1], "accuracy_m": 5}
    return incident(
        new_id(), clock, {"category": "robo", "occurred_at": when, "location": location}
    )


async def test_the_popup_tells_count_z_class_change_streets_and_sector(served: Served) -> None:
    points = await _city(served)
    await _sign_in(served, "chief-a")
    layer = (await served.client.get("/web/data/hotspots.geojson", params=NOVEMBER)).json()
    resolution = layer["resolution"]
    centre_cell = h3.latlng_to_cell(CENTRE[1], CENTRE[0], resolution)
    expected = sum(
        1 for lon, lat in points if h3.latlng_to_cell(lat, lon, resolution) == centre_cell
    )
    answer = await served.client.get(
        "/web/data/hotspot.json", params={**NOVEMBER, "lon": CENTRE[0], "lat": CENTRE[1]}
    )
    assert answer.status_code == 200, answer.text
    p = answer.json()
    assert p["cell"] == centre_cell
    assert p["count"] == expected
    assert p["previous_count"] == 5 and p["change"] == expected - 5
    assert p["period"]["previous"] == {"since": "2026-10-01", "until": "2026-10-31"}
    assert set(p["streets"]) == {"Av. Abancay", "Jr. Lampa"}
    assert p["sector"] == {"code": "SC-1", "name": "Sector Centro"}
    # The map's own layer draws this cell with the same count, z and class.
    drawn = [
        f["properties"]
        for f in layer["features"]
        if shapely.geometry.shape(f["geometry"]).contains(shapely.Point(*CENTRE))
    ]
    assert drawn and drawn[0]["count"] == expected and drawn[0]["z"] == p["z"]
    assert drawn[0]["gi_bin"] == p["gi_bin"] and p["gi_bin"] > 0
    assert p["class"] == {3: "Punto caliente (99 %)", 2: "Punto caliente (95 %)"}.get(
        p["gi_bin"], "Punto caliente (90 %)"
    )


async def test_top_places_and_the_printable_briefing(served: Served) -> None:
    await _city(served)
    await _sign_in(served, "chief-a")
    top = (await served.client.get("/web/data/top_places.json", params=NOVEMBER)).json()
    assert top["places"] and all(p["gi_bin"] > 0 for p in top["places"])
    counts = [p["count"] for p in top["places"]]
    assert counts == sorted(counts, reverse=True)
    first = top["places"][0]
    assert "Av. Abancay" in first["streets"] and first["sector"]["name"] == "Sector Centro"
    page = await served.client.get("/briefing", params=NOVEMBER)
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    assert "Informe de puntos críticos" in page.text and "Comisaría A" in page.text
    assert "01/11/2026 – 30/11/2026" in page.text and "01/10/2026 – 31/10/2026" in page.text
    assert "Av. Abancay" in page.text and "@media print" not in page.text  # styles: review.css
    assert f"{first['change']:+d}" in page.text


async def test_no_cell_here_and_signed_out(served: Served) -> None:
    await _city(served)
    far: dict[str, str | float] = {**NOVEMBER, "lon": -70.0, "lat": -15.0}
    assert (await served.client.get("/web/data/hotspot.json", params=far)).status_code == 401
    assert (await served.client.get("/briefing")).status_code == 303
    await _sign_in(served, "chief-a")
    assert (await served.client.get("/web/data/hotspot.json", params=far)).status_code == 404
    bad = {**NOVEMBER, "lon": "x", "lat": "1"}
    assert (await served.client.get("/web/data/hotspot.json", params=bad)).status_code == 400
