"""Administration pages: enroll devices (one-time code and its QR), revoke them, officers,
stations, and the audit log. Administrators only; every act is audited."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

import orjson
import segno
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.context import ctx
from server.links import site
from server.web.pages import unauthorized_redirect
from server.web.render import render
from server.web.sessions import SignedIn, check_csrf, signed_in
from sync.clock import now_ms
from sync.errors import InvalidRequest, NotFound
from sync.identity import issue_enrollment
from sync.protocol import ID_PATTERN
from sync.store.base import ROLES, AuditEvent, Officer, Station

ID_RE = re.compile(ID_PATTERN)


def _when(ms: int | None) -> str:
    if not ms:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _admin(request: Request) -> SignedIn | Response:
    user = await signed_in(request)
    if user is None:
        return unauthorized_redirect(request)
    if user.who.role != "admin":
        return render(request, "forbidden.html", user=user, status=403)
    return user


async def _form(request: Request, user: SignedIn) -> FormData:
    form = await request.form()
    check_csrf(request, user, str(form.get("csrf", "")))
    return form


async def _audit(
    request: Request, user: SignedIn, action: str, target: str, **details: Any
) -> None:
    event = AuditEvent(now_ms(), user.who.officer_id, action, target, details)
    await ctx(request).store.add_audit(event)


def qr_svg(text: str) -> Markup:
    """The QR code of ``text`` as inline SVG, drawn here (no image service)."""
    svg = segno.make(text, error="m").svg_inline(scale=5, title="QR", dark="#111")
    # segno draws paths only; the one text it writes (the title) is ours and fixed.
    return Markup(svg)


async def devices_page(request: Request, issued: dict[str, Any] | None = None) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    store = ctx(request).store
    officers = await store.list_officers()
    devices = [
        {
            "id": d.id,
            "officer_id": d.officer_id,
            "name": d.name,
            "created": _when(d.created_ms),
            "revoked": _when(d.revoked_ms),
        }
        for d in await store.list_devices(request.query_params.get("officer_id") or None)
    ]
    values = {"officers": officers, "devices": devices, "issued": issued}
    return render(request, "admin_devices.html", values, user=user)


async def enroll(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    form = await _form(request, user)
    officer_id = str(form.get("officer_id", ""))
    c = ctx(request)
    code, expires = await issue_enrollment(
        c.store, officer_id, c.settings.auth.enrollment_ttl_s, user.who.officer_id, now_ms()
    )
    await _audit(request, user, "enroll", officer_id)
    server = site(request)  # server.public_url when set: what the phone must reach
    payload = "ronda:enroll?" + urlencode({"server": server, "code": code})
    issued = {
        "code": code,
        "officer_id": officer_id,
        "expires": _when(expires),
        "qr": qr_svg(payload),
        "payload": payload,
    }
    return await devices_page(request, issued)


async def revoke(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    await _form(request, user)
    device_id = request.path_params["device_id"]
    if not await ctx(request).store.revoke_device(device_id, now_ms()):
        raise NotFound("no such device", {"device_id": device_id[:64]})
    await _audit(request, user, "revoke", device_id)
    return RedirectResponse("/admin/devices", 303)


def _id(form: FormData, name: str, required: bool = True) -> str | None:
    value = str(form.get(name, "")).strip()
    if not value and not required:
        return None
    if not ID_RE.fullmatch(value):
        raise InvalidRequest(f"{name} is not a valid id", {"field": name})
    return value


def _name(form: FormData) -> str:
    value = str(form.get("name", "")).strip()
    if not 1 <= len(value) <= 200:
        raise InvalidRequest("name needs 1 to 200 characters", {"field": "name"})
    return value


async def officers_page(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    store = ctx(request).store
    values = {
        "officers": await store.list_officers(),
        "stations": await store.list_stations(),
        "roles": ROLES,
    }
    return render(request, "admin_officers.html", values, user=user)


async def put_officer(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    form = await _form(request, user)
    store = ctx(request).store
    role = str(form.get("role", ""))
    if role not in ROLES:
        raise InvalidRequest("unknown role", {"field": "role"})
    station = _id(form, "station_id", required=False)
    if station and station not in {s.id for s in await store.list_stations()}:
        raise NotFound("no such station", {"station_id": station})
    officer = Officer(_id(form, "id") or "", _name(form), role, station)  # type: ignore[arg-type]
    await store.put_officer(officer)
    await _audit(request, user, "put_officer", officer.id, role=role, station_id=station)
    return RedirectResponse("/admin/officers", 303)


async def stations_page(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    values = {"stations": await ctx(request).store.list_stations()}
    return render(request, "admin_stations.html", values, user=user)


async def put_station(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    form = await _form(request, user)
    district = str(form.get("district_code", "")).strip() or None
    if district is not None and not re.fullmatch(r"\d{6}", district):
        raise InvalidRequest("a district code is a 6-digit UBIGEO", {"field": "district_code"})
    station = Station(_id(form, "id") or "", _name(form), district)
    await ctx(request).store.put_station(station)
    await _audit(request, user, "put_station", station.id, district_code=district)
    return RedirectResponse("/admin/stations", 303)


async def audit_page(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    after = request.query_params.get("after", "0")
    after_id = int(after) if after.isdigit() and len(after) < 18 else 0
    events = await ctx(request).store.audit_events(after_id, 201)
    rows = [
        {
            "id": i,
            "when": _when(e.at_ms),
            "officer": e.officer_id,
            "action": e.action,
            "target": e.target,
            "details": orjson.dumps(e.details).decode()[:300],
        }
        for i, e in events[:200]
    ]
    more = events[199][0] if len(events) > 200 else None
    return render(request, "admin_audit.html", {"rows": rows, "more": more}, user=user)


routes = [
    Route("/admin/devices", devices_page, methods=["GET"]),
    Route("/admin/devices/enroll", enroll, methods=["POST"]),
    Route("/admin/devices/{device_id}/revoke", revoke, methods=["POST"]),
    Route("/admin/officers", officers_page, methods=["GET"]),
    Route("/admin/officers", put_officer, methods=["POST"]),
    Route("/admin/stations", stations_page, methods=["GET"]),
    Route("/admin/stations", put_station, methods=["POST"]),
    Route("/admin/audit", audit_page, methods=["GET"]),
]
