"""The conflict review page: each conflict with its values side by side, officers by name,
a link to the incident, and the chief's decision (``server.conflict_decide``) behind a
CSRF-checked form that redirects after posting (reloading never reviews twice).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import conflict_view
from server.conflict_decide import REVIEW_ROLES, AlreadyReviewed, ReviewRefused, decide
from server.context import AppContext, ctx
from server.web.forms import read_form
from server.web.guard import page_user
from server.web.render import page_language, render
from server.web.review_text import field_name, text, value_text
from server.web.sessions import SignedIn, check_csrf
from sync.errors import NotFound
from sync.store.records import Conflict, ConflictReview, StoredRecord

VIEW_ROLES = ("chief", "analyst")
PAGE = 100
MESSAGES = ("done", "done_other", "already_reviewed", "review_refused", "not_found")


class _Names:
    """Officer names behind device ids, station names, Lima time: what people read."""

    def __init__(self, c: AppContext, lang: str) -> None:
        self.c, self.lang = c, lang
        self.offset = dt.timedelta(minutes=c.settings.public.utc_offset_minutes)
        self.offset_s = int(self.offset.total_seconds())
        self.devices: dict[str, tuple[str, str]] = {}
        self.officers: dict[str, str] = {}
        self.stations: dict[str, str] = {}

    async def load(self) -> _Names:
        store = self.c.store
        self.officers = {o.id: o.name for o in await store.list_officers()}
        self.devices = {d.id: (d.officer_id, d.name) for d in await store.list_devices()}
        self.stations = {s.id: s.name for s in await store.list_stations()}
        return self

    def writer(self, device_id: str) -> dict[str, str]:
        officer_id, device_name = self.devices.get(device_id, ("", ""))
        name = self.officers.get(officer_id, officer_id)
        return {
            "officer": name or text(self.lang)["unknown_device"],
            "device": device_name or device_id,
        }

    def when(self, ms: int) -> str:
        local = dt.datetime.fromtimestamp(ms / 1000, dt.UTC) + self.offset
        return local.strftime("%d/%m/%Y %H:%M")


def _current(record: StoredRecord | None, name: str) -> tuple[Any, str]:
    """A record's current value of a field and the device that wrote it."""
    if record is None:
        return None, ""
    clock = record.clocks.get(name) or ["", record.author_device]
    if name == "_deleted":
        return record.deleted, clock[1]
    if name.startswith("pii."):
        return (record.pii or {}).get(name[4:]), clock[1]
    return record.doc.get("fields", {}).get(name), clock[1]


def _row(
    names: _Names,
    conflict_id: int,
    cf: Conflict,
    record: StoredRecord | None,
    review: ConflictReview | None,
) -> dict[str, Any]:
    lang = names.lang
    value, device = _current(record, cf.field)
    row: dict[str, Any] = {
        "id": conflict_id,
        "when": names.when(cf.created_ms),
        "station": names.stations.get(cf.station_id, cf.station_id),
        "record_id": cf.record_id,
        "field": field_name(lang, cf.field),
        "current": value_text(lang, cf.field, value, names.offset_s),
        "current_by": names.writer(device),
        "other": value_text(lang, cf.field, orjson.loads(cf.losing_value), names.offset_s),
        "other_by": names.writer(cf.losing_device),
        "same": value == orjson.loads(cf.losing_value),
        "review": None,
    }
    if review is not None:
        who = names.officers.get(review.officer_id, review.officer_id)
        words = text(lang)
        row["review"] = {
            "line": words["reviewed_by"].format(who=who, when=names.when(review.reviewed_ms)),
            "choice": words["chose_other" if review.choice == "other" else "kept"],
        }
    return row


async def conflicts_page(request: Request) -> Response:
    """The conflicts of the officer's scope, oldest first, a hundred a page."""
    c = ctx(request)
    user = await page_user(request, VIEW_ROLES, "/conflicts")
    if not isinstance(user, SignedIn):
        return user
    scope = c.engine.scope(user.who)
    after = request.query_params.get("after", "0")
    after_id = int(after) if after.isdigit() and len(after) < 18 else 0
    items = await c.store.conflicts(scope.station_ids, after_id, PAGE + 1)
    more = items[PAGE - 1][0] if len(items) > PAGE else None
    shown = conflict_view.visible(scope, items[:PAGE])  # the same rule as GET /v1/conflicts
    await conflict_view.audit_shown(c.store, user.who.officer_id, shown, "conflicts_page")
    lang = page_language(request)
    names = await _Names(c, lang).load()
    reviews = await c.store.conflict_reviews([i for i, _ in shown])
    records: dict[str, StoredRecord | None] = {}
    for _, cf in shown:
        if cf.record_id not in records:
            records[cf.record_id] = await c.store.record(cf.collection, cf.record_id)
    rows = [_row(names, i, cf, records[cf.record_id], reviews.get(i)) for i, cf in shown]
    message = request.query_params.get("msg", "")
    values = {
        "rows": rows,
        "more": more,
        "r": text(lang),
        "can_review": user.who.role in REVIEW_ROLES,
        "message": message if message in MESSAGES else "",
        "pending": sum(1 for row in rows if row["review"] is None),
        "request_after": str(after_id),
    }
    answer = render(request, "conflicts.html", values, user=user)
    answer.headers["Cache-Control"] = "private, no-store"
    return answer


async def review(request: Request) -> Response:
    """The chief's decision on one conflict; redirects back to the page with a message."""
    c = ctx(request)
    user = await page_user(request, REVIEW_ROLES, "/conflicts")
    if not isinstance(user, SignedIn):
        return user
    form = await read_form(request)
    check_csrf(request, user, str(form.get("csrf", "")))
    raw = request.path_params["conflict_id"]
    conflict_id = int(raw) if raw.isdigit() and len(raw) < 18 else 0
    other = form.get("choice") == "other"
    try:
        decision = await decide(c.engine, user.who, conflict_id, other)
        message = "done_other" if other and decision.review.seq is not None else "done"
    except AlreadyReviewed:
        message = "already_reviewed"
    except ReviewRefused:
        message = "review_refused"
    except NotFound:
        message = "not_found"
    back = str(form.get("after", "0"))
    query = urlencode({"after": back if back.isdigit() else "0", "msg": message})
    return RedirectResponse(f"/conflicts?{query}#c{conflict_id}", 303)


routes = [
    Route("/conflicts", conflicts_page, methods=["GET"]),
    Route("/conflicts/{conflict_id}/review", review, methods=["POST"]),
]
