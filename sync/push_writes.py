"""The record versions a push writes, built from its merged state: new incidents' JSON from
per-push parts (``FreshBuilder``), merged incidents, patrol-log entries with their track
points, the conflict log's rows, and a stored incident re-derived after an import.

Pure functions of what ``sync.push_batch`` decided (no store, no merge): kept apart so that
module reads as the push's bookkeeping and this one as the shape of what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from sync import rfc3339
from sync.merge import DELETED, PENDING, FieldConflict, RecordState
from sync.protocol import IncidentEdit, LogEntryChange, log_body
from sync.store.records import (
    Conflict,
    Identity,
    IncidentPoint,
    RecordWrite,
    StoredRecord,
    TrackPoint,
)

_PENDING_END = f",{PENDING}]"


@dataclass(slots=True)
class IncidentWork:
    """An incident being merged in this push: its state, what it was, what changed."""

    id: str
    station_id: str
    author_officer: str
    author_device: str
    state: RecordState
    stored: StoredRecord | None
    changed: bool = False
    replace_place: bool = False
    conflicts: list[FieldConflict] = field(default_factory=list)
    seq: int = 0
    fresh: Fresh | None = None


@dataclass(slots=True)
class Fresh:
    """A new incident built before the write lock: only its sequence number is missing.

    Its clocks carry ``PENDING`` until it is numbered: a later edit by a device whose
    ``base_seq`` is below the creation's seq has not seen the values written at creation.
    """

    doc_tail: str  # the doc's JSON after '{"seq":N,'
    clocks: str  # every clock ends in ',-1]' (PENDING), replaced by the seq when numbered
    pii: str | None
    point: IncidentPoint | None  # its seq is set when numbered


@dataclass(slots=True)
class EntryWork:
    change: LogEntryChange
    hash: str
    seq: int = 0


class FreshBuilder:
    """Builds new incidents' JSON texts for one push, byte for byte as ``orjson.dumps`` of the
    doc, clocks and personal data a merge into an empty record gives (``incident_write``;
    ``tests/sync/test_protocol_fast_fresh.py`` holds the two together).

    The parts that are the same for every incident of a push (station, author, device) are
    encoded once, and ids and stamps are put in as they are: both were checked against
    patterns that leave nothing to escape (``ID_PATTERN``, ``parse_stamp``).  Clock maps of
    one set of field names share a template.  Per incident this was a fifth of the event
    loop's time in a push of new incidents (docs/benchmarks.md).
    """

    def __init__(self, who: Identity) -> None:
        self.station = who.station_id or ""
        self.doc_mid = (
            f'","station_id":{_json(who.station_id)},"author":{_json(who.officer_id)}'
            ',"deleted":false,"hlc":"'
        )
        self.stamp_tail = f'",{_json(who.device_id)},{PENDING}]'

    def build(
        self,
        change: IncidentEdit,
        public: dict[str, Any],
        pii: dict[str, Any],
        derived: dict[str, Any] | None,
    ) -> Fresh:
        hlc = change.hlc
        stamp = '["' + hlc + self.stamp_tail
        names = tuple(public) if not pii else (*public, *(f"pii.{name}" for name in pii))
        keys = _CLOCK_KEYS.get(names)
        if keys is None:
            keys = _clock_keys(names)
        kept_pii = {name: value for name, value in pii.items() if value} if pii else None
        doc_tail = (
            '"collection":"incidents","id":"'
            + change.id
            + self.doc_mid
            + hlc
            + '","fields":'
            + orjson.dumps(public).decode()
            + (',"derived":{}}' if not derived else f',"derived":{_json(derived)}}}')
        )
        return Fresh(
            doc_tail=doc_tail,
            clocks=stamp.join(keys),
            pii=orjson.dumps(kept_pii).decode() if kept_pii else None,
            point=incident_point(change.id, self.station, 0, False, public, derived or {}),
        )


# Clock maps by their field names: the text between the stamps ('{"category":', ...).
_CLOCK_KEYS: dict[tuple[str, ...], list[str]] = {}


def _clock_keys(names: tuple[str, ...]) -> list[str]:
    encoded = [_json(name) for name in (*names, DELETED)]
    parts = ["{" + encoded[0] + ":"] + ["," + name + ":" for name in encoded[1:]] + ["}"]
    if len(_CLOCK_KEYS) < 4096:  # field-name sets are few; a bound all the same
        _CLOCK_KEYS[names] = parts
    return parts


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def fresh_write(work: IncidentWork, fresh: Fresh, now: int) -> RecordWrite:
    """A new incident built by ``FreshBuilder``, numbered ``work.seq``."""
    if fresh.point is not None:
        fresh.point.seq = work.seq
    return RecordWrite(
        collection="incidents",
        id=work.id,
        station_id=work.station_id,
        seq=work.seq,
        deleted=False,
        doc=f'{{"seq":{work.seq},{fresh.doc_tail}',
        clocks=fresh.clocks.replace(_PENDING_END, f",{work.seq}]"),
        pii=fresh.pii,
        author_officer=work.author_officer,
        author_device=work.author_device,
        chain_n=None,
        updated_ms=now,
        is_new=True,
        point=fresh.point,
    )


def incident_write(work: IncidentWork, derived: dict[str, Any], now: int) -> RecordWrite:
    """A merged incident's new version (its clocks numbered already)."""
    values = work.state.values
    pii = pii_of(values)
    public = public_of(values)
    doc = {
        "collection": "incidents",
        "id": work.id,
        "seq": work.seq,
        "station_id": work.station_id,
        "author": work.author_officer,
        "deleted": work.state.deleted,
        "hlc": work.state.max_hlc(),
        "fields": public,
        "derived": derived,
    }
    return RecordWrite(
        collection="incidents",
        id=work.id,
        station_id=work.station_id,
        seq=work.seq,
        deleted=work.state.deleted,
        doc=orjson.dumps(doc).decode(),
        clocks=orjson.dumps(work.state.clocks).decode(),
        pii=orjson.dumps(pii).decode() if pii else None,
        author_officer=work.author_officer,
        author_device=work.author_device,
        chain_n=None,
        updated_ms=now,
        is_new=work.stored is None,
        point=incident_point(
            work.id, work.station_id, work.seq, work.state.deleted, public, derived
        ),
    )


