"""OGC API - Features: landing, conformance, API document, collections, keyset paging."""

from __future__ import annotations

from tests.server.conftest import Served
from tests.server.test_tiles import _points, push_points


async def test_landing_points_to_an_openapi_30_document(served: Served) -> None:
    landing = (await served.client.get("/ogc/")).json()
    desc = next(link for link in landing["links"] if link["rel"] == "service-desc")
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    api = await served.client.get("/ogc/api")
    doc = api.json()
    assert doc["openapi"].startswith("3.0")
    params = [  # the limit is a reference into components/parameters (QGIS reads it there)
        doc["components"]["parameters"][p["$ref"].rpartition("/")[2]] if "$ref" in p else p
        for p in doc["paths"]["/collections/incidents/items"]["get"]["parameters"]
    ]
    limit = next(p for p in params if p["name"] == "limit")
    assert limit["schema"]["default"] == 1000 and limit["schema"]["maximum"] == 10_000
    names = {p["name"] for p in params}
    assert {"bbox", "datetime", "category"} <= names
    conf = (await served.client.get("/ogc/conformance")).json()["conformsTo"]
    assert any(c.endswith("conf/geojson") for c in conf)
    cols = (await served.client.get("/ogc/collections")).json()["collections"]
    assert {c["id"] for c in cols} >= {"incidents", "public", "tracks", "hotspots"}
    q = (await served.client.get("/ogc/collections/incidents/queryables")).json()
    assert "category" in q["properties"]


async def test_keyset_pages_cover_everything_once(served: Served) -> None:
    ids = await push_points(served, "off-a", _points(250))
    auth, seen = served.auth("chief-a"), []
    url: str | None = "/ogc/collections/incidents/items?limit=100"
    while url:
        page = (await served.client.get(url, headers=auth)).json()
        assert page["numberMatched"] == 250
        assert page["numberReturned"] == len(page["features"])
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
    assert sorted(seen) == sorted(ids) and len(seen) == 250
    one = await served.client.get(f"/ogc/collections/incidents/items/{ids[0]}", headers=auth)
    assert one.json()["properties"]["id"] == ids[0]
    assert one.headers["content-type"] == "application/geo+json"
    assert set(one.json()["properties"]) == {"id", "category", "occurred_at", "district", "sector"}
    missing = await served.client.get("/ogc/collections/incidents/items/nope", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_restricted_items_need_a_token_and_respect_scope(served: Served) -> None:
    await push_points(served, "off-a", _points(10, 1))
    await push_points(served, "off-b", _points(15, 2))
    refused = await served.client.get("/ogc/collections/incidents/items")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    url = "/ogc/collections/incidents/items"
    b = (await served.client.get(url, headers=served.auth("off-b"))).json()
    assert b["numberMatched"] == 15
    everyone = (await served.client.get(url, headers=served.auth("analyst"))).json()
    assert everyone["numberMatched"] == 25
    bbox = "-77.1,-12.1,-77.0,-12.0"
    inside = (await served.client.get(f"{url}?bbox={bbox}", headers=served.auth("analyst"))).json()
    assert inside["numberMatched"] == 25
    far = (await served.client.get(f"{url}?bbox=0,0,1,1", headers=served.auth("analyst"))).json()
    assert far["numberMatched"] == 0
    bad = await served.client.get(f"{url}?limit=10001", headers=served.auth("analyst"))
    assert bad.status_code == 400
