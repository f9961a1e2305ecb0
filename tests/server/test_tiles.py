"""Vector tiles and TileJSON: contents, places, access, privacy, caching and invalidation."""

from __future__ import annotations

import gzip
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from starlette.applications import Starlette

from geo.tiles.tilemath import lonlat_to_tile, lonlat_to_world
from server.maps.places import reload_places
from sync.clock import HybridClock
from sync.store.records import Boundary
from tests.server.conftest import Served
from tests.support import batch, incident, new_id

LIMA = (-77.03, -12.05)
SQUARE = shapely.box(-77.2, -12.2, -76.9, -11.9)


def _points(n: int, seed: int = 42) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    lon = LIMA[0] + rng.uniform(-0.004, 0.004, n)
    lat = LIMA[1] + rng.uniform(-0.004, 0.004, n)
    return list(zip(lon.tolist(), lat.tolist(), strict=True))


async def push_points(
    served: Served,
    officer: str,
    points: list[tuple[float, float]],
    category: str = "robo",
    occurred_at: str = "2026-11-20T22:15:00-05:00",
) -> list[str]:
    clock, ids, changes = HybridClock(), [], []
    for lon, lat in points:
        rid = new_id()
        fields = {
            "category": category,
            "occurred_at": occurred_at,
            "location": {"lon": lon, "lat": lat, "accuracy_m": 5.0},
        }
        pii = {"victims": [{"name": "Juana Pérez Secreta", "dni": "12345678"}]}
        changes.append(incident(rid, clock, fields, pii=pii))
        ids.append(rid)
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth(officer)
    )
    assert answer.status_code == 200, answer.text
    return ids


def decode(body: bytes) -> dict[str, Any]:
    layers: dict[str, Any] = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    return layers


