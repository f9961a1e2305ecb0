"""Answers of enrollment, ``/v1/me`` and the admin API (server/routes/admin.py, sync.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from server.answers import Answer, Ms
from server.answers.common import Id, Role


class EnrollAnswer(Answer):
    device_id: str
    token: Annotated[str, Field(pattern="^rdt_")]
    officer_id: str
    role: Role | None
    station_id: str | None
    server_time_ms: Ms


class MeScope(Answer):
    stations: list[str] | None
    pii: Literal["all", "own", "none"]


class MeLimits(Answer):
    max_changes: int
    max_body_bytes: int
    max_decompressed_bytes: int
    max_clock_ahead_ms: int
    pull_max_limit: int


class MeAnswer(Answer):
    device_id: str
    device_name: str
    officer_id: str
    role: Role
    station_id: str | None
    scope: MeScope
    server_time_ms: Ms
    limits: MeLimits


class Station(Answer):
    id: Id
    name: str
    district_code: str | None


class StationList(Answer):
    stations: list[Station]


class Officer(Answer):
    id: Id
    name: str
    role: Role
    station_id: Id | None


class OfficerList(Answer):
    officers: list[Officer]


class EnrollmentAnswer(Answer):
    code: str
    officer_id: Id
    expires_ms: Ms


class Device(Answer):
    id: str
    officer_id: str
    name: str
    created_ms: Ms
    revoked_ms: Ms | None


class DeviceList(Answer):
    devices: list[Device]


class RevokeAnswer(Answer):
    device_id: str
    revoked: Literal[True]


class PlacesAnswer(Answer):
    placement: bool
