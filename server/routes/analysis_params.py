"""Query parameters of the analysis endpoints, checked against the caller's scope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request

from server.context import AppContext
from server.routes.common import int_param
from sync.errors import Forbidden, InvalidRequest
from sync.protocol import CATEGORY_PATTERN
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


# Epoch seconds from 1970 to the end of year 9999 UTC: what an ISO date can say, and far inside
# int64 (a bigger number reached the database, and numpy, as an overflow: a 500).
TIME_MIN_S = 0
TIME_MAX_S = 253_402_300_799  # 9999-12-31T23:59:59Z


def parse_time(request: Request, name: str) -> int | None:
    """``2026-11-01``, ``2026-11-01T05:00:00-05:00`` or epoch seconds; UTC when no zone.

    Either form must fall within ``TIME_MIN_S..TIME_MAX_S`` (400 ``invalid_request``).
    """
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    bounds = {"parameter": name, "minimum": TIME_MIN_S, "maximum": TIME_MAX_S}
    if raw.isascii() and raw.isdigit():  # not "²" or other digits int() refuses
        seconds = int(raw) if len(raw) <= 20 else TIME_MAX_S + 1
    else:
        try:
            when = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise InvalidRequest(
                f"{name} must be an ISO 8601 date or time, or epoch seconds", bounds
            ) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = int(when.timestamp())
    if not TIME_MIN_S <= seconds <= TIME_MAX_S:
        raise InvalidRequest(f"{name} must be between 1970 and the end of year 9999", bounds)
    return seconds


def parse_categories(request: Request) -> tuple[str, ...] | None:
    raw = request.query_params.get("category")
    if not raw:
        return None
    names = tuple(sorted({c.strip() for c in raw.split(",") if c.strip()}))
    bad = [c for c in names if not re.match(CATEGORY_PATTERN, c)]
    if bad or len(names) > 50:
        raise InvalidRequest("category is a comma-separated list of names", {"bad": bad[:5]})
    return names


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
    until = parse_time(request, "end")
    since = parse_time(request, "start")
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
