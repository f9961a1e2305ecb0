"""The public API: privacy-safe summaries, no sign-in (``/public/...``).

Every number here is read from the months frozen by ``server.maps.public_summary`` when they were
first published, so the page and every download show the very same suppressed numbers, and
a published month never changes. There are no parameters but a month among the published
ones: no windows, no polygons, no filters.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import h3
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.public import month_label
from server.answers import answer_of
from server.answers.public import PublicDistricts, PublicMonths, PublicTrend
from server.context import ctx
from server.maps.public_summary import PublicCache, Summary, build_summary
from server.maps.public_summary import rules_json as _rules_json
from server.routes.common import json_response
from sync.clock import now_ms

__all__ = ["Summary", "build_summary", "month_label", "routes", "summary"]

CACHE_KEY = "public_cache"


async def summary(request: Request) -> Summary:
    """The summary of the current data version and day (one rebuild at a time)."""
    c = ctx(request)
    cache: PublicCache | None = getattr(request.app.state, CACHE_KEY, None)
    if cache is None:
        cache = PublicCache()
        setattr(request.app.state, CACHE_KEY, cache)
    key = (await c.reads.last_seq(), now_ms() // 86_400_000)
    return await cache.get(key, lambda: build_summary(c.reads, c.settings.public, now_ms() // 1000))


# --- shapes of the answers (all read from the frozen months) ------------------------------


def district_rows(s: Summary, m: int) -> list[dict[str, Any]]:
    """One row per district as frozen: counts by category (None = withheld), total, rate."""
    rows: list[dict[str, Any]] = s.tables[m]["districts"]
    return rows


def totals_row(s: Summary, m: int) -> dict[str, Any]:
    totals: dict[str, Any] = s.tables[m]["totals"]
    return totals


def month_rules(s: Summary, m: int) -> dict[str, Any]:
    """The rules a month was published under."""
    rules: dict[str, Any] = s.tables[m]["rules"]
    return rules


def trend(s: Summary) -> dict[str, Any]:
    """Monthly totals by category: the frozen totals row of each month (a category a month
    has no column for had no incident in it)."""
    series: dict[str, list[int | None]] = {c: [] for c in (*s.categories, "total")}
    for m in s.months:
        row = totals_row(s, m)
        for c in s.categories:
            series[c].append(row["counts"].get(c, 0))
        series["total"].append(row["total"])
    return {"months": [month_label(m) for m in s.months], "series": series}


def rules_json(s: Summary) -> dict[str, Any]:
    """The rules in force (those the next months will be published under)."""
    return _rules_json(s.rules, s.per)


def cell_features(s: Summary, m: int) -> list[dict[str, Any]]:
    out = []
    for cell, count in s.cells[m]["cells"]:
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
        out.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "properties": {"cell": cell, "count": count},
            }
        )
    return out


# --- endpoints ---------------------------------------------------------------------------

PUBLIC_HEADERS = {"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"}


def _json(data: Any, media_type: str = "application/json") -> Response:
    answer = json_response(data, headers=PUBLIC_HEADERS)
    answer.headers["content-type"] = media_type
    return answer


async def months(request: Request) -> Response:
    s = await summary(request)
    listed = {
        "months": [month_label(m) for m in s.months],
        "categories": list(s.categories),
        "districts": [
            {"code": c, "name": s.names[c], "population": int(p)}
            for c, p in zip(s.districts, s.population, strict=True)
        ],
        "rules": rules_json(s),
    }
    return _json(answer_of(PublicMonths, listed))


async def districts_json(request: Request) -> Response:
    s = await summary(request)
    return _json(answer_of(PublicDistricts, s.tables[s.month(request.query_params.get("month"))]))


def totals_rate(s: Summary, m: int) -> float | None:
    """The city's rate for a month: its published total over the published populations of
    its districts (arithmetic on published numbers, nothing more). None when the total is
    withheld or a district's population is unknown (the rate would be over part of the
    city's people but all of its incidents)."""
    total, per = totals_row(s, m)["total"], month_rules(s, m)["rate_per"]
    population = [row["population"] for row in district_rows(s, m)]
    if total is None or not population or min(population) <= 0:
        return None
    rate: float = round(total * per / sum(population), 2)
    return rate


