"""Checks and removals behind the ``ronda station`` and ``ronda officer`` commands.

The command line writes the same tables as the admin API, so it refuses what the API
refuses (an officer of a station that does not exist) and checks what an operator mistypes
(a district code). Removal refuses while anything still points at the station or officer:
records and their history must keep naming who wrote them and where.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, func, select
from sqlalchemy.sql.schema import Table

from core.errors import RondaError
from sync.store import sql_tables as t
from sync.store.base import Store
from sync.store.sql import SQLStore

UBIGEO = re.compile(r"\d{6}")


class PeopleError(RondaError):
    """A station or officer command that cannot be done as asked; the message says why."""

    code = "people_refused"


async def check_district(store: Store, code: str) -> None:
    """``code`` is a 6-digit UBIGEO and, when districts are imported, one of them."""
    if not UBIGEO.fullmatch(code):
        raise PeopleError(f"--district must be a 6-digit UBIGEO such as 150132, not {code!r}")
    districts = await store.boundaries("districts")
    if districts and code not in {d.code for d in districts}:
        raise PeopleError(
            f"no district {code} among the {len(districts)} imported (ronda import districts)"
        )


async def check_station(store: Store, station_id: str) -> None:
    if station_id not in {s.id for s in await store.list_stations()}:
        raise PeopleError(f"no station {station_id!r} (ronda station list; ronda station add)")


def _sql(store: Store) -> SQLStore:
    assert isinstance(store, SQLStore), "removal is written for the SQL store"
    return store


async def _count(store: SQLStore, table: Table, where: object) -> int:
    async with store.engine.connect() as conn:
        query = select(func.count()).select_from(table).where(where)  # type: ignore[arg-type]
        return int((await conn.execute(query)).scalar_one())


async def station_dependents(store: Store, station_id: str) -> dict[str, int]:
    """What still names the station: officers assigned to it, records written in it."""
    sql = _sql(store)
    found = {
        "officers": await _count(sql, t.officer, t.officer.c.station_id == station_id),
        "records": await _count(sql, t.record, t.record.c.station_id == station_id),
        "conflicts": await _count(sql, t.conflict, t.conflict.c.station_id == station_id),
    }
    return {name: n for name, n in found.items() if n}


async def officer_dependents(store: Store, officer_id: str) -> dict[str, int]:
    """What still names the officer: devices (revoked ones too: their chains are verified
    through them) and records they wrote."""
    sql = _sql(store)
    found = {
        "devices": await _count(sql, t.device, t.device.c.officer_id == officer_id),
        "records": await _count(sql, t.record, t.record.c.author_officer == officer_id),
    }
    return {name: n for name, n in found.items() if n}


def _refuse(what: str, dependents: dict[str, int]) -> None:
    if dependents:
        listed = ", ".join(f"{n} {name}" for name, n in dependents.items())
        raise PeopleError(f"{what} is still referenced ({listed}): not removed")


async def remove_station(store: Store, station_id: str) -> None:
    """Delete a station that no officer or record names."""
    await check_station(store, station_id)
    _refuse(f"station {station_id}", await station_dependents(store, station_id))
    async with _sql(store).engine.begin() as conn:
        await conn.execute(delete(t.station).where(t.station.c.id == station_id))


async def remove_officer(store: Store, officer_id: str) -> None:
    """Delete an officer without devices or records, with their password, sessions, unused
    enrollment codes and sign-in failure counts. The audit log keeps their id."""
    if await store.get_officer(officer_id) is None:
        raise PeopleError(f"no officer {officer_id!r} (ronda officer list)")
    _refuse(f"officer {officer_id}", await officer_dependents(store, officer_id))
    owned: list[Table] = [t.credential, t.web_session, t.enrollment, t.login_throttle]
    async with _sql(store).engine.begin() as conn:
        for table in owned:
            await conn.execute(delete(table).where(table.c.officer_id == officer_id))
        await conn.execute(delete(t.officer).where(t.officer.c.id == officer_id))
