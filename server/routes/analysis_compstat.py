"""CompStat: incidents by category for the last 7 days, the last 28 days and the year to
date, against the period before and the same dates a year earlier, cut in Lima time;
for a station, a district or the whole city. JSON and CSV.

Chiefs get their station; analysts the city, one station (``station``) or one district
(``district``: where placement put the incidents). Counts only: no personal data.

For one of the periods (``period``, default 28d) the report adds the top hot places,
patrol hours and kilometres per sector and shift, and the PAI of the previous period's
hotspot map (``server.routes.analysis_compstat_places``). The CSV gives one table per
``section``: ``counts`` (default), ``places``, ``patrol`` or ``pai``.
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

from geo.analysis.compstat import PERIODS, Comparison, Span, change, comparisons, local_today
from server.answers import answer_of
from server.answers.compstat import CompstatAnswer
from server.auth import require
from server.context import ctx
from server.csv_cells import cell
from server.routes.analysis_compstat_places import places_and_patrols
from server.routes.analysis_params import parse_categories, stations_for
from server.routes.analysis_queries import counts_by_category
from server.routes.common import json_response
from sync.errors import InvalidRequest
from sync.store.records import Identity, PointQuery

ROLES = ("chief", "analyst")
DISTRICT = re.compile(r"\d{6}")


def _span_json(span: Span) -> dict[str, Any]:
    return {
        "first": span.first.isoformat(),
        "last": span.last.isoformat(),
        "start": span.start_s,
        "end": span.end_s,
    }


def _reference(request: Request, utc_offset_s: int) -> dt.date:
    raw = request.query_params.get("date")
    if not raw:
        return local_today(time.time(), utc_offset_s)
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
    focus = request.query_params.get("period") or "28d"
    if focus not in PERIODS:
        raise InvalidRequest("period is 7d, 28d or ytd", {"period": focus})
    # Local days by the server's one rule (public.utc_offset_minutes), as the pages cut them.
    offset_s = c.settings.public.utc_offset_minutes * 60
    reference = _reference(request, offset_s)
    periods = comparisons(reference, offset_s)
    windows = [
        (span.start_s, span.end_s) for p in periods for span in (p.current, p.previous, p.last_year)
    ]
    counts = await counts_by_category(
        c.store, PointQuery(stations, None, None, categories), windows, district
    )
    rows = [_row(name, values, periods) for name, values in sorted(counts.items())]
    totals = [sum(values[i] for values in counts.values()) for i in range(len(windows))]
    scope = "district" if district else ("city" if stations is None else "station")
    chosen = next(p for p in periods if p.name == focus)
    extras = await places_and_patrols(request, stations, district, categories, chosen)
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
        "places_period": {
            "name": chosen.name,
            "current": _span_json(chosen.current),
            "previous": _span_json(chosen.previous),
        },
        **extras,
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
    return json_response(answer_of(CompstatAnswer, await compstat_report(request, who)))


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


PLACES_COLUMNS = (
    "rank",
    "cell",
    "streets",
    "sector",
    "sector_name",
    "count",
    "previous_count",
    "change",
    "change_pct",
    "gi_bin",
    "z",
    "lon",
    "lat",
)
PATROL_COLUMNS = ("sector", "sector_name", "shift", "hours", "km", "hot_hours", "hot_share")
PAI_COLUMNS = (
    "min_bin",
    "hot_cells",
    "area_hot_km2",
    "area_total_km2",
    "n_incidents",
    "n_in_hotspots",
    "n_outside_area",
    "hit_rate",
    "pai",
)
SECTIONS = ("counts", "places", "patrol", "pai")


def csv_section(request: Request) -> str:
    section = request.query_params.get("section") or "counts"
    if section not in SECTIONS:
        raise InvalidRequest("section is counts, places, patrol or pai", {"section": section})
    return section


async def compstat_csv(request: Request) -> Response:
    who = await require(request, *ROLES)
    section = csv_section(request)
    return csv_response(await compstat_report(request, who), section)


def _cell(value: Any) -> Any:
    return cell(value)


def _section_rows(report: dict[str, Any], section: str) -> tuple[tuple[str, ...], list[list[Any]]]:
    """Columns and rows of one of the CSV's other tables (periods first, then the figures)."""
    if section == "places":
        rows = [
            [
                rank,
                p["cell"],
                "; ".join(p["streets"]),
                (p["sector"] or {}).get("code"),
                (p["sector"] or {}).get("name"),
                *(p[k] for k in ("count", "previous_count", "change", "change_pct")),
                p["gi_bin"],
                p["z"],
                *p["center"],
            ]
            for rank, p in enumerate(report["hot_places"], 1)
        ]
        return PLACES_COLUMNS, rows
    if section == "patrol":
        patrol = report["patrol"]
        rows = [[r[k] for k in PATROL_COLUMNS] for r in patrol["rows"]]
        rows.append(["total", None, None, *(patrol["total"][k] for k in PATROL_COLUMNS[3:])])
        return PATROL_COLUMNS, rows
    pai = report["pai"]
    return PAI_COLUMNS, ([[pai[k] for k in PAI_COLUMNS]] if pai else [])


def csv_response(report: dict[str, Any], section: str = "counts") -> Response:
    """The report as CSV: one row per category and period, then the totals; or one of the
    other tables (``section``), each row led by the period it is about."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    name = f"compstat-{report['scope']}-{report['date']}"
    if section != "counts":
        columns, rows = _section_rows(report, section)
        focus = report["places_period"]
        writer.writerow(("period", "first", "last", *columns))
        span = (focus["name"], focus["current"]["first"], focus["current"]["last"])
        for row in rows:
            writer.writerow([*span, *(_cell(v) for v in row)])
        return _csv(buffer.getvalue(), f"{name}-{section}.csv")
    spans = {p["name"]: p["current"] for p in report["periods"]}
    writer.writerow(CSV_COLUMNS)
    for row in [*report["rows"], {"category": "total", "periods": report["total"]}]:
        for period, figures in row["periods"].items():
            writer.writerow(
                [
                    cell(row["category"]),
                    period,
                    spans[period]["first"],
                    spans[period]["last"],
                    *("" if figures[k] is None else figures[k] for k in CSV_COLUMNS[4:]),
                ]
            )
    return _csv(buffer.getvalue(), f"{name}.csv")


def _csv(body: str, name: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/v1/analysis/compstat", compstat, methods=["GET"]),
    Route("/v1/analysis/compstat.csv", compstat_csv, methods=["GET"]),
]