def entry_write(who: Identity, entry: EntryWork, now: int) -> RecordWrite:
    """An accepted patrol-log entry, with its track point if it carries coordinates."""
    change = entry.change
    doc = {
        "collection": "patrol_logs",
        "id": change.id,
        "seq": entry.seq,
        "station_id": who.station_id,
        "author": who.officer_id,
        "device_id": who.device_id,
        "deleted": False,
        "hlc": change.hlc,
        "n": change.n,
        "prev_hash": change.prev_hash,
        "hash": entry.hash,
        "body": log_body(change),
    }
    return RecordWrite(
        collection="patrol_logs",
        id=change.id,
        station_id=who.station_id or "",
        seq=entry.seq,
        deleted=False,
        doc=orjson.dumps(doc).decode(),
        clocks="{}",
        pii=None,
        author_officer=who.officer_id,
        author_device=who.device_id,
        chain_n=change.n,
        updated_ms=now,
        is_new=True,
        track=_track(who, change),
    )


def _track(who: Identity, change: LogEntryChange) -> TrackPoint | None:
    body = change.body
    if body.lon_e6 is None or body.lat_e6 is None:
        return None
    return TrackPoint(
        entry_id=change.id,
        device_id=who.device_id,
        officer_id=who.officer_id,
        station_id=who.station_id or "",
        at_s=rfc3339.epoch_s(body.at),
        lon=body.lon_e6 / 1e6,
        lat=body.lat_e6 / 1e6,
    )


def conflict_rows(work: IncidentWork, now: int) -> list[Conflict]:
    """The conflict log's rows of a merged incident's losing values."""
    return [
        Conflict(
            station_id=work.station_id,
            collection="incidents",
            record_id=work.id,
            field=c.field,
            losing_value=orjson.dumps(c.losing_value).decode(),
            losing_hlc=c.losing_hlc,
            losing_device=c.losing_device,
            winning_hlc=c.winning_hlc,
            winning_device=c.winning_device,
            seq=work.seq,
            created_ms=now,
        )
        for c in work.conflicts
    ]


def pii_of(values: dict[str, Any]) -> dict[str, Any]:
    """The personal data of a record's values (empty lists left out)."""
    return {k[4:]: v for k, v in values.items() if k.startswith("pii.") and v}


def public_of(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != DELETED and not k.startswith("pii.")}


def rewrite_derived(
    record: StoredRecord, derived: dict[str, Any], seq: int, now: int
) -> RecordWrite:
    """A new version of a stored incident with only its derived part replaced."""
    doc = {**record.doc, "seq": seq, "derived": derived}
    pii = orjson.dumps(record.pii).decode() if record.pii else None
    return server_version(record, doc, seq, now, pii)


def server_version(
    record: StoredRecord, doc: dict[str, Any], seq: int, now: int, pii: str | None
) -> RecordWrite:
    """A new version ``seq`` of a stored incident that the server writes, not a device (a
    re-placement, retention's erasure): ``doc`` and ``pii`` (JSON text) are new; its author,
    clocks, chain entry and deletion stay the record's, and devices pull it like any other."""
    return RecordWrite(
        collection=record.collection,
        id=record.id,
        station_id=record.station_id,
        seq=seq,
        deleted=record.deleted,
        doc=orjson.dumps(doc).decode(),
        clocks=orjson.dumps(record.clocks).decode(),
        pii=pii,
        author_officer=record.author_officer,
        author_device=record.author_device,
        chain_n=record.chain_n,
        updated_ms=now,
        is_new=False,
        point=incident_point(
            record.id, record.station_id, seq, record.deleted, doc["fields"], doc.get("derived", {})
        ),
    )


def incident_point(
    record_id: str,
    station_id: str,
    seq: int,
    deleted: bool,
    fields: dict[str, Any],
    derived: dict[str, Any],
) -> IncidentPoint | None:
    """The queryable facts of an incident version (None until it has a category and time)."""
    category, occurred = fields.get("category"), fields.get("occurred_at")
    if not category or not occurred:
        return None
    lon = lat = None
    cell = derived.get("cell")
    if cell:
        lon, lat = derived.get("lon"), derived.get("lat")
    elif not derived and fields.get("location"):
        # No boundaries loaded yet: the raw fix is still worth mapping, unplaced.
        lon, lat = fields["location"]["lon"], fields["location"]["lat"]
    return IncidentPoint(
        id=record_id,
        station_id=station_id,
        category=category,
        occurred_s=rfc3339.epoch_s(occurred),
        lon=lon,
        lat=lat,
        district=derived.get("district"),
        sector=derived.get("sector"),
        cell=int(cell, 16) if cell else None,
        deleted=deleted,
        seq=seq,
    )
