"""What the chief's map asks the server (issue 15): the quick periods and the period before,
cut at Lima midnight; empty layers that say why; the incident detail as people read it,
with personal data still restricted by role and audited. On SQLite and, when
RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import shapely

from server.web.filters import presets, previous_period
from sync.clock import HybridClock
from sync.store.records import Boundary
from tests.server.conftest import Served, served_on_both_backends, sign_in_web
from tests.support import batch, incident, new_id

PASSWORD = "una-clave-larga-1"
D = dt.date


served = served_on_both_backends()


async def _sign_in(served: Served, officer: str) -> None:
    await sign_in_web(served, officer, PASSWORD)


async def _push(served: Served, rows: list[tuple[str, str]], pii: Any = None) -> list[str]:
    """Incidents at (UTC instant, category) near one point; their ids."""
    clock, changes, ids = HybridClock(), [], []
    for i, (at, category) in enumerate(rows):
        rid = new_id()
        fields = {
            "category": category,
            "occurred_at": at,
            "status": "closed",
            "location": {"lon": -77.03 + i * 1e-4, "lat": -12.05, "accuracy_m": 10},
            "description": "Denuncia de Luis Ficticio",
        }
        changes.append(incident(rid, clock, fields, pii=pii))
        ids.append(rid)
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.status_code == 200, answer.text
    assert all(r["status"] == "applied" for r in answer.json()["results"])
    return ids


def test_quick_periods_end_on_the_reference_day() -> None:
    # Sunday 5 October 2025: the week began on Monday 29 September
    assert presets(D(2025, 10, 5)) == {
        "week": (D(2025, 9, 29), D(2025, 10, 5)),
        "d28": (D(2025, 9, 8), D(2025, 10, 5)),
        "last_month": (D(2025, 9, 1), D(2025, 9, 30)),
        "ytd": (D(2025, 1, 1), D(2025, 10, 5)),
    }
    # in January, last month is December of the year before
    assert presets(D(2026, 1, 14))["last_month"] == (D(2025, 12, 1), D(2025, 12, 31))
    assert presets(D(2026, 1, 14))["week"] == (D(2026, 1, 12), D(2026, 1, 14))


def test_the_previous_period() -> None:
    # whole months against as many whole months before (not 30 days)
    assert previous_period(D(2025, 3, 1), D(2025, 3, 31)) == (D(2025, 2, 1), D(2025, 2, 28))
    assert previous_period(D(2025, 1, 1), D(2025, 2, 28)) == (D(2024, 11, 1), D(2024, 12, 31))
    # otherwise as many days just before
    assert previous_period(D(2025, 9, 8), D(2025, 10, 5)) == (D(2025, 8, 11), D(2025, 9, 7))
    assert previous_period(D(2025, 10, 5), D(2025, 10, 5)) == (D(2025, 10, 4), D(2025, 10, 4))


async def test_comparison_cuts_periods_at_lima_midnight(served: Served) -> None:
    await _push(
        served,
        [
            ("2026-11-03T15:00:00Z", "robo"),
            ("2026-11-20T15:00:00Z", "robo"),
            ("2026-11-21T15:00:00Z", "hurto"),
            # 1 December 03:00 UTC is still 30 November, 22:00, in Lima: November's
            ("2026-12-01T03:00:00Z", "hurto"),
            # 1 November 04:59 UTC is 31 October, 23:59, in Lima: October's
            ("2026-11-01T04:59:00Z", "robo"),
            ("2026-10-15T15:00:00Z", "estafa"),
        ],
    )
    await _sign_in(served, "chief-a")
    answer = await served.client.get(
        "/web/data/summary.json", params={"since": "2026-11-01", "until": "2026-11-30"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["period"] == {
        "since": "2026-11-01",
        "until": "2026-11-30",
        "total": 4,
        "by_category": {"hurto": 2, "robo": 2},
    }
    assert body["previous"] == {
        "since": "2026-10-01",
        "until": "2026-10-31",
        "total": 2,
        "by_category": {"estafa": 1, "robo": 1},
    }
    only_robo = await served.client.get(
        "/web/data/summary.json",
        params={"since": "2026-11-01", "until": "2026-11-30", "cat": "robo"},
    )
    assert only_robo.json()["previous"]["total"] == 1
    reversed_dates = await served.client.get(
        "/web/data/summary.json", params={"since": "2026-11-30", "until": "2026-11-01"}
    )
    assert reversed_dates.status_code == 400


async def test_empty_layers_say_why(served: Served) -> None:
    await _push(served, [("2026-11-03T15:00:00Z", "robo"), ("2026-11-04T15:00:00Z", "robo")])
    await _sign_in(served, "chief-a")
    window = {"since": "2026-11-01", "until": "2026-11-30"}
    hot = (await served.client.get("/web/data/hotspots.geojson", params=window)).json()
    assert hot["features"] == []
    assert hot["reason"]["code"] == "too_few_for_gi"
    assert hot["reason"]["text"] == (
        "0 puntos calientes: hay 2 incidentes y Gi* necesita al menos 3 para comparar celdas."
    )
    nothing = {"since": "2026-06-01", "until": "2026-06-30"}
    for layer in ("incidents", "hotspots", "emerging", "density"):
        body = (await served.client.get(f"/web/data/{layer}.geojson", params=nothing)).json()
        assert body["features"] == [] and body["reason"]["code"] == "no_incidents", layer
    tracks = (await served.client.get("/web/data/tracks.geojson", params=window)).json()
    assert tracks["reason"]["code"] == "no_patrols"
    assert "recorridos" in tracks["reason"]["text"]
    dosage = (await served.client.get("/web/data/dosage.geojson", params=window)).json()
    assert dosage["reason"]["code"] == "no_patrols"
    english = await served.client.get("/web/data/tracks.geojson", params={**window, "lang": "en"})
    assert english.json()["reason"]["text"] == "No patrol tracks were recorded in this period."
    drawn = (await served.client.get("/web/data/incidents.geojson", params=window)).json()
    assert len(drawn["features"]) == 2 and "reason" not in drawn


PII = {
    "victims": [{"name": "Luis Ficticio", "dni": "99175178", "role": "agraviado"}],
    "suspects": [{"name": "María Prueba", "dni": "99311036", "role": "presunto_autor"}],
}


async def _pii_views(served: Served) -> int:
    events = await served.store.audit_events(0, 1000)
    return sum(1 for _, e in events if e.action == "view_pii")


async def test_incident_detail_reads_in_spanish_and_lima_time(served: Served) -> None:
    (rid,) = await _push(served, [("2026-11-11T03:15:00Z", "robo")], pii=PII)
    await _sign_in(served, "chief-a")
    before = await _pii_views(served)
    body = (await served.client.get(f"/web/data/incident/{rid}")).json()
    assert body["fields"]["description"] == "Denuncia de Luis Ficticio"
    readable = body["readable"]
    assert readable["occurred"] == "10/11/2026 22:15"  # 03:15 UTC is 22:15 the day before
    assert readable["status"] == "cerrado"
    assert readable["category"] == "Robo"
    assert readable["station"] == "Comisaría A"
    assert readable["recorded_by"] == {
        "officer_id": "off-a",
        "officer_name": "Ana Quispe",
        "device_id": served.people.officer_a.device_id,
        "device_name": "phone-off-a",
    }
    assert body["people"] == [
        {"group": "Víctimas", "name": "Luis Ficticio", "dni": "99175178", "role": "agraviado"},
        {
            "group": "Sospechosos",
            "name": "María Prueba",
            "dni": "99311036",
            "role": "presunto autor",
        },
    ]
    assert await _pii_views(served) == before + 1  # audited exactly as before
    english = (await served.client.get(f"/web/data/incident/{rid}", params={"lang": "en"})).json()
    assert english["readable"]["status"] == "closed"
    assert english["people"][0]["group"] == "Victims"
    # a role without personal data gets neither the data nor the rows, and no audit
    await _sign_in(served, "analyst")
    seen = await _pii_views(served)
    other = (await served.client.get(f"/web/data/incident/{rid}")).json()
    assert other["pii_allowed"] is False
    assert "pii" not in other and "people" not in other
    assert other["readable"]["status"] == "cerrado"
    assert "description" not in other["fields"]  # free text names people too
    assert await _pii_views(served) == seen


async def test_streets_and_sectors_only_around_ones_own_stations(served: Served) -> None:
    def line(x: float, code: str, layer: str) -> Boundary:
        geometry = shapely.LineString([(x, -12.05), (x + 0.001, -12.05)])
        return Boundary(layer, code, code, {}, shapely.to_wkb(geometry))

    area = shapely.box(-77.04, -12.06, -77.02, -12.04)
    await served.store.replace_boundaries(
        "stations", [Boundary("stations", "st-a", "Comisaría A", {}, shapely.to_wkb(area))]
    )
    await served.store.replace_boundaries(
        "streets",
        [
            line(-77.03, "inside", "streets"),
            line(-77.045, "just-across", "streets"),  # 500 m beyond the station's edge
            line(-76.90, "far", "streets"),  # 13 km away
        ],
    )
    await _sign_in(served, "chief-a")
    answer = await served.client.get("/web/data/base/streets.geojson")
    assert "Cookie" in answer.headers["vary"]  # a browser must not keep one officer's for another
    mine = answer.json()
    assert sorted(f["properties"]["code"] for f in mine["features"]) == ["inside", "just-across"]
    await _sign_in(served, "analyst")  # every station: the whole city
    everyone = (await served.client.get("/web/data/base/streets.geojson")).json()
    assert len(everyone["features"]) == 3
