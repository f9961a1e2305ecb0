"""The administrator's reads in SQL: devices page by page, one device, one enrollment, and
the audit log filtered and paged (newest first, keyset paging on the event id).

Each function takes the adapter's ``fetch`` (one read statement) so these queries run the
same way as the adapter's own reads on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import func, select

from sync.store import sql_tables as t
from sync.store.records import AuditEvent, AuditQuery, Device, DeviceQuery, Enrollment

Fetch = Callable[[Any], Awaitable[Sequence[Any]]]


def audit_values(event: AuditEvent) -> dict[str, Any]:
    """The audit table's columns of an event (its details as JSON text)."""
    return {
        "at_ms": event.at_ms,
        "officer_id": event.officer_id,
        "action": event.action,
        "target": event.target,
        "details": orjson.dumps(event.details).decode(),
    }


def _device(r: Any) -> Device:
    return Device(r.id, r.officer_id, r.name, r.created_ms, r.revoked_ms)


def _device_filter(query: DeviceQuery) -> list[Any]:
    c = t.device.c
    where: list[Any] = []
    if query.officer_ids is not None:
        where.append(c.officer_id.in_(query.officer_ids))
    if query.active is True:
        where.append(c.revoked_ms.is_(None))
    elif query.active is False:
        where.append(c.revoked_ms.is_not(None))
    return where


async def device_page(fetch: Fetch, query: DeviceQuery) -> tuple[int, list[Device]]:
    c = t.device.c
    where = _device_filter(query)
    total = (await fetch(select(func.count()).select_from(t.device).where(*where)))[0][0]
    rows = await fetch(
        select(t.device)
        .where(*where)
        .order_by(c.created_ms.desc(), c.id.desc())
        .offset(max(0, query.offset))
        .limit(max(0, query.limit))
    )
    return int(total), [_device(r) for r in rows]


async def get_device(fetch: Fetch, device_id: str) -> Device | None:
    rows = await fetch(select(t.device).where(t.device.c.id == device_id))
    return _device(rows[0]) if rows else None


async def enrollment(fetch: Fetch, code_hash: str) -> Enrollment | None:
    e = t.enrollment.c
    rows = await fetch(select(t.enrollment).where(e.code_hash == code_hash))
    if not rows:
        return None
    r = rows[0]
    return Enrollment(r.code_hash, r.officer_id, r.expires_ms, r.created_by, r.used_ms)


async def audit_search(fetch: Fetch, query: AuditQuery) -> list[tuple[int, AuditEvent]]:
    a = t.audit.c
    where: list[Any] = []
    if query.officer_ids is not None:
        where.append(a.officer_id.in_(query.officer_ids))
    if query.actions is not None:
        where.append(a.action.in_(query.actions))
    if query.since_ms is not None:
        where.append(a.at_ms >= query.since_ms)
    if query.until_ms is not None:
        where.append(a.at_ms < query.until_ms)
    if query.before_id is not None:
        where.append(a.id < query.before_id)
    # "Newer" pages are read oldest first from the cursor, then turned round.
    newer = query.after_id is not None and query.before_id is None
    if newer:
        where.append(a.id > query.after_id)
    order = a.id.asc() if newer else a.id.desc()
    rows = await fetch(select(t.audit).where(*where).order_by(order).limit(max(0, query.limit)))
    found = [
        (r.id, AuditEvent(r.at_ms, r.officer_id, r.action, r.target, orjson.loads(r.details)))
        for r in rows
    ]
    return found[::-1] if newer else found
