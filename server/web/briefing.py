"""The hotspot pop-up's data and the printable one-page briefing of the top places.

- ``GET /web/data/hotspot.json?lon=&lat=&<map filters>``: the map's hotspot cell under a
  point: count, z, class, change since the previous period, streets and sector.
- ``GET /web/data/top_places.json?<map filters>``: the hot cells, most incidents first.
- ``GET /briefing?<map filters>``: the same list as a server-rendered page, one printed page.

Any officer who may see the map may see these (counts and places only, no personal data).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.context import ctx
from server.routes.common import json_response
from server.web.filters import MAP_ROLES, map_view
from server.web.guard import page_user
from server.web.hotspot_places import Analysis, analyse, place_index
from server.web.render import page_language, render
from server.web.review_text import gi_class, text
from server.web.sessions import SignedIn
from sync.errors import InvalidRequest, NotFound

NO_STORE = {"Cache-Control": "private, no-store"}
PASSED_ON = ("since", "until", "cat")


def _period(a: Analysis) -> dict[str, Any]:
    since, until = a.previous
    return {
        "since": a.view.since.isoformat(),
        "until": a.view.until.isoformat(),
        "previous": {"since": since.isoformat(), "until": until.isoformat()},
    }


def _with_words(lang: str, facts: dict[str, Any]) -> dict[str, Any]:
    return {**facts, "class": gi_class(lang, facts["gi_bin"])}


def _point(request: Request, name: str, low: float, high: float) -> float:
    try:
        value = float(request.query_params.get(name, ""))
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be a number", {"parameter": name}) from exc
    if not low <= value <= high:
        raise InvalidRequest(f"{name} is out of range", {"parameter": name})
    return value


async def hotspot(request: Request) -> Response:
    """The map's cell under ``lon``/``lat`` in the filtered period."""
    view = await map_view(request)
    lon, lat = _point(request, "lon", -180, 180), _point(request, "lat", -90, 90)
    analysis = await analyse(view, request)
    cell = analysis.cell_at(lon, lat)
    i = analysis.index_of(cell) if cell is not None else None
    if i is None:
        raise NotFound("no hotspot cell here in this period", {"n": analysis.n})
    lang = page_language(request)
    facts = _with_words(lang, analysis.facts(i, await place_index(request)))
    body = {**facts, "period": _period(analysis), "labels": text(lang)}
    return json_response(body, headers=NO_STORE)


async def top_places(request: Request) -> Response:
    view = await map_view(request)
    analysis = await analyse(view, request)
    lang = page_language(request)
    places = [_with_words(lang, f) for f in analysis.top(await place_index(request))]
    body = {"places": places, "n": analysis.n, "period": _period(analysis), "labels": text(lang)}
    return json_response(body, headers=NO_STORE)


def _day(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


async def briefing_page(request: Request) -> Response:
    """The top places as one printable page (print styles in review.css)."""
    user = await page_user(request, MAP_ROLES, "/map")  # back to the map it is printed from
    if not isinstance(user, SignedIn):
        return user
    view = await map_view(request)
    analysis = await analyse(view, request)
    lang = page_language(request)
    places = [_with_words(lang, f) for f in analysis.top(await place_index(request))]
    c = ctx(request)
    offset = dt.timedelta(minutes=c.settings.public.utc_offset_minutes)
    now = dt.datetime.now(dt.UTC) + offset
    stations = {s.id: s.name for s in await c.store.list_stations()}
    station = stations.get(user.who.station_id or "", "")
    cats = view.query.categories
    values = {
        "r": text(lang),
        "places": places,
        "since": _day(view.since),
        "until": _day(view.until),
        "prev_since": _day(analysis.previous[0]),
        "prev_until": _day(analysis.previous[1]),
        "generated": now.strftime("%d/%m/%Y %H:%M"),
        "station": station,
        "categories": cats,
        "back": "/map",
    }
    answer = render(request, "briefing.html", values, user=user)
    answer.headers["Cache-Control"] = "private, no-store"
    return answer


routes = [
    Route("/web/data/hotspot.json", hotspot, methods=["GET"]),
    Route("/web/data/top_places.json", top_places, methods=["GET"]),
    Route("/briefing", briefing_page, methods=["GET"]),
]
