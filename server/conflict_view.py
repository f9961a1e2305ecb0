"""What a caller sees of the conflict log: one rule for ``GET /v1/conflicts`` and the web page.

A conflict on a personal-data member (``pii.victims``, ...) holds the losing personal data
itself, and one on the free-text description the losing text, which names people as often
as not (sync/free_text.py); so either is shown only to callers whose scope sees all personal
data (``pii == "all"``, by default chiefs, of their own station), and every showing is
audited like an incident's personal data on the map (``view_pii``, one event per record).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from sync.clock import now_ms
from sync.free_text import FREE_TEXT
from sync.store.base import Store
from sync.store.records import AuditEvent, Conflict, PullScope

PII_PREFIX = "pii."


def is_personal(conflict: Conflict) -> bool:
    """Whether the losing value is personal data (or the free text, which names people)."""
    field = conflict.field
    return field.startswith(PII_PREFIX) or field in ("pii", FREE_TEXT)


def visible(
    scope: PullScope, conflicts: Sequence[tuple[int, Conflict]]
) -> list[tuple[int, Conflict]]:
    """The conflicts of a page this scope may see (the store already held it to its stations)."""
    return [(i, cf) for i, cf in conflicts if scope.pii == "all" or not is_personal(cf)]


def as_json(conflict_id: int, cf: Conflict) -> dict[str, Any]:
    """One conflict as ``GET /v1/conflicts`` sends it."""
    return {
        "id": conflict_id,
        "station_id": cf.station_id,
        "collection": cf.collection,
        "record_id": cf.record_id,
        "field": cf.field,
        "losing_value": orjson.loads(cf.losing_value),
        "losing_hlc": cf.losing_hlc,
        "losing_device": cf.losing_device,
        "winning_hlc": cf.winning_hlc,
        "winning_device": cf.winning_device,
        "seq": cf.seq,
        "created_ms": cf.created_ms,
    }


async def audit_shown(
    store: Store, officer_id: str, shown: Sequence[tuple[int, Conflict]], via: str
) -> None:
    """Record who saw which personal data of which record, through which door."""
    by_record: dict[str, dict[str, list[Any]]] = {}
    for conflict_id, cf in shown:
        if is_personal(cf):
            seen = by_record.setdefault(cf.record_id, {"conflicts": [], "fields": []})
            seen["conflicts"].append(conflict_id)
            if cf.field not in seen["fields"]:
                seen["fields"].append(cf.field)
    at = now_ms()
    for record_id, seen in by_record.items():
        details = {"via": via, **seen}
        await store.add_audit(AuditEvent(at, officer_id, "view_pii", record_id, details))
