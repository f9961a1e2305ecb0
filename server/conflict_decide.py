"""A chief's decision on a conflict, written the way a device writes (docs/protocol.md,
"Conflict review").

Choosing the other (losing) value is a new write by the chief: one incident change pushed
through ``SyncEngine.push`` as if from a device, so it is validated, merged per field on
hybrid logical clocks, numbered and pulled like any other change, and every replica
converges on it. The chief's browser has no device of its own, so the server gives each
reviewing officer one web device (``web-<officer id>``, registered in the device table with
a token nobody holds) and stamps the change with a hybrid clock that has observed the
record's clocks: the chosen value is newer than every value the record holds, and
``base_seq`` is the version the chief decided on, so the merge treats it as an edit that has
seen the current value (no new conflict unless a device wrote in between).

Keeping the current value writes nothing. Either way the review (who, when, which conflict,
which value) is stored once per conflict together with its audit event.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from server.conflict_view import visible
from sync.clock import HybridClock, now_ms, parse_stamp
from sync.engine import SyncEngine
from sync.errors import AlreadyExists, Forbidden, NotFound, SyncError
from sync.identity import hash_secret
from sync.merge import DELETED
from sync.store.base import Store
from sync.store.records import AuditEvent, Conflict, ConflictReview, Device, Identity

REVIEW_ROLES = frozenset({"chief"})
WEB_DEVICE_NAME = "navegador (revisión de conflictos)"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,56}$")


class AlreadyReviewed(AlreadyExists):
    """The conflict has a review already: one decision per conflict."""

    code = "already_reviewed"


class ReviewRefused(SyncError):
    """The sync engine refused the chief's change (the answer's error is in ``details``)."""

    code = "review_refused"


@dataclass(frozen=True, slots=True)
class Decision:
    review: ConflictReview
    conflict: Conflict
    late: bool = False  # another review was stored first (this one's write still happened)


def web_device_id(officer_id: str) -> str:
    """The device id of an officer's browser writes: readable when the officer id allows."""
    if _SAFE_ID.match(officer_id):
        return f"web-{officer_id}"
    return "web-" + hash_secret(officer_id)[:16]


async def web_identity(store: Store, who: Identity) -> Identity:
    """The identity a signed-in officer's web writes carry; registers the device once."""
    device_id = web_device_id(who.officer_id)
    known = {d.id: d for d in await store.list_devices(who.officer_id)}
    device = known.get(device_id)
    if device is None:
        try:  # its token is random and thrown away: the device never syncs by itself
            made = Device(device_id, who.officer_id, WEB_DEVICE_NAME, now_ms())
            await store.add_token(made, hash_secret(secrets.token_urlsafe(32)))
        except AlreadyExists:  # a concurrent first review registered it
            pass
    elif device.revoked_ms is not None:
        raise Forbidden("this officer's web device was revoked", {"device_id": device_id})
    return Identity(device_id, WEB_DEVICE_NAME, who.officer_id, who.role, who.station_id)


async def find_conflict(engine: SyncEngine, who: Identity, conflict_id: int) -> Conflict:
    """A conflict this identity may see (its stations; personal data by the page's rule)."""
    scope = engine.scope(who)
    found = await engine.store.conflicts(scope.station_ids, conflict_id - 1, 1)
    shown = visible(scope, [c for c in found if c[0] == conflict_id])
    if not shown:
        raise NotFound("no such conflict", {"conflict_id": conflict_id})
    return shown[0][1]


def change_for(conflict: Conflict, seq: int, hlc: str) -> dict[str, Any]:
    """The incident change that makes the conflict's losing value current again."""
    value = orjson.loads(conflict.losing_value)
    change: dict[str, Any] = {
        "collection": "incidents",
        "id": conflict.record_id,
        "hlc": hlc,
        "base_seq": seq,
    }
    if conflict.field == DELETED:
        change["op"] = "delete" if value else "upsert"  # an upsert clears the tombstone
        return change
    change["op"] = "upsert"
    if conflict.field.startswith("pii."):
        change["pii"] = {conflict.field[4:]: value}
    else:
        change["fields"] = {conflict.field: value}
    return change


async def write_other(
    engine: SyncEngine, device: Identity, conflict_id: int, conflict: Conflict
) -> tuple[int | None, str]:
    """Push the losing value as the chief's change; its sequence number and stamp."""
    record = await engine.store.record(conflict.collection, conflict.record_id)
    if record is None:
        raise NotFound("the conflict's record is gone", {"id": conflict.record_id})
    if record.deleted and conflict.field != DELETED:
        # Any upsert clears the tombstone: choosing a status must not bring an incident back.
        raise ReviewRefused("the incident was deleted since", {"id": conflict.record_id})
    clock = HybridClock()
    for hlc in [conflict.winning_hlc, *(c[0] for c in record.clocks.values())]:
        clock.observe(parse_stamp(hlc))
    stamp = str(clock.tick())
    body = {
        # One batch per attempt: a retried review is a new write of the same value.
        "batch_id": f"review-{conflict_id}-{stamp}",
        "changes": [change_for(conflict, record.seq, stamp)],
    }
    outcome = await engine.push(device, body)
    result = orjson.loads(outcome.answer)["results"][0]
    if result["status"] == "rejected":
        raise ReviewRefused("the sync engine refused the chosen value", result["error"])
    return (result.get("seq") if result["status"] == "applied" else None), stamp


async def decide(engine: SyncEngine, who: Identity, conflict_id: int, other: bool) -> Decision:
    """Review a conflict: keep the current value, or (``other``) write the losing one."""
    if who.role not in REVIEW_ROLES:
        raise Forbidden("only a station chief reviews conflicts", {"role": who.role})
    store = engine.store
    conflict = await find_conflict(engine, who, conflict_id)
    if await store.conflict_reviews([conflict_id]):
        raise AlreadyReviewed("this conflict was reviewed already", {"conflict_id": conflict_id})
    device = await web_identity(store, who)
    seq, stamp = (await write_other(engine, device, conflict_id, conflict)) if other else (None, "")
    review = ConflictReview(
        conflict_id, who.officer_id, device.device_id, now_ms(), "other" if other else "kept", seq
    )
    details: dict[str, Any] = {
        "conflict_id": conflict_id,
        "field": conflict.field,
        "choice": review.choice,
        # Which value, named by its write (values may be personal data: never copied here).
        "value_hlc": conflict.losing_hlc if other else conflict.winning_hlc,
        "value_device": conflict.losing_device if other else conflict.winning_device,
        "device_id": device.device_id,
        "seq": seq,
        "hlc": stamp or None,
    }
    at, target = review.reviewed_ms, conflict.record_id
    audit = AuditEvent(at, who.officer_id, "review_conflict", target, details)
    if await store.add_conflict_review(review, audit):
        return Decision(review, conflict)
    # Someone reviewed it meanwhile; a value this chief wrote is a real write: say so.
    late = {**details, "late": True}
    await store.add_audit(AuditEvent(at, who.officer_id, "review_conflict", target, late))
    return Decision(review, conflict, late=True)
