"""Notices (BOLO): posting, ending and reading them (docs/protocol.md, "Notices").

A notice is written by the server as one record per station of its area (collection
``notices``, id ``<notice id>@<station id>``), numbered in a store unit like a push, so every
phone of those stations pulls it with its next pull. When it expires or is withdrawn each copy
is replaced by a tombstone without its text or photo: phones that pull after that drop it,
and the text leaves the pull stream. The audit event of the posting keeps what was said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from sync.engine import SyncEngine
from sync.errors import Forbidden, InvalidRequest, NotFound
from sync.protocol_notices import (
    MAX_NOTICE_DAYS,
    MAX_NOTICE_STATIONS,
    NOTICE_ACKS,
    NOTICES,
    NoticeDraft,
    copy_id,
    expiry_ms,
    new_notice_id,
    utc_text,
)
from sync.store.records import AuditEvent, Identity, RecordWrite, StoredRecord

POSTER_ROLES = frozenset({"chief", "analyst"})
Ending = Literal["expired", "withdrawn"]


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice as the API shows it: one entry however many station copies it has."""

    notice_id: str
    author: str
    stations: list[str]
    district: str | None
    posted_at: str
    expires_at: str
    deleted: bool
    ended: str | None
    body: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id,
            "author": self.author,
            "area": {"stations": self.stations, "district": self.district},
            "posted_at": self.posted_at,
            "expires_at": self.expires_at,
            "active": not self.deleted,
            "ended": self.ended,
            "text": (self.body or {}).get("text"),
            "category": (self.body or {}).get("category"),
            "photo": ((self.body or {}).get("attachments") or [None])[0],
        }


def check_poster(who: Identity) -> None:
    if who.role not in POSTER_ROLES:
        raise Forbidden("only a chief or an analyst posts notices", {"role": who.role})


async def area_of(engine: SyncEngine, who: Identity, draft: NoticeDraft) -> list[str]:
    """The stations a notice goes to: a chief's own station; an analyst's list or district."""
    if draft.stations is not None and draft.district is not None:
        raise InvalidRequest("give stations or a district, not both", {})
    known = await engine.store.list_stations()
    if draft.district is not None:
        stations = sorted(s.id for s in known if s.district_code == draft.district)
        if not stations:
            raise InvalidRequest("no station lies in this district", {"district": draft.district})
    elif draft.stations is not None:
        stations = sorted(set(draft.stations))
        unknown = sorted(set(stations) - {s.id for s in known})
        if unknown:
            raise InvalidRequest("unknown stations", {"stations": unknown[:20]})
    elif who.station_id is not None:
        stations = [who.station_id]
    else:
        raise InvalidRequest("name the stations or the district the notice is for", {})
    allowed = engine.scope(who).station_ids
    if allowed is not None and not set(stations) <= set(allowed):
        raise Forbidden("a chief posts notices to their own station only", {"stations": stations})
    return stations


def check_expiry(expires_at: str, now: int) -> int:
    """The expiry in epoch ms, after now and at most ``MAX_NOTICE_DAYS`` ahead."""
    at = expiry_ms(expires_at)
    if at <= now:
        raise InvalidRequest("expires_at is in the past", {"expires_at": expires_at})
    if at > now + MAX_NOTICE_DAYS * 86_400_000:
        raise InvalidRequest(
            f"a notice lives at most {MAX_NOTICE_DAYS} days", {"max_days": MAX_NOTICE_DAYS}
        )
    return at


async def post_notice(engine: SyncEngine, who: Identity, draft: NoticeDraft, now: int) -> Notice:
    """Write a notice's copies (one per station) in one unit, and audit it."""
    check_poster(who)
    stations = await area_of(engine, who, draft)
    expires = check_expiry(draft.expires_at, now)
    notice_id = new_notice_id()
    body: dict[str, Any] = {"text": draft.text, "category": draft.category}
    if draft.photo is not None:
        body["attachments"] = [draft.photo.model_dump(mode="json", exclude_defaults=True)]
    doc: dict[str, Any] = {
        "notice_id": notice_id,
        "author": who.officer_id,
        "deleted": False,
        "posted_at": utc_text(now),
        "expires_at": utc_text(expires),
        "area": {"stations": stations, "district": draft.district},
        "body": body,
    }
    async with engine.store.push_unit() as unit:
        first = await unit.allocate(len(stations))
        writes = [
            _write(doc, station, first + i, who.officer_id, who.device_id, now, True)
            for i, station in enumerate(stations)
        ]
        await unit.save(writes, [], [], None)
    engine._notify(writes)  # listeners (caches) hear of it as of any commit
    details = {
        "stations": stations,
        "district": draft.district,
        "category": draft.category,
        "expires_at": doc["expires_at"],
        "text": draft.text,  # the record's text goes at expiry; what was said stays here
        "photo": draft.photo.sha256 if draft.photo else None,
    }
    await engine.store.add_audit(AuditEvent(now, who.officer_id, "post_notice", notice_id, details))
    return _notice([orjson.loads(w.doc) for w in writes])


