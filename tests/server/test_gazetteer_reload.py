"""After a gazetteer re-import (``ronda import osm``/``streets``) and the documented
``POST /v1/admin/places/reload``, the streets map layer shows the new streets, as the
district layer shows new districts (issue 17 item 4). It kept the streets read at start-up
until a restart: its cache was keyed on a signature of districts, stations and sectors."""

from __future__ import annotations

import shapely

from server.maps.places import reload_places
from sync.store.records import Boundary
from tests.server.conftest import Served

SQUARE = shapely.box(-77.2, -12.2, -76.9, -11.9)


def street(code: str, name: str, lat: float) -> Boundary:
    line = shapely.LineString([(-77.05, lat), (-77.04, lat)])
    props = {"street_type": "jr", "district_code": "150101"}
    return Boundary("streets", code, name, props, shapely.to_wkb(line))


async def names(served: Served) -> set[str]:
    answer = await served.client.get(
        "/ogc/collections/streets/items", headers=served.auth("analyst")
    )
    assert answer.status_code == 200, answer.text
    return {f["properties"]["name"] for f in answer.json()["features"]}


async def test_streets_layer_follows_a_reimport_after_reload(served: Served) -> None:
    district = Boundary("districts", "150101", "Lima", {}, shapely.to_wkb(SQUARE))
    await served.store.replace_boundaries("districts", [district])
    await served.store.replace_boundaries("streets", [street("s1", "Ica", -12.05)])
    assert await reload_places(served.app.state.ctx)
    assert await names(served) == {"Ica"}

    await served.store.replace_boundaries(
        "streets", [street("s2", "Ucayali", -12.06), street("s3", "Huallaga", -12.07)]
    )
    reload = await served.client.post("/v1/admin/places/reload", headers=served.auth("admin"))
    assert reload.status_code == 200
    assert await names(served) == {"Ucayali", "Huallaga"}
