"""The public API: privacy-safe summaries, no sign-in (``/public/...``).

Everything here is computed by ``geo.public`` from one cached ``Summary`` per data version,
so the page and every download show the very same suppressed numbers. There are no
parameters but a month among the published ones: no windows, no polygons, no filters.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import shapely
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.cells import h3_cells
from geo.public import (
    Rules,
    Table,
    district_table,
    generalise_cells,
    month_bounds,
    month_index,
    month_label,
    parse_month,
    published_months,
    rates,
)
from server.context import ctx
from server.routes.common import json_response
from server.settings import PublicSettings
from sync.clock import now_ms
from sync.errors import NotFound
from sync.store.base import PointQuery, Store

CACHE_KEY = "public_summary"


@dataclass(frozen=True)
class Summary:
    """Every published number, for one version of the data and one day."""

    rules: Rules
    per: int
    months: tuple[int, ...]
    districts: tuple[str, ...]
    names: dict[str, str]
    population: np.ndarray
    geometry: dict[str, Any]  # district code -> GeoJSON geometry
    categories: tuple[str, ...]
    tables: dict[int, Table]
    cells: dict[int, tuple[np.ndarray, np.ndarray]]

    def month(self, label: str | None) -> int:
        """A published month by label (the latest when None); NotFound otherwise."""
        if label is None and self.months:
            return self.months[-1]
        index = parse_month(label or "")
        if index is None or index not in self.tables:
            raise NotFound(
                "that month is not published",
                {"month": (label or "")[:10], "published": [month_label(m) for m in self.months]},
            )
        return index


def rules_of(settings: PublicSettings) -> Rules:
    return Rules(
        k=settings.k,
        delay_days=settings.delay_days,
        months=settings.months,
        utc_offset_s=settings.utc_offset_minutes * 60,
        cell_resolution=settings.cell_resolution,
        cell_rounding=settings.cell_rounding,
    )


async def summary(request: Request) -> Summary:
    """The cached summary, rebuilt when the data or the day changes."""
    c = ctx(request)
    key = (await c.store.last_seq(), now_ms() // 86_400_000)
    cached = getattr(request.app.state, CACHE_KEY, None)
    if cached is not None and cached[0] == key:
        result: Summary = cached[1]
        return result
    memo = getattr(request.app.state, "public_memo", None)
    if memo is None or len(memo) > 1000:
        memo = {}
        request.app.state.public_memo = memo
    built = await build_summary(c.store, c.settings.public, now_ms() // 1000, memo)
    setattr(request.app.state, CACHE_KEY, (key, built))
    return built


async def build_summary(
    store: Store, settings: PublicSettings, now_s: int, memo: dict[Any, Any] | None = None
) -> Summary:
    """Read the counts the public may see and apply the rules (``geo.public``)."""
    rules = rules_of(settings)
    boundaries = await store.boundaries("districts")
    districts = tuple(b.code for b in boundaries)
    first = await store.points(PointQuery(), ("occurred_s",))
    times = first["occurred_s"]
    first_s, last_s = (int(times.min()), int(times.max())) if times.size else (None, None)
    months = published_months(now_s, first_s, rules, last_s)
    empty = np.zeros(0, dtype=np.int64)
    cols: dict[str, np.ndarray] = {}
    if months:
        since = month_bounds(months[0], rules.utc_offset_s)[0]
        until = month_bounds(months[-1], rules.utc_offset_s)[1]
        query = PointQuery(since_s=since, until_s=until)
        cols = await store.points(query, ("category", "occurred_s", "district", "lon", "lat"))
    categories = tuple(sorted(set(cols.get("category", empty).tolist())))
    tables, cells = await asyncio.to_thread(
        _tables, cols, months, districts, categories, rules, memo
    )
    return Summary(
        rules=rules,
        per=settings.rate_per,
        months=tuple(months),
        districts=districts,
        names={b.code: b.name for b in boundaries},
        population=np.array([float(b.props.get("population") or 0) for b in boundaries]),
        geometry={
            b.code: shapely.geometry.mapping(shapely.from_wkb(b.geometry)) for b in boundaries
        },
        categories=categories,
        tables=tables,
        cells=cells,
    )


def _tables(
    cols: dict[str, np.ndarray],
    months: list[int],
    districts: tuple[str, ...],
    categories: tuple[str, ...],
    rules: Rules,
    memo: dict[Any, Any] | None,
) -> tuple[dict[int, Table], dict[int, tuple[np.ndarray, np.ndarray]]]:
    tables: dict[int, Table] = {}
    cells: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not months:
        return tables, cells
    month = month_index(cols["occurred_s"], rules.utc_offset_s)
    coarse = h3_cells(cols["lon"], cols["lat"], rules.cell_resolution)
    for m in months:
        sel = month == m
        tables[m] = district_table(
            cols["district"][sel], cols["category"][sel], districts, categories, rules.k, memo
        )
        cells[m] = generalise_cells(coarse[sel], rules.k, rules.cell_rounding)
    return tables, cells


# --- shapes of the answers ---------------------------------------------------------------


def _n(value: float) -> int | None:
    return None if np.isnan(value) else int(value)


def district_rows(s: Summary, m: int) -> list[dict[str, Any]]:
    """One row per district: counts by category (None = withheld), total, rate."""
    table = s.tables[m]
    shown = table.published()
    rate = rates(table.counts[:-1, -1], table.hidden[:-1, -1], s.population, s.per)
    rows = []
    for i, code in enumerate(s.districts):
        rows.append(
            {
                "district": code,
                "name": s.names[code],
                "population": int(s.population[i]),
                "counts": {c: _n(shown[i, j]) for j, c in enumerate(s.categories)},
                "total": _n(shown[i, -1]),
                "rate": None if np.isnan(rate[i]) else round(float(rate[i]), 2),
            }
        )
    return rows


def totals_row(s: Summary, m: int) -> dict[str, Any]:
    shown = s.tables[m].published()
    return {
        "counts": {c: _n(shown[-1, j]) for j, c in enumerate(s.categories)},
        "total": _n(shown[-1, -1]),
    }


def trend(s: Summary) -> dict[str, Any]:
    """Monthly totals by category: the totals row of each month's suppressed table."""
    series: dict[str, list[int | None]] = {c: [] for c in (*s.categories, "total")}
    for m in s.months:
        row = totals_row(s, m)
        for c in s.categories:
            series[c].append(row["counts"][c])
        series["total"].append(row["total"])
    return {"months": [month_label(m) for m in s.months], "series": series}


