"""The CompStat report as a web page (``GET /compstat``) and its CSV (``GET /compstat.csv``)
for signed-in chiefs and analysts; the same figures as ``/v1/analysis/compstat``.

Query: ``date`` (Lima date, default today), ``station`` and ``district`` (analysts),
``category``. Printable (review.css print styles: no navigation, one table). No PDF yet.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.context import ctx
from server.routes.analysis_compstat import ROLES, compstat_report, csv_response
from server.web.i18n import category_name
from server.web.render import page_language, render
from server.web.sessions import signed_in

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
    "print_hint": (
        "Para imprimir, use la impresión del navegador.",
        "To print, use the browser's print.",
    ),
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


async def _user_report(request: Request) -> tuple[Any, dict[str, Any] | None, Response | None]:
    user = await signed_in(request)
    if user is None:
        return None, None, RedirectResponse("/login?next=/compstat", 303)
    if user.who.role not in ROLES:
        return user, None, render(request, "forbidden.html", user=user, status=403)
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
    keep = {k: asked[k] for k in ("date", "station", "district", "category") if asked.get(k)}
    values = {
        "r": r,
        "scope": scope,
        "report": report,
        "periods": periods,
        "rows": rows,
        "pct": _pct,
        "csv_href": "/compstat.csv" + (f"?{urlencode(keep)}" if keep else ""),
        "hidden": {k: v for k, v in keep.items() if k != "date"},
    }
    answer = render(request, "compstat.html", values, user=user)
    answer.headers["Cache-Control"] = "private, no-store"
    return answer


async def compstat_page_csv(request: Request) -> Response:
    _, report, refused = await _user_report(request)
    if refused is not None or report is None:
        return refused  # type: ignore[return-value]
    return csv_response(report)


routes = [
    Route("/compstat", compstat_page, methods=["GET"]),
    Route("/compstat.csv", compstat_page_csv, methods=["GET"]),
]
