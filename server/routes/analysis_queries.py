"""Reads the tactical analysis needs beyond ``Store.points``: victims' DNI of incidents, and
counts per category over several windows (CompStat), straight from the SQL tables.

Both read the current version of each incident (``incident_point`` is kept in step with
``record`` by every push) and leave deleted incidents out, as the maps do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, case, func, select

from sync.store import sql_tables as t
from sync.store.base import Store
from sync.store.records import PointQuery
from sync.store.sql import SQLStore


def _sql(store: Store) -> SQLStore:
    assert isinstance(store, SQLStore), "these reads are written for the SQL store"
    return store


def _window(query: PointQuery) -> list[Any]:
    p = t.incident_point.c
    where: list[Any] = [p.deleted.is_(False)]
    if query.station_ids is not None:
        where.append(p.station_id.in_(query.station_ids))
    if query.categories is not None:
        where.append(p.category.in_(query.categories))
    if query.since_s is not None:
        where.append(p.occurred_s >= query.since_s)
    if query.until_s is not None:
        where.append(p.occurred_s < query.until_s)
    return where


@dataclass(frozen=True, slots=True)
class VictimRow:
    dni: str
    name: str
    incident_id: str
    station_id: str
    category: str
    occurred_s: int


async def victims(store: Store, query: PointQuery) -> list[VictimRow]:
    """Every (victim with a DNI, incident) of the incidents in ``query`` (placed or not)."""
    p, r = t.incident_point.c, t.record.c
    stmt = (
        select(p.id, p.station_id, p.category, p.occurred_s, r.pii)
        .select_from(
            t.incident_point.join(t.record, and_(r.collection == "incidents", r.id == p.id))
        )
        .where(*_window(query), r.pii.is_not(None), r.deleted.is_(False))
        .order_by(p.occurred_s, p.id)
    )
    async with _sql(store).engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    out: list[VictimRow] = []
    for incident_id, station, category, occurred, pii in rows:
        people = orjson.loads(pii).get("victims") or []
        seen: set[str] = set()
        for person in people:
            dni = person.get("dni") if isinstance(person, dict) else None
            if isinstance(dni, str) and dni and dni not in seen:  # once per incident
                seen.add(dni)
                name = str(person.get("name") or "")
                out.append(VictimRow(dni, name, incident_id, station, category, int(occurred)))
    return out


async def counts_by_category(
    store: Store,
    query: PointQuery,
    windows: list[tuple[int, int]],
    district: str | None = None,
) -> dict[str, list[int]]:
    """Incidents per category in each half-open window ``[start, end)`` (placed or not),
    of one district (where placement put them) when ``district`` is given."""
    p = t.incident_point.c
    since = min(w[0] for w in windows)
    until = max(w[1] for w in windows)
    columns = [
        func.sum(case((and_(p.occurred_s >= a, p.occurred_s < b), 1), else_=0)) for a, b in windows
    ]
    bounded = PointQuery(query.station_ids, since, until, query.categories)
    where = _window(bounded)
    if district is not None:
        where.append(p.district == district)
    stmt = select(p.category, *columns).where(*where).group_by(p.category)
    async with _sql(store).engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {str(row[0]): [int(v or 0) for v in row[1:]] for row in rows}