def csv_language(request: Request) -> str:
    """The CSV headers' language: ``?lang=`` (the page's links carry it), else the server's
    default. Never the language cookie: these answers are cached publicly by URL."""
    lang = request.query_params.get("lang")
    return lang if lang in ("es", "en") else ctx(request).settings.web.default_language


def _blank(value: Any) -> Any:
    return "" if value is None else value


def districts_csv_text(s: Summary, m: int, lang: str = "es") -> str:
    """One month's table for spreadsheets: headers in ``lang``, withheld counts empty, the
    totals row last (with the population it covers and the city's rate)."""
    # Imported here: server.web imports this module (a cycle at import time otherwise).
    from server.web.public_text import TEXT, csv_headers

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    categories, per = s.tables[m]["categories"], month_rules(s, m)["rate_per"]
    writer.writerow(csv_headers(lang, categories, per))
    label = month_label(m)
    rows = district_rows(s, m)
    for row in rows:
        counts = [_blank(v) for v in row["counts"].values()]
        total, rate = _blank(row["total"]), _blank(row["rate"])
        writer.writerow(
            [label, row["district"], row["name"], row["population"], *counts, total, rate]
        )
    tot = totals_row(s, m)
    population = sum(row["population"] for row in rows)
    counts = [_blank(v) for v in tot["counts"].values()]
    total, rate = _blank(tot["total"]), _blank(totals_rate(s, m))
    writer.writerow([label, "", TEXT[lang]["total_row"], population, *counts, total, rate])
    return out.getvalue()


def csv_response(text: str, filename: str) -> Response:
    """A CSV download: UTF-8 with a byte order mark, so spreadsheet programs read the
    accents right."""
    headers = {**PUBLIC_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response("\ufeff" + text, headers=headers, media_type="text/csv")


async def districts_csv(request: Request) -> Response:
    s = await summary(request)
    m = s.month(request.query_params.get("month"))
    text = districts_csv_text(s, m, csv_language(request))
    return csv_response(text, f"ronda-distritos-{month_label(m)}.csv")


async def districts_geojson(request: Request) -> Response:
    s = await summary(request)
    m = s.month(request.query_params.get("month"))
    features = []
    for row in district_rows(s, m):
        props = {k: v for k, v in row.items() if k != "counts"}
        props.update(row["counts"])
        props["month"] = month_label(m)
        # the polygon of the district layer now (a boundary, not a count)
        geometry = s.geometry.get(row["district"])
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return _json({"type": "FeatureCollection", "features": features}, "application/geo+json")


async def cells_geojson(request: Request) -> Response:
    s = await summary(request)
    m = s.month(request.query_params.get("month"))
    body = {
        "type": "FeatureCollection",
        "month": month_label(m),
        "resolution": s.cells[m]["resolution"],
        "features": cell_features(s, m),
    }
    return _json(body, "application/geo+json")


async def trend_json(request: Request) -> Response:
    return _json(answer_of(PublicTrend, trend(await summary(request))))


async def trend_csv(request: Request) -> Response:
    from server.web.public_text import trend_headers  # see districts_csv_text

    s = await summary(request)
    data = trend(s)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(trend_headers(csv_language(request), s.categories))
    for i, label in enumerate(data["months"]):
        values = [data["series"][c][i] for c in (*s.categories, "total")]
        writer.writerow([label, *map(_blank, values)])
    return csv_response(out.getvalue(), "ronda-tendencia.csv")


routes = [
    Route("/public/months.json", months, methods=["GET"]),
    Route("/public/districts.json", districts_json, methods=["GET"]),
    Route("/public/districts.csv", districts_csv, methods=["GET"]),
    Route("/public/districts.geojson", districts_geojson, methods=["GET"]),
    Route("/public/cells.geojson", cells_geojson, methods=["GET"]),
    Route("/public/trend.json", trend_json, methods=["GET"]),
    Route("/public/trend.csv", trend_csv, methods=["GET"]),
]
