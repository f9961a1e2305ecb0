"""CompStat: incidents by category for the last 7 days, the last 28 days and the year to
date, against the period before and the same dates a year earlier, cut in Lima time;
for a station, a district or the whole city. JSON and CSV.

Chiefs get their station; analysts the city, one station (``station``) or one district
(``district``: where placement put the incidents). Counts only: no personal data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.compstat import Comparison, Span, change, comparisons, lima_today
from server.auth import require
from server.context import ctx
from server.routes.analysis_params import parse_categories, stations_for
from server.routes.analysis_queries import counts_by_category
from server.routes.common import json_response
from sync.errors import InvalidRequest
from sync.store.base import Identity, PointQuery

ROLES = ("chief", "analyst")
DISTRICT = re.compile(r"\d{6}")


def _span_json(span: Span) -> dict[str, Any]:
    return {
        "first": span.first.isoformat(),
        "last": span.last.isoformat(),
        "start": span.start_s,
        "end": span.end_s,
    }


def _reference(request: Request) -> dt.date:
    raw = request.query_params.get("date")
    if not raw:
        return lima_today(time.time())
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidRequest("date must be a date such as 2026-11-30", {"date": raw}) from exc
    if not 1971 <= day.year <= 9998:  # a year earlier and the day after must exist
        raise InvalidRequest("date must be within the years 1971..9998", {"date": raw})
    return day


async def compstat_report(request: Request, who: Identity) -> dict[str, Any]:
    """The report as a dict (shared by the JSON and CSV answers and the web page)."""
    c = ctx(request)
    stations = stations_for(who, c, request)
    district = request.query_params.get("district") or None
    if district is not None and not DISTRICT.fullmatch(district):
        raise InvalidRequest("district is a 6-digit UBIGEO", {"district": district})
    categories = parse_categories(request)
    reference = _reference(request)
    periods = comparisons(reference)
    windows = [
        (span.start_s, span.end_s) for p in periods for span in (p.current, p.previous, p.last_year)
    ]
    counts = await counts_by_category(
        c.store, PointQuery(stations, None, None, categories), windows, district
    )
    rows = [_row(name, values, periods) for name, values in sorted(counts.items())]
    totals = [sum(values[i] for values in counts.values()) for i in range(len(windows))]
    scope = "district" if district else ("city" if stations is None else "station")
    return {
        "date": reference.isoformat(),
        "scope": scope,
        "stations": stations,
        "district": district,
        "categories": categories,
        "periods": [
            {
                "name": p.name,
                "current": _span_json(p.current),
                "previous": _span_json(p.previous),
                "last_year": _span_json(p.last_year),
            }
            for p in periods
        ],
        "rows": rows,
        "total": _row("total", totals, periods)["periods"],
    }


def _row(category: str, values: list[int], periods: list[Comparison]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, p in enumerate(periods):
        current, previous, last_year = values[3 * i : 3 * i + 3]
        diff, pct = change(current, previous)
        diff_ly, pct_ly = change(current, last_year)
        out[p.name] = {
            "current": current,
            "previous": previous,
            "change": diff,
            "change_pct": pct,
            "last_year": last_year,
            "change_last_year": diff_ly,
            "change_last_year_pct": pct_ly,
        }
    return {"category": category, "periods": out}


async def compstat(request: Request) -> Response:
    who = await require(request, *ROLES)
    return json_response(await compstat_report(request, who))


CSV_COLUMNS = (
    "category",
    "period",
    "first",
    "last",
    "current",
    "previous",
    "change",
    "change_pct",
    "last_year",
    "change_last_year",
    "change_last_year_pct",
)


async def compstat_csv(request: Request) -> Response:
    who = await require(request, *ROLES)
    return csv_response(await compstat_report(request, who))


def csv_response(report: dict[str, Any]) -> Response:
    """The report as CSV: one row per category and period, then the totals."""
    spans = {p["name"]: p["current"] for p in report["periods"]}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in [*report["rows"], {"category": "total", "periods": report["total"]}]:
        for name, figures in row["periods"].items():
            writer.writerow(
                [
                    row["category"],
                    name,
                    spans[name]["first"],
                    spans[name]["last"],
                    *("" if figures[k] is None else figures[k] for k in CSV_COLUMNS[4:]),
                ]
            )
    name = f"compstat-{report['scope']}-{report['date']}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/v1/analysis/compstat", compstat, methods=["GET"]),
    Route("/v1/analysis/compstat.csv", compstat_csv, methods=["GET"]),
]
