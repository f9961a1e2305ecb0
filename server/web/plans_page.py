"""The patrol plans page (``GET /plans``) for signed-in chiefs and analysts.

It lists this period's hot cells (the hotspot computation of ``/v1/analysis/hotspots``, cells
with Gi_Bin ≥ 2), lets a chief give checked cells to a sector, a shift and minutes per cell
(``static/plans.js`` keeps the assignments until they are published through
``POST /v1/plans`` with the session's CSRF token), and shows the day's published plans with
their dosage (minutes spent in the cells, per sector, shift and officer).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import plans
from server.context import ctx
from server.routes.plans import hot_cells_of
from server.web.guard import page_user
from server.web.render import page_language, render, script_json
from server.web.sessions import SignedIn
from sync.protocol_plans import LIMA, SHIFTS

PAGE_ROLES = ("chief", "analyst")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("Planes de patrullaje", "Patrol plans"),
    "intro": (
        "Asigne las celdas calientes de este periodo a un sector, un turno y unos minutos "
        "en cada celda. Al publicar el plan, llega a los teléfonos de la comisaría.",
        "Give this period's hot cells to a sector, a shift and minutes in each cell. Once "
        "published, the plan reaches the station's phones.",
    ),
    "hot": ("Celdas calientes de este periodo", "This period's hot cells"),
    "window": ("Periodo analizado", "Period analysed"),
    "none_hot": ("No hay celdas calientes en este periodo.", "No hot cells in this period."),
    "pick": ("Elegir", "Pick"),
    "cell": ("Celda", "Cell"),
    "incidents": ("Incidentes", "Incidents"),
    "class": ("Nivel", "Level"),
    "bin3": ("Caliente (99 %)", "Hot (99 %)"),
    "bin2": ("Caliente (95 %)", "Hot (95 %)"),
    "bin1": ("Caliente (90 %)", "Hot (90 %)"),
    "assign": ("Asignar", "Assign"),
    "date": ("Fecha", "Date"),
    "sector": ("Sector", "Sector"),
    "shift": ("Turno", "Shift"),
    "minutes": ("Minutos en cada celda", "Minutes in each cell"),
    "note": ("Nota para el personal", "Note for the officers"),
    "add": ("Añadir asignación", "Add assignment"),
    "staged": ("Asignaciones por publicar", "Assignments to publish"),
    "none_staged": ("Todavía no hay asignaciones.", "No assignments yet."),
    "remove": ("Quitar", "Remove"),
    "publish": ("Publicar plan", "Publish plan"),
    "pick_cells": ("Elija al menos una celda.", "Pick at least one cell."),
    "published": ("Plan publicado.", "Plan published."),
    "failed": ("No se pudo publicar", "Could not publish"),
    "analyst_only_reads": (
        "Solo el comisario publica planes; usted puede ver los planes y su cumplimiento.",
        "Only the station chief publishes plans; you can see plans and how they are followed.",
    ),
    "day_plans": ("Planes del día", "Plans of the day"),
    "show": ("Mostrar", "Show"),
    "none_plans": (
        "No hay planes publicados para esta fecha.",
        "No plans published for this date.",
    ),
    "planned": ("Minutos planeados", "Minutes planned"),
    "done": ("Minutos en las celdas", "Minutes in the cells"),
    "progress": ("Cumplimiento", "Progress"),
    "officer": ("Efectivo", "Officer"),
    "cells": ("Celdas", "Cells"),
    "nobody": (
        "Nadie ha patrullado estas celdas todavía.",
        "Nobody has patrolled these cells yet.",
    ),
    "rules": (
        "Minutos contados entre posiciones GPS seguidas del mismo efectivo: hasta 5 minutos "
        "entre posiciones y a no más de 90 km/h; cada tramo cuenta en la celda de su primera "
        "posición.",
        "Minutes counted between consecutive GPS positions of one officer: at most 5 minutes "
        "apart and no faster than 90 km/h; each stretch counts in the cell of its first "
        "position.",
    ),
    "published_by": ("Publicado por", "Published by"),
}


def _text(lang: str) -> dict[str, str]:
    i = 0 if lang == "es" else 1
    return {k: v[i] for k, v in _TEXT.items()}


def lima_today() -> str:
    return datetime.now(LIMA).date().isoformat()


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, LIMA).strftime("%d/%m/%Y")


async def plans_page(request: Request) -> Response:
    user = await page_user(request, PAGE_ROLES, "/plans")
    if not isinstance(user, SignedIn):
        return user
    c, who = ctx(request), user.who
    r = _text(page_language(request))
    asked = request.query_params.get("date", "")
    day = asked if _DAY.match(asked) else lima_today()
    hot = await hot_cells_of(request, who)
    sectors = await plans.station_sectors(c.engine, who.station_id) if who.station_id else {}
    found = await plans.plans(c.engine, who, day)
    dosages = [await plans.dosage(c.engine, who, p["id"]) for p in found]
    values: dict[str, Any] = {
        "r": r,
        "day": day,
        "hot": hot,
        "window": f"{_when(hot['start'])} – {_when(hot['end'] - 1)}",
        "can_publish": who.role in plans.PUBLISH_ROLES and who.station_id is not None,
        "sectors": sorted(sectors.items(), key=lambda kv: kv[1]),
        "shifts": list(SHIFTS),
        "plans": list(zip(found, dosages, strict=True)),
        "config": script_json({"texts": r, "day": day}),
    }
    answer = render(request, "plans.html", values, user=user)
    answer.headers["Cache-Control"] = "private, no-store"
    return answer


routes = [Route("/plans", plans_page, methods=["GET"])]