async def end_notice(
    engine: SyncEngine, notice_id: str, how: Ending, now: int, who: Identity | None = None
) -> Notice:
    """Replace every live copy by a tombstone (expired by the sweep, or withdrawn by
    ``who``). Copies ended already are left as they are."""
    copies = await engine.store.records_of(NOTICES, None, f"{notice_id}@", live_only=False)
    copies = [c for c in copies if c.doc.get("notice_id") == notice_id]
    if not copies:
        raise NotFound("no such notice", {"notice_id": notice_id})
    if who is not None:
        allowed = engine.scope(who).station_ids
        if allowed is not None and not {c.station_id for c in copies} <= set(allowed):
            raise Forbidden("this notice reaches other stations too", {"notice_id": notice_id})
    async with engine.store.push_unit() as unit:
        stored = await unit.load(NOTICES, [c.id for c in copies])
        live = [r for r in stored.values() if not r.deleted]
        writes: list[RecordWrite] = []
        if live:
            first = await unit.allocate(len(live))
            writes = [_tombstone(r, first + i, how, now) for i, r in enumerate(live)]
            await unit.save(writes, [], [], None)
    if writes:
        engine._notify(writes)
        actor = who.officer_id if who is not None else "system"
        details = {"how": how, "stations": sorted(w.station_id for w in writes)}
        action = "withdraw_notice" if how == "withdrawn" else "expire_notice"
        await engine.store.add_audit(AuditEvent(now, actor, action, notice_id, details))
    docs = [orjson.loads(w.doc) for w in writes] or [c.doc for c in copies]
    return _notice(docs)


async def expire_due(engine: SyncEngine, now: int) -> list[str]:
    """End every notice whose expiry has passed; their ids."""
    live = await engine.store.records_of(NOTICES, None, limit=100_000)
    due = sorted({r.doc["notice_id"] for r in live if _expiry(r.doc) <= now})
    for notice_id in due:
        await end_notice(engine, notice_id, "expired", now)
    return due


async def notices_for(
    engine: SyncEngine, who: Identity, include_ended: bool, limit: int = 200
) -> list[Notice]:
    """The notices reaching this identity's stations, newest first."""
    scope = engine.scope(who)
    # A notice has one record per station of its area: read enough rows for ``limit`` notices
    # however many of the caller's stations each one reaches.
    copies = MAX_NOTICE_STATIONS if scope.station_ids is None else len(scope.station_ids)
    rows = await engine.store.records_of(
        NOTICES,
        scope.station_ids,
        live_only=not include_ended,
        limit=limit * max(1, min(copies, MAX_NOTICE_STATIONS)),
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.doc["notice_id"], []).append(row.doc)
    return [_notice(docs) for docs in grouped.values()][:limit]


async def notice_for(engine: SyncEngine, who: Identity, notice_id: str) -> Notice:
    """One notice reaching this identity's stations (404 otherwise)."""
    scope = engine.scope(who)
    rows = await engine.store.records_of(
        NOTICES, scope.station_ids, f"{notice_id}@", live_only=False
    )
    docs = [r.doc for r in rows if r.doc.get("notice_id") == notice_id]
    if not docs:
        raise NotFound("no such notice", {"notice_id": notice_id})
    return _notice(docs)


async def acks_of(engine: SyncEngine, who: Identity, notice: Notice) -> list[dict[str, Any]]:
    """Who acknowledged, in the caller's stations: officer, station, device and when."""
    scope = engine.scope(who)
    rows = await engine.store.records_of(
        NOTICE_ACKS, scope.station_ids, f"{notice.notice_id}~", limit=100_000
    )
    return [
        {
            "officer_id": r.doc["officer_id"],
            "station_id": r.station_id,
            "device_id": r.doc["device_id"],
            "at": r.doc["at"],
            "seq": r.seq,
        }
        for r in sorted(rows, key=lambda r: r.seq)
        if r.doc.get("notice_id") == notice.notice_id
    ]


def _expiry(doc: dict[str, Any]) -> int:
    return expiry_ms(doc["expires_at"].replace("Z", "+00:00"))


def _notice(docs: list[dict[str, Any]]) -> Notice:
    first = docs[0]
    return Notice(
        notice_id=first["notice_id"],
        author=first["author"],
        stations=list(first["area"]["stations"]),
        district=first["area"].get("district"),
        posted_at=first["posted_at"],
        expires_at=first["expires_at"],
        deleted=all(d["deleted"] for d in docs),
        ended=first.get("ended"),
        body=first.get("body"),
    )


def _write(
    doc: dict[str, Any],
    station: str,
    seq: int,
    officer: str,
    device: str,
    now: int,
    is_new: bool,
) -> RecordWrite:
    full = {
        "collection": NOTICES,
        "id": copy_id(doc["notice_id"], station),
        "seq": seq,
        "station_id": station,
        **doc,
    }
    return RecordWrite(
        collection=NOTICES,
        id=full["id"],
        station_id=station,
        seq=seq,
        deleted=bool(doc["deleted"]),
        doc=orjson.dumps(full).decode(),
        clocks="{}",
        pii=None,
        author_officer=officer,
        author_device=device,
        chain_n=None,
        updated_ms=now,
        is_new=is_new,
    )


def _tombstone(record: StoredRecord, seq: int, how: Ending, now: int) -> RecordWrite:
    doc = {k: v for k, v in record.doc.items() if k not in ("body", "collection", "id", "seq")}
    doc.update(deleted=True, ended=how, ended_at=utc_text(now))
    doc.pop("station_id", None)
    return _write(
        doc, record.station_id, seq, record.author_officer, record.author_device, now, False
    )
