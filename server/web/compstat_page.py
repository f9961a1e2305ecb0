"""The CompStat report as a web page (``GET /compstat``), its CSV (``GET /compstat.csv``,
``section=`` as the API's) and a PDF (``GET /compstat.pdf`` or ``/compstat?format=pdf``,
WeasyPrint: the same page through its print styles) for signed-in chiefs and analysts; the
same figures as ``/v1/analysis/compstat``.

Query: ``date`` (Lima date, default today), ``period`` (of the places, patrols and PAI),
``station`` and ``district`` (analysts), ``category``. Printable: review.css and
compstat.css print styles (no navigation, tables kept whole, A4).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.context import ctx
from server.routes.analysis_compstat import ROLES, compstat_report, csv_response, csv_section
from server.web.compstat_pdf import html_to_pdf
from server.web.guard import page_user
from server.web.i18n import category_name
from server.web.render import page_language, render
from server.web.review_text import gi_class
from server.web.sessions import SignedIn

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("CompStat", "CompStat"),
    "intro": (
        "Incidentes por categoría, cortados en días de Lima, frente al periodo anterior "
        "de igual duración y a las mismas fechas del año pasado.",
        "Incidents by category, cut in Lima days, against the period before of the same "
        "length and the same dates last year.",
    ),
    "scope_station": ("Comisaría", "Station"),
    "scope_district": ("Distrito", "District"),
    "scope_city": ("Toda la ciudad", "Whole city"),
    "date": ("Hasta el", "Up to"),
    "show": ("Mostrar", "Show"),
    "csv": ("Descargar CSV", "Download CSV"),
    "pdf": ("Descargar PDF", "Download PDF"),
    "print_hint": (
        "Para imprimir, use la impresión del navegador o el PDF.",
        "To print, use the browser's print or the PDF.",
    ),
    "focus": ("Lugares y patrullaje del periodo", "Places and patrols of the period"),
    "places": ("Lugares calientes", "Hot places"),
    "places_intro": (
        "Celdas calientes (Gi*) del periodo, con más incidentes primero, y su cambio "
        "frente al periodo anterior.",
        "Hot cells (Gi*) of the period, most incidents first, and their change against the "
        "period before.",
    ),
    "rank": ("N.º", "No."),
    "streets": ("Calles", "Streets"),
    "sector": ("Sector", "Sector"),
    "count": ("Incidentes", "Incidents"),
    "class": ("Clase", "Class"),
    "no_places": ("No hay lugares calientes en este periodo.", "No hot places in this period."),
    "no_streets": ("sin calles registradas", "no streets on record"),
    "no_sector": ("fuera de los sectores", "outside the sectors"),
    "patrol": ("Patrullaje por sector y turno", "Patrols by sector and shift"),
    "patrol_intro": (
        "Horas y kilómetros de patrullaje (posiciones del registro de patrullaje; intervalos "
        "de más de {gap} min no cuentan; saltos a más de {speed} km/h no suman distancia), "
        "y las horas en las celdas calientes del mapa del periodo anterior.",
        "Patrol hours and kilometres (patrol-log positions; gaps over {gap} min do not "
        "count; jumps faster than {speed} km/h add no distance), and the hours in the hot "
        "cells of the previous period's map.",
    ),
    "shift": ("Turno", "Shift"),
    "hours": ("Horas", "Hours"),
    "km": ("Km", "Km"),
    "hot_hours": ("Horas en celdas calientes", "Hours in hot cells"),
    "hot_share": ("% en calientes", "% in hot cells"),
    "no_patrol": (
        "No hay posiciones de patrullaje en este periodo.",
        "No patrol positions in this period.",
    ),
    "pai": ("PAI del mapa del periodo anterior", "PAI of the previous period's map"),
    "pai_intro": (
        "Cuánto predijo el mapa de puntos calientes del periodo anterior (celdas al 95 % o "
        "más) los incidentes de este periodo.",
        "How well the previous period's hotspot map (cells at 95 % or above) predicted this "
        "period's incidents.",
    ),
    "pai_value": ("PAI", "PAI"),
    "hit_rate": ("Incidentes en las celdas calientes", "Incidents in the hot cells"),
    "area": ("Área caliente", "Hot area"),
    "no_pai": (
        "Sin PAI: el periodo anterior tuvo muy pocos incidentes para un mapa.",
        "No PAI: the previous period had too few incidents for a map.",
    ),
    "section_csv": ("CSV", "CSV"),
    "category": ("Categoría", "Category"),
    "total": ("Total", "Total"),
    "current": ("Actual", "Current"),
    "previous": ("Anterior", "Previous"),
    "change": ("Cambio", "Change"),
    "last_year": ("Año pasado", "Last year"),
    "p7d": ("Últimos 7 días", "Last 7 days"),
    "p28d": ("Últimos 28 días", "Last 28 days"),
    "pytd": ("En lo que va del año", "Year to date"),
    "none": ("No hay incidentes en estos periodos.", "No incidents in these periods."),
}


def _text(lang: str) -> dict[str, str]:
    i = 0 if lang == "es" else 1
    return {k: v[i] for k, v in _TEXT.items()}


def _day(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}/{m}/{y}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} %"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


async def _user_report(request: Request) -> tuple[Any, dict[str, Any] | None, Response | None]:
    user = await page_user(request, ROLES, "/compstat")  # the CSV and PDF return to the page
    if not isinstance(user, SignedIn):
        return None, None, user
    return user, await compstat_report(request, user.who), None


async def compstat_page(request: Request) -> Response:
    user, report, refused = await _user_report(request)
    if refused is not None or report is None:
        return refused  # type: ignore[return-value]
    lang = page_language(request)
    stations = {s.id: s.name for s in await ctx(request).store.list_stations()}
    r = _text(lang)
    if report["scope"] == "city":
        scope = r["scope_city"]
    elif report["scope"] == "district":
        scope = f"{r['scope_district']} {report['district']}"
    else:
        names = [stations.get(s, s) for s in report["stations"] or []]
        scope = f"{r['scope_station']}: {', '.join(names)}"
    periods = [
        {
            "name": p["name"],
            "label": r["p" + p["name"]],
            "current": f"{_day(p['current']['first'])} – {_day(p['current']['last'])}",
            "previous": f"{_day(p['previous']['first'])} – {_day(p['previous']['last'])}",
            "last_year": f"{_day(p['last_year']['first'])} – {_day(p['last_year']['last'])}",
        }
        for p in report["periods"]
    ]
    rows = [
        {"name": category_name(lang, row["category"]), "periods": row["periods"]}
        for row in report["rows"]
    ]
    asked = request.query_params
    keep = {
        k: asked[k] for k in ("date", "period", "station", "district", "category") if asked.get(k)
    }
    focus = report["places_period"]
    hot_places = [{**p, "class": gi_class(lang, p["gi_bin"])} for p in report["hot_places"]]
    patrol = report["patrol"]
    values = {
        "r": r,
        "scope": scope,
        "report": report,
        "periods": periods,
        "rows": rows,
        "pct": _pct,
        "csv_href": "/compstat.csv" + (f"?{urlencode(keep)}" if keep else ""),
        "pdf_href": "/compstat.pdf" + (f"?{urlencode(keep)}" if keep else ""),
        "section_href": {
            s: "/compstat.csv?" + urlencode({**keep, "section": s})
            for s in ("places", "patrol", "pai")
        },
        "hidden": {k: v for k, v in keep.items() if k not in ("date", "period")},
        "focus": {
            "name": focus["name"],
            "label": r["p" + focus["name"]],
            "current": f"{_day(focus['current']['first'])} – {_day(focus['current']['last'])}",
            "previous": f"{_day(focus['previous']['first'])} – {_day(focus['previous']['last'])}",
        },
        "period_names": [(name, r["p" + name]) for name in ("7d", "28d", "ytd")],
        "hot_places": hot_places,
        "patrol": patrol,
        "patrol_intro": r["patrol_intro"].format(
            gap=patrol["gap_cap_s"] // 60, speed=int(patrol["speed_cap_kmh"])
        ),
        "pai": report["pai"],
        "hours": _hours,
        "share": _share,
    }
    answer = render(request, "compstat.html", values, user=user)
    answer.headers["Cache-Control"] = "private, no-store"
    if request.url.path.endswith(".pdf") or request.query_params.get("format") == "pdf":
        pdf = await asyncio.to_thread(html_to_pdf, bytes(answer.body).decode())
        name = f"compstat-{report['scope']}-{report['date']}.pdf"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{name}"',
                "Cache-Control": "private, no-store",
            },
        )
    return answer


async def compstat_page_csv(request: Request) -> Response:
    _, report, refused = await _user_report(request)
    if refused is not None or report is None:
        return refused  # type: ignore[return-value]
    return csv_response(report, csv_section(request))


routes = [
    Route("/compstat", compstat_page, methods=["GET"]),
    Route("/compstat.csv", compstat_page_csv, methods=["GET"]),
    Route("/compstat.pdf", compstat_page, methods=["GET"]),
]
