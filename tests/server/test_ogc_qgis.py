"""OGC API - Features as QGIS reads it (issue 19, items 12-14): the page size limits in
``components/parameters``, QGIS's end-only time window, one geometry type per collection."""

from __future__ import annotations

import shapely

from sync.store.records import Boundary
from tests.server.conftest import Served
from tests.server.test_tiles import _points, push_points

ITEMS = "/ogc/collections/{}/items"


async def test_limit_is_declared_in_components_and_referenced(served: Served) -> None:
    doc = (await served.client.get("/ogc/api")).json()
    limit = doc["components"]["parameters"]["limit"]
    assert (limit["name"], limit["in"]) == ("limit", "query")
    assert limit["schema"]["default"] == 1000 and limit["schema"]["maximum"] == 10_000
    items = [p for p in doc["paths"] if p.startswith("/collections/") and p.endswith("/items")]
    assert len(items) >= 8
    for path in items:
        params = doc["paths"][path]["get"]["parameters"]
        assert {"$ref": "#/components/parameters/limit"} in params, path
        assert not any(p.get("name") == "limit" for p in params), path  # declared once


async def test_qgis_end_only_window_is_an_open_start(served: Served) -> None:
    await push_points(served, "off-a", _points(4, 1), occurred_at="2026-10-02T10:00:00-05:00")
    await push_points(served, "off-a", _points(3, 2), occurred_at="2026-11-20T22:15:00-05:00")
    auth = served.auth("chief-a")
    url = ITEMS.format("incidents")
    end = "2026-10-31T23:59:59Z"
    qgis = await served.client.get(
        url, params={"datetime": f"0000-01-01T00:00:00Z/{end}"}, headers=auth
    )
    assert qgis.status_code == 200, qgis.text
    open_start = await served.client.get(url, params={"datetime": f"../{end}"}, headers=auth)
    assert qgis.json()["numberMatched"] == open_start.json()["numberMatched"] == 4


async def test_a_collection_mixing_polygons_serves_multipolygons(served: Served) -> None:
    one = shapely.box(-77.04, -12.06, -77.03, -12.05)
    two = shapely.MultiPolygon(
        [shapely.box(-77.03, -12.06, -77.02, -12.05), shapely.box(-77.01, -12.06, -77.0, -12.05)]
    )
    sectors = [
        Boundary("sectors", "st-a-s1", "A1", {"station_code": "st-a"}, shapely.to_wkb(one)),
        Boundary("sectors", "st-a-s2", "A2", {"station_code": "st-a"}, shapely.to_wkb(two)),
    ]
    await served.store.replace_boundaries("sectors", sectors)
    answer = await served.client.get(ITEMS.format("sectors"), headers=served.auth("chief-a"))
    assert answer.status_code == 200, answer.text
    features = {f["id"]: f["geometry"] for f in answer.json()["features"]}
    assert {g["type"] for g in features.values()} == {"MultiPolygon"}
    assert shapely.from_geojson(_dumps(features["st-a-s1"])).equals(one)
    single = await served.client.get(
        ITEMS.format("sectors") + "/st-a-s1", headers=served.auth("chief-a")
    )
    assert single.json()["geometry"]["type"] == "MultiPolygon"


def _dumps(geometry: dict) -> str:  # type: ignore[type-arg]
    import json

    return json.dumps(geometry)