async def test_points_land_in_their_pixel_with_their_properties(served: Served) -> None:
    pts = _points(200)
    ids = await push_points(served, "off-a", pts)
    z = 16
    x, y = lonlat_to_tile(*pts[0], z)
    answer = await served.client.get(
        f"/tiles/incidents/{z}/{x}/{y}.mvt", headers=served.auth("chief-a")
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = decode(answer.content)["incidents"]
    assert layer["extent"] == 4096
    found = {f["properties"]["id"]: f for f in layer["features"]}
    wx, wy = lonlat_to_world(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
    inside = 0
    for rid, px, py in zip(ids, (wx * 2**z - x) * 4096, (wy * 2**z - y) * 4096, strict=True):
        if -64 <= px <= 4096 + 64 and -64 <= py <= 4096 + 64:
            inside += 1
            feat = found[rid]
            gx, gy = feat["geometry"]["coordinates"]
            assert abs(gx - px) <= 1 and abs(gy - py) <= 1  # within one tile unit
            assert feat["properties"]["category"] == "robo"
            assert feat["properties"]["occurred_at"] == "2026-11-21T03:15:00Z"
            assert set(feat["properties"]) == {"id", "category", "occurred_at"}
    assert inside == len(found) > 0


async def test_low_zoom_tiles_cluster_with_counts(served: Served) -> None:
    await push_points(served, "off-a", _points(300))
    x, y = lonlat_to_tile(*LIMA, 8)
    answer = await served.client.get(
        f"/tiles/incidents/8/{x}/{y}.mvt", headers=served.auth("analyst")
    )
    feats = decode(answer.content)["incidents"]["features"]
    assert sum(f["properties"]["point_count"] for f in feats) == 300
    assert len(feats) < 300


async def test_restricted_layers_refuse_without_the_right_token(served: Served) -> None:
    for layer in ("incidents", "hotspots", "density", "districts", "sectors", "tracks"):
        answer = await served.client.get(f"/tiles/{layer}/10/292/546.mvt")
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
        admin = await served.client.get(
            f"/tiles/{layer}/10/292/546.mvt", headers=served.auth("admin")
        )
        assert admin.status_code == 403
    assert (await served.client.get("/tiles/nope/1/0/0.mvt")).status_code == 404
    assert (await served.client.get("/tiles/public/1/5/0.mvt")).status_code == 400


async def test_scope_an_officer_sees_only_the_own_station(served: Served) -> None:
    await push_points(served, "off-a", _points(50, 1))
    await push_points(served, "off-b", _points(70, 2))
    x, y = lonlat_to_tile(*LIMA, 8)
    path = f"/tiles/incidents/8/{x}/{y}.mvt"
    counts = {}
    for who in ("off-b", "chief-a", "analyst"):
        feats = decode((await served.client.get(path, headers=served.auth(who))).content)
        counts[who] = sum(f["properties"]["point_count"] for f in feats["incidents"]["features"])
    assert counts == {"off-b": 70, "chief-a": 50, "analyst": 120}


async def test_public_layer_has_no_personal_data_and_suppresses_small_counts(
    served: Served,
) -> None:
    app: Starlette = served.app
    district = Boundary(
        "districts", "150101", "Lima", {"population": 268000}, shapely.to_wkb(SQUARE)
    )
    await served.store.replace_boundaries("districts", [district])
    assert await reload_places(app.state.ctx)
    # The layer shows the latest published month (docs/public.md): September here.
    september = "2026-09-15T12:00:00-05:00"
    await push_points(served, "off-a", _points(1, 3))  # November: never shown
    await push_points(served, "off-a", _points(3), occurred_at=september)
    x, y = lonlat_to_tile(*LIMA, 10)
    answer = await served.client.get(f"/tiles/public/10/{x}/{y}.mvt")
    assert answer.status_code == 200 and "public" in answer.headers["cache-control"]
    assert b"Juana" not in answer.content and b"12345678" not in answer.content
    props = decode(answer.content)["public"]["features"][0]["properties"]
    assert props["suppressed"] is True and "count" not in props
    await push_points(served, "off-a", _points(4, 7), occurred_at=september)
    props = decode((await served.client.get(f"/tiles/public/10/{x}/{y}.mvt")).content)["public"][
        "features"
    ][0]["properties"]
    # September was published with 3: late reports never change a published month
    assert props["suppressed"] is True and "count" not in props and props["month"] == "2026-09"
    items = await served.client.get("/ogc/collections/public/items")
    assert "Juana" not in items.text and items.json()["features"][0]["properties"]["suppressed"]
    restricted = await served.client.get(
        f"/tiles/incidents/16/{lonlat_to_tile(*LIMA, 16)[0]}/{lonlat_to_tile(*LIMA, 16)[1]}.mvt",
        headers=served.auth("chief-a"),
    )
    assert b"Juana" not in restricted.content and b"12345678" not in restricted.content


async def test_etag_304_gzip_range_and_head(served: Served) -> None:
    await push_points(served, "off-a", _points(400))
    x, y = lonlat_to_tile(*LIMA, 15)
    path, auth = f"/tiles/incidents/15/{x}/{y}.mvt", served.auth("chief-a")
    plain = await served.client.get(path, headers={**auth, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["cache-control"].startswith("private")
    etag = plain.headers["etag"]
    again = await served.client.get(path, headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304
    zipped = await served.client.get(path, headers={**auth, "Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes it
    assert zipped.headers["etag"] != etag
    part = await served.client.get(path, headers={**auth, "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == plain.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(plain.content)}"
    bad = await served.client.get(path, headers={**auth, "Range": "bytes=0-1,5-6"})
    assert bad.status_code == 416
    head = await served.client.head(path, headers={**auth, "Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.headers["content-length"] == str(len(plain.content))
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


async def test_a_sync_invalidates_exactly_what_it_touches(served: Served) -> None:
    await push_points(served, "off-a", _points(20, 3))
    await push_points(served, "off-b", _points(20, 4))
    x, y = lonlat_to_tile(*LIMA, 12)

    async def etags() -> dict[str, str]:
        out = {}
        for name, who in (
            ("incidents-a", "chief-a"),
            ("incidents-b", "off-b"),
            ("hotspots-b", "off-b"),
            ("tracks-a", "chief-a"),
            ("sectors-a", "chief-a"),
            ("stations", "chief-a"),
        ):
            layer = name.split("-")[0]
            answer = await served.client.get(
                f"/tiles/{layer}/12/{x}/{y}.mvt", headers=served.auth(who)
            )
            out[name] = answer.headers["etag"]
        out["incidents-all"] = (
            await served.client.get(
                f"/tiles/incidents/12/{x}/{y}.mvt", headers=served.auth("analyst")
            )
        ).headers["etag"]
        return out

    before = await etags()
    await push_points(served, "off-a", _points(5, 5))
    after = await etags()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"incidents-a", "incidents-all"}


async def test_tilejson(served: Served) -> None:
    answer = await served.client.get(
        "/tiles/incidents.json?category=robo", headers=served.auth("chief-a")
    )
    doc = answer.json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].endswith("/tiles/incidents/{z}/{x}/{y}.mvt?category=robo")
    assert doc["vector_layers"][0]["id"] == "incidents"
    assert doc["vector_layers"][0]["fields"]["category"] == "String"
    assert len(doc["bounds"]) == 4 and len(doc["center"]) == 3
    assert (await served.client.get("/tiles/incidents.json")).status_code == 401
    assert (await served.client.get("/tiles/public.json")).status_code == 200


async def test_filters_by_time_and_category(served: Served) -> None:
    await push_points(served, "off-a", _points(10, 8), "robo")
    await push_points(served, "off-a", _points(6, 9), "hurto")
    x, y = lonlat_to_tile(*LIMA, 8)
    auth = served.auth("chief-a")

    async def count(query: str) -> int:
        body = (
            await served.client.get(f"/tiles/incidents/8/{x}/{y}.mvt?{query}", headers=auth)
        ).content
        feats = decode(body)["incidents"]["features"]
        return sum(f["properties"]["point_count"] for f in feats)

    assert await count("category=hurto") == 6
    assert await count("category=robo,hurto") == 16
    assert await count("datetime=2026-11-21T00:00:00Z/..") == 16
    assert await count("datetime=../2026-11-20T00:00:00Z") == 0
    bad = await served.client.get(
        f"/tiles/incidents/8/{x}/{y}.mvt?datetime=yesterday", headers=auth
    )
    assert bad.status_code == 400
