"""Administration pages: devices (search, pages, revocation with a reason), officers,
stations; enrollment is in ``admin_enroll``, the audit log in ``admin_audit``. Administrators
only; every act is audited, with the reason when there is one."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.context import ctx
from server.web import admin_audit, admin_enroll
from server.web.admin_audit import matching_officers
from server.web.admin_common import admin_user, lima_offset, local_time, render_admin
from server.web.admin_text import PAGE
from server.web.forms import read_form
from server.web.render import page_language, render
from server.web.sessions import SignedIn, check_csrf
from sync.clock import now_ms
from sync.errors import InvalidRequest, NotFound
from sync.protocol import ID_PATTERN
from sync.store.records import ROLES, AuditEvent, Device, DeviceQuery, Officer, Station

ID_RE = re.compile(ID_PATTERN)
PAGE_SIZE = 50
STATUSES = {"active": True, "revoked": False}
LIST_PARAMS = ("q", "status", "page")
REASON_MIN, REASON_MAX = 3, 500

_admin = admin_user  # the officers and stations pages below predate admin_common


async def _form(request: Request, user: SignedIn) -> FormData:
    form = await read_form(request)
    check_csrf(request, user, str(form.get("csrf", "")))
    return form


async def _audit(
    request: Request, user: SignedIn, action: str, target: str, **details: Any
) -> None:
    event = AuditEvent(now_ms(), user.who.officer_id, action, target, details)
    await ctx(request).store.add_audit(event)


def list_params(raw: str | dict[str, str]) -> dict[str, str]:
    """The devices list's own parameters (search, status, page) out of a query string or
    mapping, so a "back" address can only ever lead to the list."""
    pairs = parse_qsl(raw) if isinstance(raw, str) else list(raw.items())
    found = {k: v[:64] for k, v in pairs if k in LIST_PARAMS and v}
    if found.get("status") not in STATUSES:
        found.pop("status", None)
    if not found.get("page", "").isdigit():
        found.pop("page", None)
    return found


def _device_row(d: Device, names: dict[str, str], offset: int) -> dict[str, Any]:
    return {
        "id": d.id,
        "officer_id": d.officer_id,
        "officer_name": names.get(d.officer_id, ""),
        "name": d.name,
        "created": local_time(d.created_ms, offset),
        "revoked": local_time(d.revoked_ms, offset),
    }


async def devices_page(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    store = ctx(request).store
    params = list_params(dict(request.query_params))
    officers = await store.list_officers()
    search = params.get("q", "").strip()
    query = DeviceQuery(
        officer_ids=matching_officers(officers, search) if search else None,
        active=STATUSES.get(params.get("status", "")),
    )
    total, _ = await store.device_page(DeviceQuery(query.officer_ids, query.active, 0, 0))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, int(params.get("page", "1"))), pages)
    query = DeviceQuery(query.officer_ids, query.active, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    _, devices = await store.device_page(query)
    names = {o.id: o.name for o in officers}
    offset = lima_offset(request)

    def at(n: int) -> str:
        return "/admin/devices?" + urlencode({**params, "page": str(n)})

    revoked = request.query_params.get("revoked", "")
    values = {
        "officers": officers,
        "devices": [_device_row(d, names, offset) for d in devices],
        "params": params,
        "back": urlencode(params),
        "total": total,
        "page": page,
        "pages": pages,
        "previous": at(page - 1) if page > 1 else None,
        "next": at(page + 1) if page < pages else None,
        "revoked_id": revoked if ID_RE.fullmatch(revoked) else "",
    }
    return render_admin(request, "admin_devices.html", values, user)


def _reason(form: FormData) -> str | None:
    reason = " ".join(str(form.get("reason", "")).split())
    return reason if REASON_MIN <= len(reason) <= REASON_MAX else None


async def _confirmation(
    request: Request, user: SignedIn, back_raw: str, error: str = "", status: int = 200
) -> Response:
    store = ctx(request).store
    device = await store.get_device(request.path_params["device_id"])
    back = urlencode(list_params(back_raw))
    values: dict[str, Any] = {"device": None, "error": error, "back": back}
    values["back_url"] = "/admin/devices" + (f"?{back}" if back else "")
    if device is None:
        return render_admin(request, "admin_revoke.html", values, user, status=404)
    officer = await store.get_officer(device.officer_id)
    names = {officer.id: officer.name} if officer else {}
    values["device"] = _device_row(device, names, lima_offset(request))
    return render_admin(request, "admin_revoke.html", values, user, status=status)


async def revoke_page(request: Request) -> Response:
    """The confirmation step: what will be revoked, and a required reason (no script)."""
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    return await _confirmation(request, user, request.query_params.get("back", ""))


async def revoke(request: Request) -> Response:
    user = await _admin(request)
    if not isinstance(user, SignedIn):
        return user
    form = await _form(request, user)
    store = ctx(request).store
    device_id = request.path_params["device_id"]
    device = await store.get_device(device_id)
    if device is None:
        raise NotFound("no such device", {"device_id": device_id[:64]})
    back_raw = str(form.get("back", ""))
    reason = _reason(form)
    if reason is None:
        missing = PAGE[page_language(request)]["reason_missing"]
        return await _confirmation(request, user, back_raw, missing, 400)
    if device.revoked_ms is None:  # revoking twice changes nothing and audits nothing
        await store.revoke_device(device_id, now_ms())
        details = {"reason": reason, "officer_id": device.officer_id, "device_name": device.name}
        await _audit(request, user, "revoke", device_id, **details)
    query = urlencode({**list_params(back_raw), "revoked": device_id})
    return RedirectResponse(f"/admin/devices?{query}", 303)


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
    return render_admin(request, "admin_officers.html", values, user)


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
    officer = Officer(_id(form, "id") or "", _name(form), role, station)
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


routes = [
    Route("/admin/devices", devices_page, methods=["GET"]),
    *admin_enroll.routes,
    Route("/admin/devices/{device_id}/revoke", revoke_page, methods=["GET"]),
    Route("/admin/devices/{device_id}/revoke", revoke, methods=["POST"]),
    Route("/admin/officers", officers_page, methods=["GET"]),
    Route("/admin/officers", put_officer, methods=["POST"]),
    Route("/admin/stations", stations_page, methods=["GET"]),
    Route("/admin/stations", put_station, methods=["POST"]),
    Route("/admin/audit", admin_audit.audit_page, methods=["GET"]),
]
