"""CompStat's places, patrols and PAI (issue 14, item 2): every figure equals what this test
works out itself from what it sent and from the store's rows, periods cut at Lima
midnights that fall inside one UTC day; the page shows them and its PDF carries them.
On SQLite and, when RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
import random
from typing import Any
from zoneinfo import ZoneInfo

import h3
import pytest
import shapely
from pypdf import PdfReader
from sqlalchemy import text

from server.maps.places import reload_places, store_layer
from sync.clock import HybridClock
from sync.store.sql import SQLStore
from tests.server.conftest import Served, served_on_both_backends, sign_in_web
from tests.server.test_analysis_tactical import app_settings  # noqa: F401  (120 s requests)
from tests.server.test_openapi import check
from tests.server.test_placement import EAST, WEST, _layers
from tests.support import batch, incident, log_entry, new_id

served = served_on_both_backends()  # the app on SQLite, then on PostgreSQL
LIMA = ZoneInfo("America/Lima")
D = dt.date
# date=2026-11-30, period=28d: this period 3..30 November, the one before 6 Oct..2 Nov.
CURRENT, PREVIOUS = (D(2026, 11, 3), D(2026, 11, 30)), (D(2026, 10, 6), D(2026, 11, 2))
CLUSTER = (-77.035, -12.055)  # on the street "Arequipa", in sector A1
WEST_LON, EAST_LON = -77.035, -77.025
# Patrol positions: (officer, Lima wall time, lon, lat). Written so that every rule shows.
FIXES: list[tuple[str, str, float, float]] = [
    # Lima midnight at the period's start: 2 Nov 23:59 Lima is 3 Nov 04:59 UTC, the same UTC
    # day as 3 Nov 00:00 Lima (05:00 UTC). Only 00:00 -> 00:01 -> 00:02 count (120 s).
    ("off-a", "2026-11-02T23:58", WEST_LON, -12.058),
    ("off-a", "2026-11-02T23:59", WEST_LON, -12.057),
    ("off-a", "2026-11-03T00:00", WEST_LON, -12.056),
    ("off-a", "2026-11-03T00:01", WEST_LON, -12.055),
    ("off-a", "2026-11-03T00:02", WEST_LON, -12.054),
    # A 9-minute gap (dropped), then a GPS jump out of every sector and back (time counts,
    # distance not).
    ("off-a", "2026-11-10T10:00", EAST_LON, -12.058),
    ("off-a", "2026-11-10T10:01", EAST_LON, -12.057),
    ("off-a", "2026-11-10T10:10", EAST_LON, -12.056),
    ("off-a", "2026-11-10T10:11", EAST_LON, -12.055),
    ("off-a", "2026-11-10T10:12", EAST_LON, -12.0),
    ("off-a", "2026-11-10T10:13", EAST_LON, -12.054),
    # In the hot cluster across the 14:00 shift change.
    ("off-a", "2026-11-20T13:59", CLUSTER[0], -12.0552),
    ("off-a", "2026-11-20T14:00", CLUSTER[0], -12.0550),
    ("off-a", "2026-11-20T14:01", CLUSTER[0], -12.0548),
    # The period's end: 30 Nov 23:59 -> 1 Dec 00:00 Lima is not counted.
    ("off-a", "2026-11-30T23:58", WEST_LON, -12.058),
    ("off-a", "2026-11-30T23:59", WEST_LON, -12.057),
    ("off-a", "2026-12-01T00:00", WEST_LON, -12.056),
    # Another station's officer: in the city's figures only.
    ("off-b", "2026-11-15T12:00", EAST_LON, -12.058),
    ("off-b", "2026-11-15T12:02", EAST_LON, -12.057),
]
GAP_S, SPEED_MS, R = 300, 120 / 3.6, 6_371_008.8


def _epoch(wall: str) -> int:
    return int(dt.datetime.fromisoformat(wall).replace(tzinfo=LIMA).timestamp())


def _lima_day(epoch: int) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, LIMA).date()


async def _seed(served: Served) -> None:
    for name, layer in _layers().items():
        await store_layer(served.store, name, layer)
    await reload_places(served.app.state.ctx)
    await _seed_incidents_only(served)


async def _seed_incidents_only(served: Served) -> None:
    rng, clock, changes = random.Random(7), HybridClock(), []
    for first, cluster, background in ((PREVIOUS[0], 60, 240), (CURRENT[0], 40, 240)):
        for i in range(cluster + background):
            if i < cluster:
                lon, lat = CLUSTER[0] + rng.gauss(0, 0.0002), CLUSTER[1] + rng.gauss(0, 0.0002)
            else:
                lon, lat = rng.uniform(-77.0399, -77.0201), rng.uniform(-12.0599, -12.0501)
            day = first + dt.timedelta(days=i % 28)
            at = f"{day.isoformat()}T12:00:00-05:00"
            location = {"lon": lon, "lat": lat, "accuracy_m": 10}
            fields = {"category": "robo", "occurred_at": at, "location": location}
            changes.append(incident(new_id(), clock, fields))
    for at in ("2026-11-03T04:59:00Z", "2026-11-03T05:00:00Z"):  # either side of a Lima midnight
        location = {"lon": CLUSTER[0], "lat": CLUSTER[1], "accuracy_m": 5}
        fields = {"category": "robo", "occurred_at": at, "location": location}
        changes.append(incident(new_id(), clock, fields))
    pushed = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert pushed.json()["summary"]["applied"] == len(changes), pushed.text
    devices = {
        "off-a": served.people.officer_a.device_id,
        "off-b": served.people.officer_b.device_id,
    }
    for officer, device in devices.items():
        prev, entries = "", []
        for n, (_, wall, lon, lat) in enumerate([f for f in FIXES if f[0] == officer], 1):
            body = {
                "kind": "checkpoint",
                "at": f"{wall}:00-05:00",
                "lon_e6": round(lon * 1e6),
                "lat_e6": round(lat * 1e6),
            }
            entry = log_entry(device, n, prev, clock, body)
            prev = entry["hash"]
            entries.append(entry)
        answer = await served.client.post(
            "/v1/sync/push", json=batch(entries), headers=served.auth(officer)
        )
        assert answer.json()["summary"]["applied"] == len(entries), answer.text


async def _incidents(served: Served, station: str | None) -> list[tuple[int, float, float]]:
    store = served.store
    assert isinstance(store, SQLStore)
    sql = "SELECT occurred_s, lon, lat FROM incident_point WHERE NOT deleted AND lon IS NOT NULL"
    params: dict[str, Any] = {}
    if station:
        sql += " AND station_id = :s"
        params["s"] = station
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text(sql), params)).all()
    return [(int(t), float(x), float(y)) for t, x, y in rows]


def _in(span: tuple[dt.date, dt.date], epoch: int) -> bool:
    return span[0] <= _lima_day(epoch) <= span[1]


def _cell_counts(rows: list[tuple[int, float, float]], span: Any, res: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for t, lon, lat in rows:
        if _in(span, t):
            cell = h3.latlng_to_cell(lat, lon, res)
            out[cell] = out.get(cell, 0) + 1
    return out


def _patrol_by_hand(
    officers: set[str], hot: set[str], res: int
) -> dict[tuple[str | None, str], list[float]]:
    """(sector, shift) -> [seconds, metres, hot seconds], from FIXES, by the documented rules."""
    sectors = {"st-a-s1": WEST, "st-b-s1": EAST}
    out: dict[tuple[str | None, str], list[float]] = {}
    for officer in officers:
        mine = sorted((_epoch(w), lon, lat) for o, w, lon, lat in FIXES if o == officer)
        for (t1, lon1, lat1), (t2, lon2, lat2) in itertools.pairwise(mine):
            if not (_in(CURRENT, t1) and _in(CURRENT, t2)) or not 0 < t2 - t1 <= GAP_S:
                continue
            a, b = math.radians(lat1), math.radians(lat2)
            h = (
                math.sin((b - a) / 2) ** 2
                + math.cos(a) * math.cos(b) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
            )
            metres = 2 * R * math.asin(math.sqrt(h))
            if metres > SPEED_MS * (t2 - t1):
                metres = 0.0
            where = shapely.Point(lon1, lat1)
            sector = next((code for code, box in sectors.items() if box.intersects(where)), None)
            hour = dt.datetime.fromtimestamp(t1, LIMA).hour
            shift = "06-14" if 6 <= hour < 14 else ("14-22" if 14 <= hour < 22 else "22-06")
            row = out.setdefault((sector, shift), [0.0, 0.0, 0.0])
            row[0] += t2 - t1
            row[1] += metres
            row[2] += (t2 - t1) if h3.latlng_to_cell(lat1, lon1, res) in hot else 0
    return out


async def _report(served: Served, who: str, **params: str) -> dict[str, Any]:
    answer = await served.client.get(
        "/v1/analysis/compstat",
        params={"date": "2026-11-30", **params},
        headers=served.auth(who),
    )
    assert answer.status_code == 200, answer.text
    return check(answer, "/v1/analysis/compstat", "get")


async def test_places_patrols_and_pai_equal_the_store(served: Served) -> None:
    await _seed(served)
    body = await _report(served, "chief-a")
    focus = body["places_period"]
    assert focus["name"] == "28d"
    assert (focus["current"]["first"], focus["current"]["last"]) == ("2026-11-03", "2026-11-30")
    assert focus["current"]["start"] == 1_793_682_000  # 2026-11-03T05:00:00Z, Lima midnight

    # PAI: the previous period's hot cells against this period's incidents, from the store.
    pai = body["pai"]
    assert pai and pai["cells"], body
    hot = set(pai["cells"])
    res = h3.get_resolution(pai["cells"][0])
    rows = await _incidents(served, "st-a")
    now = [(t, x, y) for t, x, y in rows if _in(CURRENT, t)]
    assert len(now) == 281  # 280 + the one at 05:00 UTC on 3 November; 04:59 UTC is 2 Nov
    assert pai["n_incidents"] + pai["n_outside_area"] == len(now)
    in_hot = sum(h3.latlng_to_cell(y, x, res) in hot for _, x, y in now)
    assert pai["n_in_hotspots"] == in_hot and in_hot >= 40
    area = sum(h3.cell_area(c, "km^2") for c in hot)
    assert pai["area_hot_km2"] == pytest.approx(area, rel=1e-3)
    assert pai["hit_rate"] == pytest.approx(in_hot / pai["n_incidents"], abs=1e-4)
    expected_pai = (in_hot / pai["n_incidents"]) / (area / pai["area_total_km2"])
    assert pai["pai"] == pytest.approx(expected_pai, rel=1e-3)

    # Hot places: counts per cell in this period and the one before, cut in Lima days.
    places = body["hot_places"]
    assert places and places[0]["gi_bin"] > 0
    now_counts = _cell_counts(rows, CURRENT, h3.get_resolution(places[0]["cell"]))
    before_counts = _cell_counts(rows, PREVIOUS, h3.get_resolution(places[0]["cell"]))
    for place in places:
        assert place["count"] == now_counts[place["cell"]]
        assert place["previous_count"] == before_counts.get(place["cell"], 0)
        assert place["change"] == place["count"] - place["previous_count"]
    top = places[0]
    assert top["cell"] == h3.latlng_to_cell(CLUSTER[1], CLUSTER[0], h3.get_resolution(top["cell"]))
    assert top["streets"] == ["Arequipa"] and top["sector"] == {"code": "st-a-s1", "name": "A1"}

    # Patrols: hours and km per sector and shift, worked out from the positions sent.
    patrol = body["patrol"]
    expected = _patrol_by_hand({"off-a"}, hot, res)
    got = {(r["sector"], r["shift"]): r for r in patrol["rows"]}
    assert set(got) == set(expected)
    for key, (secs, metres, hot_secs) in expected.items():
        assert got[key]["hours"] == round(secs / 3600, 3)
        assert got[key]["km"] == pytest.approx(metres / 1000, abs=1e-3)
        assert got[key]["hot_hours"] == round(hot_secs / 3600, 3)
    # and by hand: 120 s after midnight, 240 s on the 10th (gap dropped, two jumps), 120 s
    # across 14:00, 60 s before the period's end
    assert patrol["total"]["hours"] == round(540 / 3600, 3)
    assert got[("st-a-s1", "22-06")]["hours"] == round(180 / 3600, 3)  # 3 Nov and 30 Nov
    assert got[(None, "06-14")]["km"] == 0  # the jump back from outside every sector
    assert got[("st-a-s1", "06-14")]["hot_hours"] == round(60 / 3600, 3)  # 13:59 -> 14:00
    # gaps: the 9 minutes on the 10th and the three between the days of patrol
    assert (patrol["dropped_gaps"], patrol["dropped_jumps"]) == (4, 2)

    # The city: both officers' patrols.
    city = await _report(served, "analyst")
    assert city["scope"] == "city"
    assert city["patrol"]["total"]["hours"] == round(660 / 3600, 3)


async def test_period_roles_csv_and_no_audit(served: Served) -> None:
    await _seed(served)
    week = await _report(served, "chief-a", period="7d")
    assert week["places_period"]["current"]["first"] == "2026-11-24"
    assert week["patrol"]["total"]["hours"] == round(60 / 3600, 3)  # only 30 Nov 23:58
    for who in ("off-a", "admin"):
        refused = await served.client.get("/v1/analysis/compstat", headers=served.auth(who))
        assert refused.status_code == 403
    bad = await served.client.get(
        "/v1/analysis/compstat", params={"period": "1y"}, headers=served.auth("chief-a")
    )
    assert bad.status_code == 400
    other = await served.client.get(
        "/v1/analysis/compstat", params={"station": "st-b"}, headers=served.auth("chief-a")
    )
    assert other.status_code == 403
    body = await _report(served, "chief-a")
    for section, first in (("places", "rank"), ("patrol", "sector"), ("pai", "min_bin")):
        sheet = await served.client.get(
            "/v1/analysis/compstat.csv",
            params={"date": "2026-11-30", "section": section},
            headers=served.auth("chief-a"),
        )
        assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(sheet.text)))
        assert first in table[0] and table[0]["period"] == "28d"
        if section == "places":
            assert [r["cell"] for r in table] == [p["cell"] for p in body["hot_places"]]
        if section == "patrol":
            assert table[-1]["sector"] == "total"
            assert float(table[-1]["hours"]) == body["patrol"]["total"]["hours"]
        if section == "pai":
            assert float(table[0]["pai"]) == body["pai"]["pai"]
    bad_section = await served.client.get(
        "/v1/analysis/compstat.csv", params={"section": "x"}, headers=served.auth("chief-a")
    )
    assert bad_section.status_code == 400
    # Counts, places and patrols only: no personal data, so nothing for the audit log.
    store = served.store
    assert isinstance(store, SQLStore)
    async with store.engine.connect() as conn:
        audited = (await conn.execute(text("SELECT count(*) FROM audit"))).scalar_one()
    assert audited == 0


@pytest.mark.slow
async def test_page_and_pdf_carry_the_figures(served: Served) -> None:
    await _seed(served)
    body = await _report(served, "chief-a")
    await sign_in_web(served, "chief-a", "una-clave-larga-1")
    page = await served.client.get("/compstat", params={"date": "2026-11-30", "lang": "es"})
    assert page.status_code == 200
    assert "Lugares calientes" in page.text and "Arequipa" in page.text
    assert f"{body['pai']['pai']:.2f}" in page.text
    assert 'href="/compstat.pdf?date=2026-11-30"' in page.text
    for path, params in (("/compstat.pdf", {}), ("/compstat", {"format": "pdf"})):
        pdf = await served.client.get(path, params={"date": "2026-11-30", "lang": "es", **params})
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        reader = PdfReader(io.BytesIO(pdf.content))
        words = " ".join((p.extract_text() or "") for p in reader.pages)
        assert "CompStat" in words and "Arequipa" in words and "A1" in words
        assert f"{body['pai']['pai']:.2f}" in words
        total = body["total"]["28d"]["current"]
        assert str(total) in words
        assert "Sector" in words and "22-06" in words
    refused = await served.client.get("/compstat.pdf", headers={"cookie": ""})
    assert refused.status_code in (303, 403)


async def test_csv_names_never_run_as_spreadsheet_formulas(served: Served) -> None:
    """A street named like a formula (OpenStreetMap is open to anyone) reaches the chief's
    sheet as text: the cell is led by an apostrophe (OWASP's CSV injection advice)."""
    layers = _layers()
    layers["streets"]["name"] = '=HYPERLINK("http://x.example","Arequipa")'
    for name, layer in layers.items():
        await store_layer(served.store, name, layer)
    await reload_places(served.app.state.ctx)
    await _seed_incidents_only(served)
    sheet = await served.client.get(
        "/v1/analysis/compstat.csv",
        params={"date": "2026-11-30", "section": "places"},
        headers=served.auth("chief-a"),
    )
    table = list(csv.DictReader(io.StringIO(sheet.text)))
    streets = [r["streets"] for r in table if r["streets"]]
    assert streets and all(s.startswith("'=HYPERLINK") for s in streets), streets
