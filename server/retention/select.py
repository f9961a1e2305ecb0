"""What is due: the old rows of each kind, read page by page along existing indexes.

No query scans a whole table: track points are read per station along
``ix_track_station_time``; patrol-log entries per device along ``ix_record_chain`` from the
chain's archived head; incidents along ``ix_point_time`` (time first); conflicts and audit
rows along their primary key, whose order is their time order (ids are given at insert, by
one writer at a time, stamped with the server's clock).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, false, or_, select, text, tuple_

from server.retention.files import PII_MARK, pii_shas, with_marks
from sync.clock import parse_stamp
from sync.store import sql_tables as t
from sync.store.records import ChainHead
from sync.store.sql import SQLStore
from sync.store.sql_rows import RECORD_FIELDS

ERASED = "{}"  # the pii of an incident whose personal data retention removed
# A stored document (compact JSON, written by the server) with a description, and with an
# empty one; ``pii_due`` reads the document itself for the exact answer.
DESCRIPTION_MARK, NO_DESCRIPTION = '"description":"', '"description":""'


async def fetch(store: SQLStore, query: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
    """One read statement on its own connection."""
    async with store.engine.connect() as conn:
        return (await conn.execute(query, params or {})).all()


async def track_pages(store: SQLStore, before_s: int, page: int) -> AsyncIterator[list[Any]]:
    """Track points with ``at_s < before_s``, per station in time order."""
    tp = t.track_point.c
    stations = await fetch(store, select(tp.station_id).distinct().order_by(tp.station_id))
    for (station,) in stations:
        after: tuple[int, str] = (-(2**62), "")
        while True:
            query = (
                select(tp.entry_id, tp.officer_id, tp.station_id, tp.at_s, tp.lon, tp.lat)
                .where(
                    tp.station_id == station,
                    tp.at_s < before_s,
                    tuple_(tp.at_s, tp.entry_id) > tuple_(*after),
                )
                .order_by(tp.at_s, tp.entry_id)
                .limit(page)
            )
            rows = list(await fetch(store, query))
            if not rows:
                break
            yield rows
            after = (rows[-1].at_s, rows[-1].entry_id)


def record_json(row: Any) -> dict[str, Any]:
    """A record row as archived: JSON columns parsed, so the archive is plain JSON."""
    out = {name: getattr(row, name) for name in RECORD_FIELDS}
    out["deleted"] = bool(out["deleted"])
    out["doc"], out["clocks"] = orjson.loads(row.doc), orjson.loads(row.clocks)
    out["pii"] = orjson.loads(row.pii) if row.pii else None
    return out


async def chain_bases(store: SQLStore) -> dict[str, ChainHead]:
    b = t.chain_base.c
    rows = await fetch(store, select(b.device_id, b.n, b.hash))
    return {r.device_id: ChainHead(r.device_id, int(r.n), r.hash) for r in rows}


async def chain_segments(
    store: SQLStore, before_ms: int, page: int
) -> AsyncIterator[tuple[ChainHead | None, list[dict[str, Any]]]]:
    """Per device, the entries after its archived head that were received before
    ``before_ms``, stopping at the first newer one (a chain is only ever cut at its start)."""
    r = t.record.c
    bases = await chain_bases(store)
    devices = await fetch(store, select(t.device.c.id).order_by(t.device.c.id))
    for (device,) in devices:
        base = bases.get(device)
        after, segment = base.n if base else 0, []
        while True:
            query = (
                select(*(getattr(r, name) for name in RECORD_FIELDS))
                .where(
                    r.collection == "patrol_logs",
                    r.author_device == device,
                    r.chain_n.is_not(None),
                    r.chain_n > after,
                )
                .order_by(r.chain_n)
                .limit(page)
            )
            rows = await fetch(store, query)
            cut = next((i for i, row in enumerate(rows) if row.updated_ms >= before_ms), len(rows))
            segment += [record_json(row) for row in rows[:cut]]
            if cut < len(rows) or len(rows) < page:
                break
            after = rows[-1].chain_n
        if segment:
            yield base, segment


def last_edit_ms(clocks: dict[str, list[Any]]) -> int:
    """When a device last wrote a field of the record (its newest field clock). Not the row's
    ``updated_ms``: a server-side rewrite (re-placement after a boundary import) sets that,
    and would put off the removal of personal data nobody touched for years."""
    return max((parse_stamp(clock[0]).wall_ms for clock in clocks.values()), default=0)


def pii_due(row: Any, fields: dict[str, Any], before_ms: int, clear_description: bool) -> bool:
    """A closed (or deleted) incident, last edited before ``before_ms``, that still holds
    personal data (people, or files marked as personal data; or, if asked, a description).
    A deleted report has no purpose left: its people go as a closed one's do (review finding,
    2026-12-05: an incident deleted while open kept them for ever, and chiefs pulled them).
    ``fields``: the row's, with the files it ever marked marked (``files.marked_fields``)."""
    if fields.get("status") != "closed" and not row.deleted:
        return False
    has_pii = (row.pii is not None and row.pii != ERASED) or bool(pii_shas(fields))
    if not (has_pii or (clear_description and fields.get("description"))):
        return False
    return last_edit_ms(orjson.loads(row.clocks)) < before_ms


