"""The map and analysis reads in SQL: incident points, their time span, patrol tracks, counts
per H3 cell, and the boundary layers.

Each function takes the adapter's ``fetch`` (one read statement, with bound parameters) so
these queries run the same way as the adapter's own reads on SQLite and PostgreSQL; the
writes take its engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.store import sql_tables as t
from sync.store.records import POINT_COLUMNS, TRACK_COLUMNS, Boundary, PointQuery
from sync.store.sql_rows import as_columns, bound_query, point_where

Fetch = Callable[..., Awaitable[Sequence[Any]]]


def _known(columns: tuple[str, ...], known: tuple[str, ...], what: str) -> None:
    unknown = set(columns) - set(known)
    if unknown:
        raise ValueError(f"unknown {what} columns: {sorted(unknown)}")


async def points(
    fetch: Fetch, query: PointQuery, columns: tuple[str, ...]
) -> dict[str, np.ndarray]:
    _known(columns, POINT_COLUMNS, "point")
    where, params = point_where(query)
    sql = f"SELECT {', '.join(columns)} FROM incident_point WHERE {where}"
    sql += " AND lon IS NOT NULL ORDER BY seq"
    rows = await fetch(bound_query(sql, params), params)
    return as_columns(rows, columns)


async def time_span(fetch: Fetch, query: PointQuery) -> tuple[int, int] | None:
    clause, params = point_where(query)
    sql = f"SELECT min(occurred_s), max(occurred_s) FROM incident_point WHERE {clause}"
    rows = await fetch(bound_query(sql, params), params)
    if not rows or rows[0][0] is None:
        return None
    return int(rows[0][0]), int(rows[0][1])


async def tracks(
    fetch: Fetch, query: PointQuery, columns: tuple[str, ...]
) -> dict[str, np.ndarray]:
    _known(columns, TRACK_COLUMNS, "track")
    where, params = point_where(query, "at_s", live_only=False)
    sql = f"SELECT {', '.join(columns)} FROM track_point WHERE {where}"
    rows = await fetch(bound_query(sql + " ORDER BY device_id, at_s", params), params)
    return as_columns(rows, columns)


async def cell_counts(
    fetch: Fetch, query: PointQuery, bucket_s: int | None
) -> dict[str, np.ndarray]:
    where, params = point_where(query)
    keys = "cell" if bucket_s is None else f"cell, occurred_s / {int(bucket_s)}"
    sql = (
        f"SELECT {keys}, count(*) FROM incident_point WHERE {where} AND cell IS NOT NULL"
        f" GROUP BY {keys}"
    )
    rows = await fetch(bound_query(sql, params), params)
    names = ("cell", "count") if bucket_s is None else ("cell", "bucket", "count")
    columns = as_columns(rows, names)
    for name in names:
        columns[name] = columns[name].astype(np.int64)
    return columns


async def replace_boundaries(engine: AsyncEngine, layer: str, items: list[Boundary]) -> None:
    rows = [
        {
            "layer": layer,
            "code": b.code,
            "name": b.name,
            "props": orjson.dumps(b.props).decode(),
            "geometry": b.geometry,
        }
        for b in items
    ]
    async with engine.begin() as conn:
        await conn.execute(delete(t.boundary).where(t.boundary.c.layer == layer))
        if rows:
            await conn.execute(insert(t.boundary), rows)


async def boundaries(fetch: Fetch, layer: str) -> list[Boundary]:
    b = t.boundary.c
    query = select(t.boundary).where(b.layer == layer).order_by(b.code)
    return [
        Boundary(r.layer, r.code, r.name, orjson.loads(r.props), bytes(r.geometry))
        for r in await fetch(query)
    ]
