"""CompStat (issue 14, item 2): counts by category for 7 days, 28 days and the year to date
against the period before and a year earlier, cut in Lima time; the figures equal counts
taken straight from the store, including incidents on either side of a Lima midnight that
falls inside one UTC day. On SQLite and, when RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from sqlalchemy import text

from sync.clock import HybridClock
from sync.store.sql import SQLStore
from tests.server.conftest import Served, served_on_both_backends
from tests.server.test_analysis_tactical import app_settings  # noqa: F401  (120 s requests)
from tests.server.test_openapi import check
from tests.support import batch, incident, new_id

served = served_on_both_backends()  # the app on SQLite, then on PostgreSQL
D = dt.date
LIMA = ZoneInfo("America/Lima")
# Periods ending on Monday 30 November 2026, written out by hand.
SPANS = {
    "7d": ((D(2026, 11, 24), D(2026, 11, 30)), (D(2026, 11, 17), D(2026, 11, 23)),
           (D(2025, 11, 24), D(2025, 11, 30))),
    "28d": ((D(2026, 11, 3), D(2026, 11, 30)), (D(2026, 10, 6), D(2026, 11, 2)),
            (D(2025, 11, 3), D(2025, 11, 30))),
    "ytd": ((D(2026, 1, 1), D(2026, 11, 30)), (D(2025, 2, 1), D(2025, 12, 31)),
            (D(2025, 1, 1), D(2025, 11, 30))),
}  # fmt: skip
ROWS = [
    # 24 Nov 04:30 UTC is 23 Nov in Lima (the previous week); 05:30 UTC the same UTC day
    # is 24 Nov in Lima (this week): a Lima midnight inside one UTC day.
    ("2026-11-24T04:30:00Z", "robo", "off-a"),
    ("2026-11-24T05:30:00Z", "robo", "off-a"),
    # 1 Dec 03:00 UTC is still 30 November, 22:00, in Lima: inside the periods.
    ("2026-12-01T03:00:00Z", "hurto", "off-a"),
    ("2026-12-01T05:00:00Z", "hurto", "off-a"),  # 1 December in Lima: outside
    ("2026-11-03T04:59:00Z", "robo", "off-a"),  # 2 Nov in Lima: the 28 days before
    ("2026-11-03T05:00:00Z", "estafa", "off-a"),  # 3 Nov: in the 28 days
    ("2025-11-28T15:00:00Z", "robo", "off-a"),  # a year earlier
    ("2025-11-24T04:00:00Z", "robo", "off-a"),  # 23 Nov 2025 in Lima: not a year earlier
    ("2026-01-01T04:00:00Z", "hurto", "off-a"),  # 31 Dec 2025 in Lima: not this year
    ("2026-01-01T06:00:00Z", "hurto", "off-a"),  # 1 Jan 2026 in Lima: this year
    ("2025-06-15T15:00:00Z", "estafa", "off-a"),
    ("2026-11-29T15:00:00Z", "robo", "off-b"),  # another station
]


async def _seed(served: Served) -> None:
    clock = HybridClock()
    for officer in ("off-a", "off-b"):
        changes = [
            incident(new_id(), clock, {"category": category, "occurred_at": at})
            for at, category, who in ROWS
            if who == officer
        ]
        answer = await served.client.post(
            "/v1/sync/push", json=batch(changes), headers=served.auth(officer)
        )
        assert answer.status_code == 200, answer.text


async def _from_store(served: Served, station: str) -> dict[str, dict[str, list[int]]]:
    """Counts per category and period straight from the table, dates taken in Lima."""
    store = served.store
    assert isinstance(store, SQLStore)
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT category, occurred_s FROM incident_point"
                    " WHERE station_id = :s AND NOT deleted"
                ),
                {"s": station},
            )
        ).all()
    out: dict[str, dict[str, list[int]]] = {}
    for category, occurred in rows:
        day = dt.datetime.fromtimestamp(int(occurred), LIMA).date()
        for name, spans in SPANS.items():
            figures = out.setdefault(category, {}).setdefault(name, [0, 0, 0])
            for i, (first, last) in enumerate(spans):
                figures[i] += first <= day <= last
    return out


async def test_figures_equal_the_store_cut_in_lima(served: Served) -> None:
    await _seed(served)
    answer = await served.client.get(
        "/v1/analysis/compstat", params={"date": "2026-11-30"}, headers=served.auth("chief-a")
    )
    assert answer.status_code == 200, answer.text
    body = check(answer, "/v1/analysis/compstat", "get")
    assert body["scope"] == "station" and body["stations"] == ["st-a"]
    for period in body["periods"]:
        spans = [
            (period[k]["first"], period[k]["last"]) for k in ("current", "previous", "last_year")
        ]
        assert spans == [(a.isoformat(), b.isoformat()) for a, b in SPANS[period["name"]]]
    assert period["current"]["start"] == 1_767_243_600  # 2026-01-01T05:00:00Z
    direct = await _from_store(served, "st-a")
    got = {
        row["category"]: {
            name: [f["current"], f["previous"], f["last_year"]]
            for name, f in row["periods"].items()
        }
        for row in body["rows"]
    }
    expected = {cat: periods for cat, periods in direct.items() if any(map(any, periods.values()))}
    assert {c: p for c, p in got.items() if any(map(any, p.values()))} == expected
    # the hand count, for the boundary cases
    assert got["robo"]["7d"] == [1, 1, 1]
    assert got["hurto"]["7d"] == [1, 0, 0]
    assert got["robo"]["28d"][:2] == [2, 1] and got["estafa"]["28d"][0] == 1
    assert got["hurto"]["ytd"][0] == 2
    robo = next(r for r in body["rows"] if r["category"] == "robo")["periods"]["28d"]
    assert (robo["change"], robo["change_pct"]) == (1, 100.0)
    total = body["total"]["7d"]
    assert (total["current"], total["previous"], total["last_year"]) == (2, 1, 1)


async def test_csv_and_scope(served: Served) -> None:
    await _seed(served)
    answer = await served.client.get(
        "/v1/analysis/compstat.csv", params={"date": "2026-11-30"}, headers=served.auth("chief-a")
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    robo = {r["period"]: r for r in rows if r["category"] == "robo"}
    assert robo["7d"]["current"] == "1" and robo["7d"]["first"] == "2026-11-24"
    assert rows[-1]["category"] == "total" and rows[-1]["period"] == "ytd"
    city = await served.client.get(
        "/v1/analysis/compstat", params={"date": "2026-11-30"}, headers=served.auth("analyst")
    )
    body = check(city, "/v1/analysis/compstat", "get")
    assert body["scope"] == "city" and body["total"]["7d"]["current"] == 3
    refused = await served.client.get(
        "/v1/analysis/compstat", params={"station": "st-b"}, headers=served.auth("chief-a")
    )
    assert refused.status_code == 403
    officer = await served.client.get("/v1/analysis/compstat", headers=served.auth("off-a"))
    assert officer.status_code == 403
    bad = await served.client.get(
        "/v1/analysis/compstat", params={"date": "30/11/2026"}, headers=served.auth("analyst")
    )
    assert bad.status_code == 400
    district = await served.client.get(
        "/v1/analysis/compstat", params={"district": "150101"}, headers=served.auth("analyst")
    )
    assert check(district, "/v1/analysis/compstat", "get")["scope"] == "district"
