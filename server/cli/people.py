"""``ronda station``, ``ronda officer``, ``ronda enroll``, ``ronda revoke``, ``ronda devices``:
the people and devices of a deployment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from rich.console import Console
from rich.table import Table

from server import people
from server.cli.common import console, with_store
from server.settings import Settings
from sync.clock import now_ms
from sync.identity import issue_enrollment
from sync.store.base import Store
from sync.store.records import ROLES, Officer, Station

T = TypeVar("T")


@click.group()
def station() -> None:
    """Police stations (comisarías)."""


@station.command("add")
@click.argument("station_id")
@click.argument("name")
@click.option("--district", default=None, help="UBIGEO of its district (6 digits).")
@click.pass_obj
def station_add(settings: Settings, station_id: str, name: str, district: str | None) -> None:
    """Create or rename a station (its district must be imported, if any districts are)."""

    async def work(store: Store) -> None:
        if district is not None:
            await people.check_district(store, district)
        await store.put_station(Station(station_id, name, district))

    _people(settings, work)
    console.print(f"station {station_id} saved")


@station.command("list")
@click.pass_obj
def station_list(settings: Settings) -> None:
    """List stations and how many officers each has."""

    async def work(store: Store) -> list[tuple[Station, int]]:
        officers = await store.list_officers()
        return [
            (s, sum(o.station_id == s.id for o in officers)) for s in await store.list_stations()
        ]

    table = Table("station", "name", "district", "officers")
    for item, officers in with_store(settings, work):
        table.add_row(item.id, item.name, item.district_code or "", str(officers))
    Console().print(table)


@station.command("remove")
@click.argument("station_id")
@click.pass_obj
def station_remove(settings: Settings, station_id: str) -> None:
    """Delete a station; refused while officers, records or conflicts name it."""
    _people(settings, lambda s: people.remove_station(s, station_id))
    console.print(f"station {station_id} removed")


def _people(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    try:
        return with_store(settings, work)
    except people.PeopleError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def officer() -> None:
    """Officers and their roles."""


@officer.command("add")
@click.argument("officer_id")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--station", "station_id", default=None)
@click.pass_obj
def officer_add(
    settings: Settings, officer_id: str, name: str, role: str, station_id: str | None
) -> None:
    """Create or update an officer (the station must exist)."""
    officer_ = Officer(officer_id, name, role, station_id)  # type: ignore[arg-type]

    async def work(store: Store) -> None:
        if station_id is not None:
            await people.check_station(store, station_id)
        await store.put_officer(officer_)

    _people(settings, work)
    console.print(f"officer {officer_id} saved")


@officer.command("list")
@click.option("--station", "station_id", default=None, help="Only the officers of a station.")
@click.pass_obj
def officer_list(settings: Settings, station_id: str | None) -> None:
    """List officers, their roles and stations."""
    rows = with_store(settings, lambda s: s.list_officers(station_id))
    table = Table("officer", "name", "role", "station")
    for o in rows:
        table.add_row(o.id, o.name, o.role, o.station_id or "")
    Console().print(table)


@officer.command("remove")
@click.argument("officer_id")
@click.pass_obj
def officer_remove(settings: Settings, officer_id: str) -> None:
    """Delete an officer with no devices and no records (revoke devices instead otherwise)."""
    _people(settings, lambda s: people.remove_officer(s, officer_id))
    console.print(f"officer {officer_id} removed")


@officer.command("password")
@click.argument("officer_id")
@click.password_option("--password", prompt="Contraseña / password", help="Read from a prompt.")
@click.pass_obj
def officer_password(settings: Settings, officer_id: str, password: str) -> None:
    """Set an officer's password for the web pages (argon2id; forgets failed sign-ins)."""
    from server.web.sessions import set_password

    try:
        with_store(settings, lambda s: set_password(s, officer_id, password))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"password of {officer_id} set")


@click.command()
@click.argument("officer_id")
@click.pass_obj
def enroll(settings: Settings, officer_id: str) -> None:
    """Issue a one-time enrollment code for an officer's new phone."""

    async def work(store: Store) -> tuple[str, int]:
        ttl = settings.auth.enrollment_ttl_s
        return await issue_enrollment(store, officer_id, ttl, "cli", now_ms())

    code, expires = with_store(settings, work)
    click.echo(code)
    console.print(f"valid for {settings.auth.enrollment_ttl_s // 60} min (expires_ms={expires})")


@click.command()
@click.argument("device_id")
@click.pass_obj
def revoke(settings: Settings, device_id: str) -> None:
    """Revoke a device: its token is refused from the next request on."""
    if not with_store(settings, lambda s: s.revoke_device(device_id, now_ms())):
        raise click.ClickException(f"no such device: {device_id}")
    console.print(f"device {device_id} revoked")


@click.command()
@click.option("--officer", "officer_id", default=None)
@click.pass_obj
def devices(settings: Settings, officer_id: str | None) -> None:
    """List devices."""
    rows = with_store(settings, lambda s: s.list_devices(officer_id))
    table = Table("device", "officer", "name", "revoked")
    for d in rows:
        table.add_row(d.id, d.officer_id, d.name, "yes" if d.revoked_ms else "")
    Console().print(table)
