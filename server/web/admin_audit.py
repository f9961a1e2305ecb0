"""The audit log page: who did what to which record and why, in the page's language, filtered
by officer, action and dates (days in Lima time), newest first, page by page."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from server.context import ctx
from server.web import admin_text
from server.web.admin_common import admin_user, lima_offset, local_time, render_admin
from server.web.filters import FIRST_DAY, LAST_DAY
from server.web.render import page_language
from server.web.sessions import SignedIn
from sync.store.records import AuditEvent, AuditQuery, Officer

PAGE_SIZE = 50
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
ID_RE = re.compile(r"\d{1,17}")
# Shown first, in this order; other details follow in the order they were written.
FIRST = ("reason", "officer_id", "device_id", "device_name", "role", "station_id", "choice")
LONG_LIST = 8


def fold(text: str) -> str:
    """Lower case without accents: "Huamán" is found by "huaman"."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in plain if not unicodedata.combining(ch))


def matching_officers(officers: Iterable[Officer], query: str) -> tuple[str, ...]:
    """Ids of the officers whose id or name contains ``query`` (any case, any accents); the
    query itself too, so events of an officer no longer on the list are still found."""
    wanted = fold(query.strip())
    found = [o.id for o in officers if wanted in fold(o.id) or wanted in fold(o.name)]
    return tuple(dict.fromkeys([*found, query.strip()]))


@dataclass(frozen=True)
class AuditFilters:
    officer: str
    action: str
    since: str
    until: str
    bad_dates: bool

    def params(self) -> dict[str, str]:
        values = {"officer": self.officer, "action": self.action}
        values |= {"since": self.since, "until": self.until}
        return {k: v for k, v in values.items() if v}


def _date(value: str) -> dt.date | None:
    if not DATE_RE.fullmatch(value):
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    # The day after the last one is computed: 9999-12-31 would overflow (a 500, before).
    return day if FIRST_DAY <= day <= LAST_DAY else None


def _filters(request: Request) -> AuditFilters:
    q = request.query_params
    since, until = q.get("since", "").strip()[:10], q.get("until", "").strip()[:10]
    first, last = _date(since), _date(until)
    bad = bool((since and first is None) or (until and last is None))
    bad = bad or bool(first and last and first > last)
    action = q.get("action", "")
    return AuditFilters(
        q.get("officer", "").strip()[:64],
        action if action in admin_text.ACTIONS else "",
        since,
        until,
        bad,
    )


def _day_start_ms(day: dt.date, offset_s: int) -> int:
    """Midnight of ``day`` in Lima (a fixed offset from UTC), in UTC milliseconds."""
    midnight = dt.datetime.combine(day, dt.time(), dt.UTC) - dt.timedelta(seconds=offset_s)
    return int(midnight.timestamp() * 1000)


async def _query(request: Request, filters: AuditFilters) -> AuditQuery:
    offset = lima_offset(request)
    first, last = _date(filters.since), _date(filters.until)
    officers = None
    if filters.officer:
        everyone = await ctx(request).store.list_officers()
        officers = matching_officers(everyone, filters.officer)
    q = request.query_params
    before, after = q.get("before", ""), q.get("after", "")
    return AuditQuery(
        officer_ids=officers,
        actions=(filters.action,) if filters.action else None,
        since_ms=_day_start_ms(first, offset) if first and not filters.bad_dates else None,
        until_ms=(
            _day_start_ms(last + dt.timedelta(days=1), offset)
            if last and not filters.bad_dates
            else None
        ),
        before_id=int(before) if ID_RE.fullmatch(before) else None,
        after_id=int(after) if ID_RE.fullmatch(after) and not before else None,
        limit=PAGE_SIZE + 1,  # one more tells whether there is another page
    )


def _value(lang: str, key: str, value: Any) -> str:
    names = admin_text.VALUE_NAMES[lang]
    if isinstance(value, list):
        shown = [str(v) for v in value[:LONG_LIST]]
        more = f" … (+{len(value) - LONG_LIST})" if len(value) > LONG_LIST else ""
        return ", ".join(shown) + more
    if key == "role":
        return admin_text.ROLES[lang].get(str(value), str(value))
    return names.get(str(value), str(value))


def _details(lang: str, details: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(label, value, is the reason) of each detail worth showing, the reason first."""
    labels = admin_text.DETAIL_NAMES[lang]
    keys = [k for k in FIRST if k in details] + [k for k in details if k not in FIRST]
    shown = []
    for key in keys:
        value = details[key]
        if value is None or value == [] or value == "":
            continue
        if key == "records" and isinstance(value, list):
            value = len(value)  # a pull names thousands: the count is what matters here
        shown.append((labels.get(key, key), _value(lang, key, value)[:300], key == "reason"))
    return shown


def _row(lang: str, offset: int, names: dict[str, str], i: int, e: AuditEvent) -> dict[str, Any]:
    return {
        "id": i,
        "when": local_time(e.at_ms, offset),
        "officer": e.officer_id,
        "officer_name": names.get(e.officer_id, ""),
        "action": admin_text.action_name(lang, e.action),
        "action_code": e.action,
        "target": e.target,
        "target_name": names.get(e.target, ""),
        "details": _details(lang, e.details),
    }


def _pages(
    query: AuditQuery, found: list[tuple[int, AuditEvent]]
) -> tuple[list[tuple[int, AuditEvent]], bool, bool]:
    """The events to show, and whether newer and older pages exist."""
    extra = len(found) > PAGE_SIZE
    if query.after_id is not None:  # a newer page: the extra one is the newest
        return (found[1:] if extra else found), extra, True
    return found[:PAGE_SIZE], query.before_id is not None, extra


async def audit_page(request: Request) -> Response:
    user = await admin_user(request)
    if not isinstance(user, SignedIn):
        return user
    c, lang = ctx(request), page_language(request)
    filters = _filters(request)
    query = await _query(request, filters)
    shown, has_newer, has_older = _pages(query, await c.store.audit_search(query))
    names = {o.id: o.name for o in await c.store.list_officers()}
    offset = lima_offset(request)
    rows = [_row(lang, offset, names, i, e) for i, e in shown]
    base = filters.params()
    links = {
        "newest": "/admin/audit?" + urlencode(base) if has_newer else None,
        "newer": "/admin/audit?" + urlencode({**base, "after": rows[0]["id"]})
        if has_newer and rows
        else None,
        "older": "/admin/audit?" + urlencode({**base, "before": rows[-1]["id"]})
        if has_older and rows
        else None,
    }
    actions = sorted(admin_text.ACTION_NAMES[lang].items(), key=lambda kv: kv[1])
    values = {"rows": rows, "filters": filters, "actions": actions, "links": links}
    return render_admin(request, "admin_audit.html", values, user)