def rules_json(s: Summary) -> dict[str, Any]:
    r = s.rules
    return {
        "k": r.k,
        "delay_days": r.delay_days,
        "months": r.months,
        "utc_offset_minutes": r.utc_offset_s // 60,
        "cell_resolution": r.cell_resolution,
        "cell_rounding": r.cell_rounding,
        "rate_per": s.per,
    }


def cell_features(s: Summary, m: int) -> list[dict[str, Any]]:
    cells, counts = s.cells[m]
    out = []
    for cell, count in zip(cells.tolist(), counts.tolist(), strict=True):
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]
        out.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "properties": {"cell": h3.int_to_str(cell), "count": count},
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
    return _json(
        {
            "months": [month_label(m) for m in s.months],
            "categories": list(s.categories),
            "districts": [
                {"code": c, "name": s.names[c], "population": int(p)}
                for c, p in zip(s.districts, s.population, strict=True)
            ],
            "rules": rules_json(s),
        }
    )


async def districts_json(request: Request) -> Response:
    s = await summary(request)
    m = s.month(request.query_params.get("month"))
    return _json(
        {
            "month": month_label(m),
            "categories": list(s.categories),
            "districts": district_rows(s, m),
            "totals": totals_row(s, m),
            "rules": rules_json(s),
        }
    )


def districts_csv_text(s: Summary, m: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["month", "district", "name", "population", *s.categories, "total", f"rate_per_{s.per}"]
    )
    label = month_label(m)
    for row in district_rows(s, m):
        counts = ["" if v is None else v for v in row["counts"].values()]
        total = "" if row["total"] is None else row["total"]
        rate = "" if row["rate"] is None else row["rate"]
        writer.writerow(
            [label, row["district"], row["name"], row["population"], *counts, total, rate]
        )
    tot = totals_row(s, m)
    counts = ["" if v is None else v for v in tot["counts"].values()]
    writer.writerow(
        [label, "total", "", "", *counts, "" if tot["total"] is None else tot["total"], ""]
    )
    return out.getvalue()


async def districts_csv(request: Request) -> Response:
    s = await summary(request)
    m = s.month(request.query_params.get("month"))
    headers = {
        **PUBLIC_HEADERS,
        "Content-Disposition": f'attachment; filename="ronda-distritos-{month_label(m)}.csv"',
    }
    return Response(districts_csv_text(s, m), headers=headers, media_type="text/csv")


async def districts_geojson(request: Request) -> Response:
    s = await summary(request)
    m = s.month(request.query_params.get("month"))
    features = []
    for row in district_rows(s, m):
        props = {k: v for k, v in row.items() if k != "counts"}
        props.update(row["counts"])
        props["month"] = month_label(m)
        features.append(
            {"type": "Feature", "geometry": s.geometry[row["district"]], "properties": props}
        )
    return _json({"type": "FeatureCollection", "features": features}, "application/geo+json")


async def cells_geojson(request: Request) -> Response:
    s = await summary(request)
    m = s.month(request.query_params.get("month"))
    body = {
        "type": "FeatureCollection",
        "month": month_label(m),
        "resolution": s.rules.cell_resolution,
        "features": cell_features(s, m),
    }
    return _json(body, "application/geo+json")


async def trend_json(request: Request) -> Response:
    return _json(trend(await summary(request)))


async def trend_csv(request: Request) -> Response:
    s = await summary(request)
    data = trend(s)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", *s.categories, "total"])
    for i, label in enumerate(data["months"]):
        values = [data["series"][c][i] for c in (*s.categories, "total")]
        writer.writerow([label, *("" if v is None else v for v in values)])
    headers = {
        **PUBLIC_HEADERS,
        "Content-Disposition": 'attachment; filename="ronda-tendencia.csv"',
    }
    return Response(out.getvalue(), headers=headers, media_type="text/csv")


routes = [
    Route("/public/months.json", months, methods=["GET"]),
    Route("/public/districts.json", districts_json, methods=["GET"]),
    Route("/public/districts.csv", districts_csv, methods=["GET"]),
    Route("/public/districts.geojson", districts_geojson, methods=["GET"]),
    Route("/public/cells.geojson", cells_geojson, methods=["GET"]),
    Route("/public/trend.json", trend_json, methods=["GET"]),
    Route("/public/trend.csv", trend_csv, methods=["GET"]),
]
