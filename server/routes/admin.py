"""Enrollment (public, with a one-time code) and administration (admin role)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.answers import admin as answers
from server.answers import answer
from server.auth import require
from server.context import ctx
from server.maps.places import reload_places as reload_places_of
from server.routes.common import json_response, read_model
from sync.clock import now_ms
from sync.errors import NotFound
from sync.identity import issue_enrollment, redeem_code
from sync.protocol import ID_PATTERN
from sync.store.records import AuditEvent, Officer, Role, Station

Id = Annotated[str, Field(pattern=ID_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrollBody(_Body):
    code: Annotated[str, Field(min_length=4, max_length=20)]
    device_name: Name


class StationBody(_Body):
    id: Id
    name: Name
    district_code: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None


class OfficerBody(_Body):
    id: Id
    name: Name
    role: Role
    station_id: Id | None = None


class EnrollmentBody(_Body):
    officer_id: Id


async def enroll(request: Request) -> Response:
    c = ctx(request)
    body = await read_model(request, EnrollBody)
    device, token = await redeem_code(c.store, body.code, body.device_name, now_ms())
    officer = await c.store.get_officer(device.officer_id)
    enrolled = answers.EnrollAnswer(
        device_id=device.id,
        token=token,
        officer_id=device.officer_id,
        role=officer.role if officer else None,
        station_id=officer.station_id if officer else None,
        server_time_ms=now_ms(),
    )
    return json_response(answer(enrolled), 201)


async def put_station(request: Request) -> Response:
    await require(request, "admin")
    body = await read_model(request, StationBody)
    await ctx(request).store.put_station(Station(body.id, body.name, body.district_code))
    return json_response(answer(answers.Station(**body.model_dump())), 201)


async def list_stations(request: Request) -> Response:
    await require(request, "admin", "chief", "analyst")
    stations = await ctx(request).store.list_stations()
    listed = [
        answers.Station(id=s.id, name=s.name, district_code=s.district_code) for s in stations
    ]
    return json_response(answer(answers.StationList(stations=listed)))


async def put_officer(request: Request) -> Response:
    await require(request, "admin")
    body = await read_model(request, OfficerBody)
    store = ctx(request).store
    if body.station_id and body.station_id not in {s.id for s in await store.list_stations()}:
        raise NotFound("no such station", {"station_id": body.station_id})
    await store.put_officer(Officer(body.id, body.name, body.role, body.station_id))
    return json_response(answer(answers.Officer(**body.model_dump())), 201)


async def list_officers(request: Request) -> Response:
    await require(request, "admin")
    officers = await ctx(request).store.list_officers(request.query_params.get("station_id"))
    listed = [
        answers.Officer(id=o.id, name=o.name, role=o.role, station_id=o.station_id)
        for o in officers
    ]
    return json_response(answer(answers.OfficerList(officers=listed)))


async def create_enrollment(request: Request) -> Response:
    who = await require(request, "admin")
    body = await read_model(request, EnrollmentBody)
    c = ctx(request)
    code, expires = await issue_enrollment(
        c.store, body.officer_id, c.settings.auth.enrollment_ttl_s, who.officer_id, now_ms()
    )
    # Audited like the admin page's (issue 15): the audit log shows every act of an admin.
    details = {"via": "api", "via_device": who.device_id}
    await c.store.add_audit(
        AuditEvent(now_ms(), who.officer_id, "enroll", body.officer_id, details)
    )
    issued = answers.EnrollmentAnswer(code=code, officer_id=body.officer_id, expires_ms=expires)
    return json_response(answer(issued), 201)


async def list_devices(request: Request) -> Response:
    await require(request, "admin")
    devices = await ctx(request).store.list_devices(request.query_params.get("officer_id"))
    listed = [
        answers.Device(
            id=d.id,
            officer_id=d.officer_id,
            name=d.name,
            created_ms=d.created_ms,
            revoked_ms=d.revoked_ms,
        )
        for d in devices
    ]
    return json_response(answer(answers.DeviceList(devices=listed)))


async def revoke_device(request: Request) -> Response:
    who = await require(request, "admin")
    device_id = request.path_params["device_id"]
    store = ctx(request).store
    device = await store.get_device(device_id)
    if device is None or not await store.revoke_device(device_id, now_ms()):
        raise NotFound("no such device", {"device_id": device_id})
    if device.revoked_ms is None:  # as on the page: a second revocation audits nothing
        details = {"via": "api", "via_device": who.device_id, "officer_id": device.officer_id}
        await store.add_audit(AuditEvent(now_ms(), who.officer_id, "revoke", device_id, details))
    return json_response(answer(answers.RevokeAnswer(device_id=device_id, revoked=True)))


async def reload_places(request: Request) -> Response:
    await require(request, "admin")
    loaded = await reload_places_of(ctx(request))
    layers = getattr(request.app.state, "layers", None)
    if layers is not None:  # maps drawn from the old boundaries are stale at once
        layers.street_items = None  # and the streets read once (a gazetteer re-import)
        layers.versions.bump("boundaries", set())
    return json_response(answer(answers.PlacesAnswer(placement=loaded)))


routes = [
    Route("/v1/admin/places/reload", reload_places, methods=["POST"]),
    Route("/v1/enroll", enroll, methods=["POST"]),
    Route("/v1/admin/stations", put_station, methods=["POST"]),
    Route("/v1/admin/stations", list_stations, methods=["GET"]),
    Route("/v1/admin/officers", put_officer, methods=["POST"]),
    Route("/v1/admin/officers", list_officers, methods=["GET"]),
    Route("/v1/admin/enrollments", create_enrollment, methods=["POST"]),
    Route("/v1/admin/devices", list_devices, methods=["GET"]),
    Route("/v1/admin/devices/{device_id}/revoke", revoke_device, methods=["POST"]),
]
