"""The chief's map on vector tiles (issue 15 item 10): the streets layer (in the chief's
scope, one line per street, named), the counts and lists beside the tiles
(``/web/data/meta/{layer}.json``) agreeing with what the tiles draw and with the hotspot
pop-up, and the label glyphs. Tiles are read with the web session's cookie, as the page
does. On SQLite and, when RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import h3
import mapbox_vector_tile
import shapely

from geo.tiles.tilemath import lonlat_to_tile
from sync.clock import HybridClock
from sync.store.records import Boundary
from tests.server.conftest import Served, served_on_both_backends, sign_in_web
from tests.support import batch, incident, new_id

PASSWORD = "una-clave-larga-1"
AREA = shapely.box(-77.04, -12.06, -77.02, -12.04)  # st-a's area
HOT = (-77.03, -12.05)
WINDOW = {"since": "2026-11-01", "until": "2026-11-30"}
# The same Lima days as tile instants (UTC-5): worked out by hand.
DATETIME = "2026-11-01T05:00:00Z/2026-12-01T04:59:59Z"


served = served_on_both_backends()


def _block(code: str, street: str, kind: str, name: str, x0: float, x1: float) -> Boundary:
    line = shapely.LineString([(x0, -12.05), (x1, -12.05)])
    props = {"street_id": street, "street_type": kind, "district_code": "150101"}
    return Boundary("streets", code, name, props, shapely.to_wkb(line))


async def _city(served: Served) -> None:
    station = Boundary("stations", "st-a", "Comisaría A", {}, shapely.to_wkb(AREA))
    await served.store.replace_boundaries("stations", [station])
    await served.store.replace_boundaries(
        "streets",
        [
            _block("s1-1", "s1", "Av.", "Junín", -77.035, -77.030),  # two blocks of one street
            _block("s1-2", "s1", "Av.", "Junín", -77.030, -77.025),
            _block("s2-1", "s2", "Jr.", "Cruce", -77.045, -77.044),  # 400 m beyond the edge
            _block("s3-1", "s3", "Ca.", "Lejana", -76.90, -76.89),  # 13 km away
        ],
    )


def _features(body: bytes, layer: str) -> list[dict[str, Any]]:
    decoded = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    return list(decoded.get(layer, {}).get("features", []))


async def _tile(served: Served, layer: str, lon: float, lat: float, z: int, **q: str) -> Any:
    x, y = lonlat_to_tile(lon, lat, z)
    return await served.client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", params=q)


async def test_streets_tiles_in_scope_one_line_a_street_named(served: Served) -> None:
    await _city(served)
    assert (await _tile(served, "streets", *HOT, 12)).status_code == 401  # no session
    await sign_in_web(served, "chief-a", PASSWORD)
    answer = await _tile(served, "streets", *HOT, 12)  # one tile holds all of them
    assert answer.status_code == 200
    streets = {f["properties"]["code"]: f for f in _features(answer.content, "streets")}
    assert set(streets) == {"s1", "s2"}  # the far street is not the chief's
    junin = streets["s1"]
    assert junin["properties"]["name"] == "Junín" and junin["properties"]["type"] == "Av."
    assert junin["geometry"]["type"] == "LineString"  # its two blocks merged into one line
    far = await _tile(served, "streets", -76.895, -12.05, 12)
    assert _features(far.content, "streets") == []
    await sign_in_web(served, "analyst", PASSWORD)  # every station: the whole city
    far = await _tile(served, "streets", -76.895, -12.05, 12)
    assert [f["properties"]["name"] for f in _features(far.content, "streets")] == ["Lejana"]
    await sign_in_web(served, "admin", PASSWORD)
    assert (await _tile(served, "streets", *HOT, 12)).status_code == 403


async def _push(served: Served, points: list[tuple[float, float, str]]) -> None:
    clock, changes = HybridClock(), []
    for lon, lat, at in points:
        fields = {
            "category": "robo",
            "occurred_at": at,
            "location": {"lon": lon, "lat": lat, "accuracy_m": 5.0},
        }
        changes.append(incident(new_id(), clock, fields))
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.status_code == 200, answer.text


def _cluster() -> list[tuple[float, float, str]]:
    """60 incidents on one corner, and 240 in groups of 5 a kilometre apart around it, all
    in November 2026 (the newest on the 28th at 17:00 Lima time)."""
    points = []
    for i in range(300):
        at = f"2026-11-{1 + i % 28:02d}T{10 + i % 8}:00:00-05:00"
        if i < 60:
            points.append((HOT[0] + (i % 6) * 1e-5, HOT[1] + (i // 6) * 1e-5, at))
        else:
            group, k = divmod(i - 60, 5)
            lon = -77.065 + (group % 8) * 0.01 + k * 1e-5
            lat = -12.075 + (group // 8) * 0.01 + k * 1e-5
            points.append((lon, lat, at))
    return points


async def test_counts_and_lists_agree_with_the_tiles_and_the_pop_up(served: Served) -> None:
    await _push(served, _cluster())
    await sign_in_web(served, "chief-a", PASSWORD)
    meta = (await served.client.get("/web/data/meta/hotspots.json", params=WINDOW)).json()
    assert meta["count"] > 0 and meta["n"] == 300 and "reason" not in meta
    # every cell the tiles draw (gi_bin != 0), over the tiles that cover the incidents
    drawn: dict[str, int] = {}
    z = 10
    corners = {lonlat_to_tile(lon, lat, z) for lon in (-77.2, -76.85) for lat in (-12.2, -11.8)}
    for x in range(min(c[0] for c in corners), max(c[0] for c in corners) + 1):
        for y in range(min(c[1] for c in corners), max(c[1] for c in corners) + 1):
            answer = await served.client.get(
                f"/tiles/hotspots/{z}/{x}/{y}.mvt", params={"datetime": DATETIME}
            )
            assert answer.status_code == 200
            for f in _features(answer.content, "hotspots"):
                if f["properties"]["gi_bin"] != 0:
                    drawn[f["properties"]["cell"]] = f["properties"]["gi_bin"]
    assert len(drawn) == meta["count"]
    top = meta["top"]
    assert top and all(drawn.get(t["cell"]) == t["gi_bin"] > 0 for t in top)
    assert [t["z"] for t in top] == sorted((t["z"] for t in top), reverse=True)
    # the corner's cell is drawn hot at 99 %; the pop-up describes the cell the list names
    corner = h3.latlng_to_cell(HOT[1], HOT[0], h3.get_resolution(top[0]["cell"]))
    assert drawn[corner] == 3
    lon, lat = top[0]["center"]
    popup = await served.client.get(
        "/web/data/hotspot.json", params={**WINDOW, "lon": lon, "lat": lat}
    )
    assert popup.json()["cell"] == top[0]["cell"]
    assert popup.json()["count"] == top[0]["count"]
    assert popup.json()["gi_bin"] == top[0]["gi_bin"]
    # the incidents: how many, and the newest first
    inc = (await served.client.get("/web/data/meta/incidents.json", params=WINDOW)).json()
    assert inc["count"] == 300 and len(inc["recent"]) == 15
    times = [r["t"] for r in inc["recent"]]
    assert times == sorted(times, reverse=True)
    assert times[0] == int(dt.datetime.fromisoformat("2026-11-28T17:00:00-05:00").timestamp())
    # a category with none: the tiles and the count say nothing, and why
    none = {**WINDOW, "cat": "hurto"}
    empty = (await served.client.get("/web/data/meta/hotspots.json", params=none)).json()
    assert empty["count"] == 0 and empty["reason"]["code"] == "no_incidents"
    x, y = lonlat_to_tile(*HOT, z)
    tile = await served.client.get(
        f"/tiles/hotspots/{z}/{x}/{y}.mvt", params={"datetime": DATETIME, "category": "hurto"}
    )
    assert _features(tile.content, "hotspots") == []


async def test_empty_tiled_layers_say_why(served: Served) -> None:
    await _push(served, _cluster()[:2])
    await sign_in_web(served, "chief-a", PASSWORD)

    async def meta(layer: str, **q: str) -> dict[str, Any]:
        answer = await served.client.get(f"/web/data/meta/{layer}.json", params={**WINDOW, **q})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    hot = await meta("hotspots")
    assert hot["count"] == 0 and hot["reason"]["code"] == "too_few_for_gi"
    assert hot["reason"]["text"] == (
        "0 puntos calientes: hay 2 incidentes y Gi* necesita al menos 3 para comparar celdas."
    )
    assert (await meta("tracks"))["reason"]["code"] == "no_patrols"
    assert (await meta("tracks", lang="en"))["reason"]["text"] == (
        "No patrol tracks were recorded in this period."
    )
    nothing = await meta("density", since="2026-06-01", until="2026-06-30")
    assert nothing["count"] == 0 and nothing["reason"]["code"] == "no_incidents"
    assert (await meta("incidents"))["count"] == 2
    assert (await meta("districts"))["count"] >= 0
    missing = await served.client.get("/web/data/meta/emerging.json", params=WINDOW)
    assert missing.status_code == 404  # no tiles: the page draws it from GeoJSON


def _glyphs(body: bytes) -> dict[int, dict[str, Any]]:
    """A glyph PBF read by hand (glyphs > stacks > glyph), as MapLibre reads it."""

    def varint(data: bytes, i: int) -> tuple[int, int]:
        shift = value = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, i

    def fields(data: bytes) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        i = 0
        while i < len(data):
            key, i = varint(data, i)
            if key & 7 == 2:
                n, i = varint(data, i)
                out.append((key >> 3, data[i : i + n]))
                i += n
            else:
                value, i = varint(data, i)
                out.append((key >> 3, value))
        return out

    glyphs = {}
    for _, stack in fields(body):
        for number, glyph in fields(stack):
            if number != 3:
                continue
            g = dict(fields(glyph))
            unzig = {k: (v >> 1) ^ -(v & 1) for k, v in g.items() if k in (5, 6)}
            glyphs[g[1]] = {
                "bitmap": g.get(2, b""),
                "width": g[3],
                "height": g[4],
                "left": unzig[5],
                "top": unzig[6],
                "advance": g[7],
            }
    return glyphs


async def test_label_glyphs_are_served_here(served: Served) -> None:
    answer = await served.client.get("/glyphs/DejaVuSans/0-255.pbf")  # no sign-in
    assert answer.status_code == 200
    glyphs = _glyphs(answer.content)
    assert {ord(c) for c in "AZaz09áéíóúñÑü .-"} <= set(glyphs)
    space, cap_i, cap_m = glyphs[32], glyphs[ord("I")], glyphs[ord("M")]
    assert space["bitmap"] == b"" and space["advance"] > 0
    assert cap_m["width"] > cap_i["width"] and cap_i["height"] > 12  # 24 px glyphs
    for g in (cap_i, cap_m, glyphs[ord("g")]):
        assert len(g["bitmap"]) == (g["width"] + 6) * (g["height"] + 6)  # a 3 px border
    # a distance field: inside the stem of "I" past the edge value (191), its corner not
    w = cap_i["width"] + 6
    middle = (cap_i["height"] + 6) // 2 * w + w // 2
    assert cap_i["bitmap"][middle] > 191 > cap_i["bitmap"][0]
    assert glyphs[ord("g")]["top"] - glyphs[ord("g")]["height"] < 0  # below the baseline
    other = await served.client.get("/glyphs/DejaVuSans/19968-20223.pbf")  # CJK: not shipped
    assert other.status_code == 200 and _glyphs(other.content) == {}
    fallback = await served.client.get("/glyphs/Noto Sans Regular,DejaVuSans/0-255.pbf")
    assert fallback.status_code == 200 and fallback.content == answer.content
    assert (await served.client.get("/glyphs/Arial/0-255.pbf")).status_code == 404
    assert (await served.client.get("/glyphs/DejaVuSans/1-5.pbf")).status_code == 404
