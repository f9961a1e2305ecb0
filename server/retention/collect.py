"""One walk over what is due, into a sink: the archive (``apply``) or a counter (``plan``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.retention import select as due
from server.retention.dosage import MonthlyDosage
from server.retention.files import named_elsewhere, pii_refs, pii_shas
from server.retention.policy import Cutoffs
from server.retention.settings import RetentionSettings
from sync.store import sql_tables as t
from sync.store.sql import SQLStore


class Sink(Protocol):
    def write(self, kind: str, row: dict[str, Any]) -> None: ...


class CountingSink:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def write(self, kind: str, row: dict[str, Any]) -> None:
        self.counts[kind] += 1


@dataclass(slots=True)
class Collected:
    segments: list[dict[str, Any]] = field(default_factory=list)  # archived chain segments
    pii_ids: list[str] = field(default_factory=list)
    pii_files: int = 0  # files marked as personal data that would go (named by no other record)
    conflict_pii: int = 0
    answers: int = 0


@dataclass(frozen=True, slots=True)
class Context:
    """What a walk needs besides the store: the policy, the cut-offs, how dosage is summed."""

    policy: RetentionSettings
    cut: Cutoffs
    resolution: int
    utc_offset_s: int


async def collect(store: SQLStore, ctx: Context, sink: Sink) -> Collected:
    out = Collected()
    page = ctx.policy.batch_rows
    dosage = MonthlyDosage(ctx.resolution, ctx.utc_offset_s)
    async for rows in due.track_pages(store, ctx.cut.positions_s, page):
        dosage.add(rows)
        for row in rows:
            # No coordinates: they stay in the chained entry (archived with it, later).
            sink.write(
                "track_points",
                {"entry_id": row.entry_id, "station_id": row.station_id, "at_s": row.at_s},
            )
    for dose in dosage.rows():
        sink.write("dosage", dose)
    async for base, segment in due.chain_segments(store, ctx.cut.patrol_logs_ms, page):
        for entry in segment:
            sink.write("patrol_logs", entry)
        out.segments.append(
            {
                "device_id": segment[0]["author_device"],
                "from_n": segment[0]["chain_n"],
                "to_n": segment[-1]["chain_n"],
                "prev_hash": base.hash if base else "",
                "head_hash": segment[-1]["doc"]["hash"],
            }
        )
    clear = ctx.policy.pii_clear_description
    files: set[str] = set()
    async for rows in due.pii_pages(store, ctx.cut.pii_ms, clear, page):
        for row, fields in rows:
            sink.write("incident_pii", _pii_row(row, fields, ctx.policy.pii_archive))
            out.pii_ids.append(row.id)
            files.update(pii_shas(fields))
    leaving = {("incidents", record_id) for record_id in out.pii_ids}
    out.pii_files = len(files - await named_elsewhere(store, files, leaving))
    out.conflict_pii = await _count_conflict_pii(store, out.pii_ids, clear)
    await _conflicts(store, ctx.cut.conflicts_ms, page, sink, ctx.policy.pii_archive)
    async for rows in due.id_pages(store, t.audit, "at_ms", ctx.cut.audit_ms, page):
        for row in rows:
            sink.write("audit", dict(row._mapping))
    out.answers = await due.count_answers(store, ctx.cut.answers_ms)
    return out


def _pii_row(row: Any, fields: dict[str, Any], keep: bool) -> dict[str, Any]:
    """What the archive says of removed personal data (``fields``: the row's incident fields):
    that it was there, the data itself only if the policy keeps it (then the archive is
    personal data too)."""
    description = fields.get("description")
    files = pii_refs(fields)
    pii = row.pii if row.pii not in (None, due.ERASED) else None
    out: dict[str, Any] = {
        "id": row.id,
        "seq": row.seq,
        "station_id": row.station_id,
        # Whether there was something, not a hash of it: a hash of a short value (a DNI
        # inside a small JSON) can be reversed by trying every value (review finding).
        "had_pii": bool(pii),
        "had_description": bool(description),
        "had_files": len(files),
    }
    if keep:  # the files' references, not their bytes: the files themselves are removed
        out["pii"], out["description"], out["files"] = pii, description, files
    return out


async def _count_conflict_pii(store: SQLStore, ids: list[str], clear: bool) -> int:
    found = {r[0] for r in await due.fetch(store, due.conflict_pii_query(None, clear))}
    for start in range(0, len(ids), 500):
        query = due.conflict_pii_query(ids[start : start + 500], clear)
        found |= {r[0] for r in await due.fetch(store, query, {"ids": ids[start : start + 500]})}
    return len(found)


def _personal(field: str) -> bool:
    """A conflict field whose losing value is a person's data (or free text about them)."""
    return field.startswith("pii.") or field == "description"


async def _conflicts(
    store: SQLStore, before_ms: int, page: int, sink: Sink, keep_pii: bool
) -> None:
    cr = t.conflict_review.c
    async for rows in due.id_pages(store, t.conflict, "created_ms", before_ms, page):
        ids = [row.id for row in rows]
        reviews = {
            r.conflict_id: dict(r._mapping)
            for r in await due.fetch(
                store, t.conflict_review.select().where(cr.conflict_id.in_(ids))
            )
        }
        for row in rows:
            out = {**dict(row._mapping), "review": reviews.get(row.id)}
            if not keep_pii and _personal(row.field):
                # Personal data leaves the archive unless the policy keeps it (review finding).
                out["losing_value"], out["losing_value_removed"] = None, True
            sink.write("conflicts", out)