async def pii_pages(
    store: SQLStore, before_ms: int, clear_description: bool, page: int
) -> AsyncIterator[list[tuple[Any, dict[str, Any]]]]:
    """Closed incidents that occurred and were last edited before ``before_ms`` and still
    hold personal data, in time order: each row with its fields, every file ever marked as
    personal data marked (``files.with_marks``). An incident that marked a file is read
    even if its reference no longer says so."""
    p, r, m = t.incident_point.c, t.record.c, t.attachment_mark.c
    ever_marked = select(m.record_id).where(m.collection == "incidents")
    after: tuple[int, str] = (-(2**62), "")
    while True:
        query = (
            select(*(getattr(r, name) for name in RECORD_FIELDS), p.occurred_s)
            .select_from(
                t.incident_point.join(t.record, and_(r.collection == "incidents", r.id == p.id))
            )
            .where(
                p.occurred_s < before_ms // 1000,
                tuple_(p.occurred_s, p.id) > tuple_(*after),
                # Incidents already anonymised are not read again, run after run; one
                # anonymised while descriptions were kept is, once they are not (review
                # finding: turning pii_clear_description on later emptied none).
                or_(
                    and_(r.pii.is_not(None), r.pii != ERASED),
                    r.doc.contains(PII_MARK),
                    r.id.in_(ever_marked),
                    and_(r.doc.contains(DESCRIPTION_MARK), ~r.doc.contains(NO_DESCRIPTION))
                    if clear_description
                    else false(),
                ),
            )
            .order_by(p.occurred_s, p.id)
            .limit(page)
        )
        rows = await fetch(store, query)
        if not rows:
            return
        every = await with_marks(store, [orjson.loads(row.doc).get("fields", {}) for row in rows])
        due = [
            (row, fields)
            for row, fields in zip(rows, every, strict=True)
            if pii_due(row, fields, before_ms, clear_description)
        ]
        if due:
            yield due
        after = (rows[-1].occurred_s, rows[-1].id)


def conflict_pii_query(record_ids: list[str] | None, clear_description: bool) -> Any:
    """Ids of conflict rows that still hold a personal value of an incident whose personal
    data was removed (``record_ids``: of these incidents instead, about to be)."""
    c, r = t.conflict.c, t.record.c
    fields: Any = c.field.like("pii.%")
    if clear_description:
        fields = or_(fields, c.field == "description")
    query = select(c.id).where(c.collection == "incidents", fields, c.losing_value != "null")
    if record_ids is not None:
        return query.where(c.record_id.in_(bindparam("ids", expanding=True)))
    return query.select_from(
        t.conflict.join(t.record, and_(r.collection == c.collection, r.id == c.record_id))
    ).where(r.pii == ERASED)


async def id_pages(
    store: SQLStore, table: Any, time_column: str, before_ms: int, page: int
) -> AsyncIterator[list[Any]]:
    """Rows of ``table`` (conflict, audit) stamped before ``before_ms``, in id order, up to
    the first page that holds none."""
    after = 0
    while True:
        query = select(table).where(table.c.id > after).order_by(table.c.id).limit(page)
        rows = await fetch(store, query)
        old = [row for row in rows if getattr(row, time_column) < before_ms]
        if old:
            yield old
        if len(old) < len(rows) or len(rows) < page:
            return
        after = rows[-1].id


async def count_answers(store: SQLStore, before_ms: int) -> int:
    rows = await fetch(
        store,
        text("SELECT count(*) FROM batch_answer WHERE created_ms < :before"),
        {"before": before_ms},
    )
    return int(rows[0][0])
