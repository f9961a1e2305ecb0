"""What the chief's map shows: the signed-in officer's scope and the page's filters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from server.context import ctx
from server.maps.window import categories, day_window
from server.web.sessions import SignedIn, require_web
from sync.errors import InvalidRequest
from sync.store.records import PointQuery, PullScope

MAP_ROLES = ("chief", "analyst", "officer")
FIRST_LAYERS = ("hotspots", "incidents")  # the data layers the map shows at first
LAYER_NAMES = {"es": {"streets": "Calles"}, "en": {"streets": "Streets"}}  # no switch, no t.*
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(9998, 12, 31)


@dataclass(frozen=True, slots=True)
class MapView:
    """A signed-in map request: who, what they may see, and which incidents they asked for."""

    user: SignedIn
    scope: PullScope
    query: PointQuery
    since: dt.date
    until: dt.date  # inclusive, as the form shows it

    @property
    def window(self) -> tuple[int, int]:
        assert self.query.since_s is not None and self.query.until_s is not None
        return self.query.since_s, self.query.until_s


def _date(request: Request, name: str) -> dt.date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be a date YYYY-MM-DD", {"parameter": name}) from exc
    # The window's arithmetic (a default start years before, the day after the end) must stay
    # inside what dates can hold: 1970 .. 9998, else OverflowError, a 500.
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidRequest(
            f"{name} must be between {FIRST_DAY} and {LAST_DAY}", {"parameter": name}
        )
    return day


def _bbox(request: Request) -> tuple[float, float, float, float] | None:
    raw = request.query_params.get("bbox")
    if not raw:
        return None
    try:
        w, s, e, n = (float(v) for v in raw.split(","))
    except ValueError as exc:
        raise InvalidRequest("bbox is west,south,east,north", {"parameter": "bbox"}) from exc
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InvalidRequest("bbox is west,south,east,north", {"parameter": "bbox"})
    return w, s, e, n


def default_until(latest_s: int | None, offset_s: int, now_s: int) -> dt.date:
    """Today, or the day of the newest incident when the data stops earlier (the demo)."""
    end = now_s if latest_s is None else min(now_s, latest_s)
    return dt.datetime.fromtimestamp(end + offset_s, dt.UTC).date()


async def map_view(request: Request, latest_s: int | None = None) -> MapView:
    """Sign-in, scope (the same rules as sync: ``engine.scope``) and filters of a request."""
    c = ctx(request)
    user = await require_web(request, *MAP_ROLES)
    scope = c.engine.scope(user.who)
    offset = c.settings.public.utc_offset_minutes * 60
    until = _date(request, "until") or default_until(
        latest_s, offset, int(dt.datetime.now(dt.UTC).timestamp())
    )
    since = _date(request, "since") or until - dt.timedelta(
        days=c.settings.web.default_window_days - 1
    )
    if since > until:
        raise InvalidRequest("since is after until", {"parameter": "since"})
    since_s, until_s = day_window(since, until, offset)
    cats = categories(request.query_params.getlist("cat"))
    query = PointQuery(scope.station_ids, since_s, until_s, cats, _bbox(request))
    return MapView(user, scope, query, since, until)


def presets(anchor: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """The map's quick periods ending on ``anchor`` (a Lima day), each inclusive: this week
    (from Monday), the last 28 days, the last whole month, the year to date."""
    first_of_month = anchor.replace(day=1)
    last_month_end = first_of_month - dt.timedelta(days=1)
    return {
        "week": (anchor - dt.timedelta(days=anchor.weekday()), anchor),
        "d28": (anchor - dt.timedelta(days=27), anchor),
        "last_month": (last_month_end.replace(day=1), last_month_end),
        "ytd": (anchor.replace(month=1, day=1), anchor),
    }


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def previous_period(since: dt.date, until: dt.date) -> tuple[dt.date, dt.date]:
    """The period just before ``since..until`` to compare with: as many whole months when the
    period is whole months (last month against the month before), else as many days."""
    end = since - dt.timedelta(days=1)
    try:
        if since.day == 1 and (until + dt.timedelta(days=1)).day == 1:
            months = (until.year - since.year) * 12 + until.month - since.month + 1
            start = _months_back(since, months)
        else:
            start = end - (until - since)
    except (OverflowError, ValueError) as exc:  # before year 1
        raise InvalidRequest("the period is too long to compare", {"parameter": "since"}) from exc
    return start, end


def window_query(view: MapView, since: dt.date, until: dt.date, offset_s: int) -> PointQuery:
    """``view``'s query (scope, categories, box) over another period of Lima days."""
    q = view.query
    return PointQuery(q.station_ids, *day_window(since, until, offset_s), q.categories, q.bbox)


async def page_values(request: Request, until: dt.date, lang: str) -> dict[str, Any]:
    """What the map page adds to its config: the quick periods ending on ``until`` (ISO days)
    and the names the legend and the header show in ``lang``."""
    from server.web.i18n import EMERGING_PATTERNS

    user = await require_web(request, *MAP_ROLES)
    station = user.who.station_id
    names = {s.id: s.name for s in await ctx(request).store.list_stations()} if station else {}
    return {
        "presets": {k: [a.isoformat(), b.isoformat()] for k, (a, b) in presets(until).items()},
        "patterns": EMERGING_PATTERNS[lang],
        "lang": lang,
        "station_name": names.get(station or "", station),
        # The tiles take instants: the map turns its Lima days into them with this offset.
        "utc_offset_minutes": ctx(request).settings.public.utc_offset_minutes,
        "first_layers": list(FIRST_LAYERS),  # map_start.js asks for these before MapLibre
        "layer_names": LAYER_NAMES[lang],
    }
