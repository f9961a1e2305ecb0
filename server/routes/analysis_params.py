"""Query parameters of the analysis endpoints, checked against the caller's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request

from server.context import AppContext, ctx
from server.maps.window import categories, time_param
from server.routes.common import int_param
from sync.errors import Forbidden, InvalidRequest
from sync.store.records import Identity, PointQuery

WEEK_S = 7 * 86_400


@dataclass(frozen=True, slots=True)
class Window:
    stations: tuple[str, ...] | None
    since_s: int
    until_s: int
    categories: tuple[str, ...] | None
    resolution: int
    k: int

    def query(self) -> PointQuery:
        return PointQuery(self.stations, self.since_s, self.until_s, self.categories)


def parse_time(request: Request, name: str, *, end: bool) -> int | None:
    """``2026-11-01`` (a whole local day: its start, or after its end when ``end``),
    ``2026-11-01T05:00:00-05:00`` or epoch seconds (instants, UTC when no zone): the rule of
    ``server.maps.window``, within ``TIME_MIN_S..TIME_MAX_S`` (400 ``invalid_request``)."""
    offset = ctx(request).settings.public.utc_offset_minutes * 60
    return time_param(request.query_params.get(name), name, end=end, offset_s=offset)


def parse_categories(request: Request) -> tuple[str, ...] | None:
    return categories(request.query_params.getlist("category"))


def stations_for(who: Identity, context: AppContext, request: Request) -> tuple[str, ...] | None:
    """The stations a caller asks about, within what they may see (as sync scope)."""
    scope = context.engine.scope(who)
    asked = request.query_params.get("station")
    if scope.station_ids is None:
        return (asked,) if asked else None
    if asked and asked not in scope.station_ids:
        raise Forbidden("this station is outside your jurisdiction", {"station": asked})
    return scope.station_ids


async def parse_window(request: Request, context: AppContext, who: Identity) -> Window:
    """Stations, time window (default: the last weeks with data), categories and grid."""
    stations = stations_for(who, context, request)
    categories = parse_categories(request)
    settings = context.settings.analysis
    until = parse_time(request, "end", end=True)
    since = parse_time(request, "start", end=False)
    if until is None:
        span = await context.store.time_span(PointQuery(stations, None, None, categories))
        until = span[1] + 1 if span else int(datetime.now(UTC).timestamp())
    if since is None:
        since = until - settings.default_weeks * WEEK_S
    if since >= until:
        raise InvalidRequest("start must be before end", {"start": since, "end": until})
    resolution = int_param(request, "resolution", settings.default_resolution, 5, 9)
    k = int_param(request, "k", 1, 1, 3)
    return Window(stations, since, until, categories, resolution, k)
