"""One push being applied: per-change results, working record states, and the writes.

Kept apart from ``sync.engine`` so the engine reads as the protocol's steps and this module
as the bookkeeping between them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from sync.clock import Stamp
from sync.errors import (
    AmendTargetMissing,
    ChainFork,
    ChangeError,
    InvalidField,
    OutOfScope,
    RecordNotFound,
)
from sync.merge import (
    DELETED,
    PENDING,
    ExistingLink,
    FieldConflict,
    RecordState,
    check_link,
    merge_fields,
    number_clocks,
)
from sync.notice_acks import AckTarget, AckWork
from sync.protocol import Change, IncidentEdit, LogEntryChange, entry_hash, log_body
from sync.protocol_notices import NOTICE_ACKS, NoticeAckChange
from sync.store.base import PushUnit
from sync.store.records import (
    ChainHead,
    Conflict,
    Identity,
    IncidentPoint,
    RecordWrite,
    StoredRecord,
    TrackPoint,
)

PLACE_FIELDS = frozenset({"location", "address_text"})
REQUIRED_ON_CREATE = ("category", "occurred_at")
_PENDING_END = f",{PENDING}]"


@dataclass(slots=True)
class _Incident:
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
    fresh: _Fresh | None = None


@dataclass(slots=True)
class _Fresh:
    """A new incident built before the write lock: only its sequence number is missing.

    Its clocks carry ``PENDING`` until it is numbered: a later edit by a device whose
    ``base_seq`` is below the creation's seq has not seen the values written at creation.
    """

    doc_tail: str  # the doc's JSON after '{"seq":N,'
    clocks: str  # every clock ends in ',-1]' (PENDING), replaced by the seq when numbered
    pii: str | None
    point: IncidentPoint | None  # its seq is set when numbered


@dataclass(slots=True)
class _Entry:
    change: LogEntryChange
    hash: str
    seq: int = 0


class _FreshBuilder:
    """Builds new incidents' JSON texts for one push, byte for byte as ``orjson.dumps`` of the
    doc, clocks and personal data a merge into an empty record gives (``_incident_write``;
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
    ) -> _Fresh:
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
        return _Fresh(
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


class PushWork:
    """The state of one push between validation and the write."""

    def __init__(
        self,
        who: Identity,
        now: int,
        enricher: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None,
    ) -> None:
        self.who = who
        self.now = now
        self.enricher = enricher
        self._invalid: dict[int, dict[str, Any]] = {}  # refused before the write lock
        self._results: dict[int, dict[str, Any]] = {}
        self._targets: dict[int, _Incident | _Entry | StoredRecord | AckTarget] = {}
        self._acks = AckWork(who)  # notice acknowledgements (sync.notice_acks)
        self._accepted: list[tuple[int, Change, Stamp | None]] = []
        self._incidents: dict[str, _Incident] = {}
        self._entries: dict[str, _Entry] = {}
        self._stored_logs: dict[str, StoredRecord] = {}
        self._head: ChainHead | None = None
        self._head_moved = False
        self._fresh: dict[str, _Fresh] = {}

    def reject(self, index: int, raw: Any, exc: ChangeError) -> None:
        """A change refused by validation (kept however often ``apply`` runs)."""
        self._invalid[index] = self._results[index] = _rejected(index, raw, exc)

    def accept(self, index: int, change: Change, stamp: Stamp | None) -> None:
        self._accepted.append((index, change, stamp))

    def prepare(self) -> None:
        """Build every incident that is new to this batch as if new to the store, outside
        the write lock (placement included); ``apply`` keeps those the store lacks."""
        ids = [c.id for _, c, _ in self._accepted if isinstance(c, IncidentEdit)]
        # Ids are nearly always distinct within a push: count them only when they are not.
        seen = None if len(set(ids)) == len(ids) else Counter(ids)
        new: list[tuple[IncidentEdit, dict[str, Any], dict[str, Any]]] = []
        for _index, change, _stamp in self._accepted:
            if (
                isinstance(change, IncidentEdit)
                and change.op == "upsert"
                and (seen is None or seen[change.id] == 1)
                and "category" in change.fields  # REQUIRED_ON_CREATE, spelled out: per change
                and "occurred_at" in change.fields
            ):
                new.append((change, change.fields, change.pii))
        if not new:
            return
        station = self.who.station_id or ""
        derived: list[dict[str, Any]] | None = None
        if self.enricher is not None:
            derived = self.enricher([{**public, "station_id": station} for _, public, _ in new])
        fresh = _FreshBuilder(self.who)
        if derived is None:
            for change, public, pii in new:
                self._fresh[change.id] = fresh.build(change, public, pii, None)
            return
        for (change, public, pii), extra in zip(new, derived, strict=True):
            self._fresh[change.id] = fresh.build(change, public, pii, extra)

    async def apply(self, unit: PushUnit) -> None:
        """Merge every accepted change, in batch order, against the stored records.

        May run again in a new unit (a group commit that failed is retried push by push), so
        it starts from what validation left.
        """
        self._results = dict(self._invalid)
        self._targets, self._incidents, self._entries = {}, {}, {}
        self._head, self._head_moved = None, False
        incident_ids = [c.id for _, c, _ in self._accepted if isinstance(c, IncidentEdit)]
        log_ids: list[str] = []
        for _, c, _ in self._accepted:
            if isinstance(c, LogEntryChange):
                log_ids.append(c.id)
                if c.body.amends:
                    log_ids.append(c.body.amends)
        stored = await unit.load("incidents", sorted(set(incident_ids)))
        self._stored_logs = await unit.load("patrol_logs", sorted(set(log_ids)))
        if log_ids:
            self._head = await unit.chain_head(self.who.device_id)
        acks: list[NoticeAckChange] = [
            c for _, c, _ in self._accepted if isinstance(c, NoticeAckChange)
        ]
        await self._acks.load(unit, acks)
        for index, change, _stamp in self._accepted:
            try:
                if isinstance(change, IncidentEdit):
                    self._apply_incident(index, change, stored.get(change.id))
                elif isinstance(change, NoticeAckChange):
                    self._results[index], self._targets[index] = self._acks.apply(index, change)
                else:
                    self._apply_entry(index, change)
            except ChangeError as exc:
                raw = {"collection": _collection(change), "id": change.id}
                self._results[index] = _rejected(index, raw, exc)

    def _apply_incident(
        self, index: int, change: IncidentEdit, stored: StoredRecord | None
    ) -> None:
        fresh = self._fresh.get(change.id)
        if fresh is not None and stored is None:
            self._apply_fresh(index, change, fresh)
            return
        if stored is not None and change.base_seq > stored.seq:
            # A version nobody was given: it would mark every current value as seen and
            # keep the overwrite out of the conflict log (base_seq 10^30 did).
            raise InvalidField(
                "base_seq is newer than any version of this record",
                {"field": "base_seq", "seq": stored.seq},
            )
        work = self._incidents.get(change.id) or self._open_incident(change, stored)
        if work.station_id != self.who.station_id:
            raise OutOfScope("this record belongs to another station", {"id": change.id})
        merged = merge_fields(
            work.state, _updates(change), change.hlc, self.who.device_id, change.base_seq
        )
        self._incidents[change.id] = work
        work.changed |= merged.changed
        work.replace_place |= any(name in PLACE_FIELDS for name in merged.touched)
        work.conflicts.extend(merged.conflicts)
        self._results[index] = {
            "index": index,
            "collection": "incidents",
            "id": change.id,
            "status": "applied" if merged.changed else "unchanged",
            "conflicts": len(merged.conflicts),
        }
        self._targets[index] = work

    def _apply_fresh(self, index: int, change: IncidentEdit, fresh: _Fresh) -> None:
        who = self.who
        work = _Incident(
            change.id,
            who.station_id or "",
            who.officer_id,
            who.device_id,
            RecordState(),
            None,
            changed=True,
            fresh=fresh,
        )
        self._incidents[change.id] = work
        self._results[index] = {
            "index": index,
            "collection": "incidents",
            "id": change.id,
            "status": "applied",
            "conflicts": 0,
        }
        self._targets[index] = work

    def _open_incident(self, change: IncidentEdit, stored: StoredRecord | None) -> _Incident:
        who = self.who
        if stored is not None:
            values = dict(stored.doc.get("fields", {}))
            values[DELETED] = stored.deleted
            for name, value in (stored.pii or {}).items():
                values[f"pii.{name}"] = value
            state = RecordState(values, {k: list(v) for k, v in stored.clocks.items()})
            return _Incident(
                change.id,
                stored.station_id,
                stored.author_officer,
                stored.author_device,
                state,
                stored,
                seq=stored.seq,
            )
        if change.op == "delete":
            raise RecordNotFound("there is no such incident to delete", {"id": change.id})
        missing = [n for n in REQUIRED_ON_CREATE if n not in change.fields]
        if missing:
            raise ChangeError("a new incident needs these fields", {"missing": missing})
        station = who.station_id or ""
        return _Incident(change.id, station, who.officer_id, who.device_id, RecordState(), None)

    def _apply_entry(self, index: int, change: LogEntryChange) -> None:
        device = self.who.device_id
        existing = self._existing_link(change.id)
        computed = entry_hash(device, change)
        appended = check_link(
            self._head, device, change.n, change.prev_hash, change.hash, computed, existing
        )
        if appended:
            self._check_amends(change)
            entry = _Entry(change, computed)
            self._entries[change.id] = entry
            self._head = ChainHead(device, change.n, computed)
            self._head_moved = True
            self._targets[index] = entry
        else:
            self._targets[index] = self._entries.get(change.id) or self._stored_logs[change.id]
        self._results[index] = {
            "index": index,
            "collection": "patrol_logs",
            "id": change.id,
            "status": "applied" if appended else "unchanged",
        }

    def _existing_link(self, entry_id: str) -> ExistingLink | None:
        if entry_id in self._entries:
            return ExistingLink(self._entries[entry_id].hash)
        stored = self._stored_logs.get(entry_id)
        if stored is None:
            return None
        if stored.author_device != self.who.device_id:
            raise ChainFork("this entry id is taken by another device's chain", {"id": entry_id})
        return ExistingLink(str(stored.doc["hash"]))

    def _check_amends(self, change: LogEntryChange) -> None:
        target = change.body.amends
        if target is None or target in self._entries:
            return
        stored = self._stored_logs.get(target)
        if stored is None or stored.station_id != self.who.station_id:
            raise AmendTargetMissing("the amended entry does not exist", {"amends": target})

    async def finish(
        self, unit: PushUnit
    ) -> tuple[list[RecordWrite], list[Conflict], list[ChainHead]]:
        """Number what changed and build the writes."""
        incidents = [w for w in self._incidents.values() if w.changed]
        entries = list(self._entries.values())
        count = len(incidents) + len(entries) + self._acks.count()
        first = await unit.allocate(count) if count else 0
        numbered: list[_Incident | _Entry] = [*incidents, *entries]
        for offset, item in enumerate(numbered):
            item.seq = first + offset
        self._acks.number(first + len(numbered))
        writes = self._incident_writes(incidents) + [self._entry_write(e) for e in entries]
        writes += self._acks.writes(self.now)
        # A losing change may leave its record unchanged: its conflicts are kept all the same.
        conflicts = [c for w in self._incidents.values() if w.conflicts for c in self._conflicts(w)]
        heads = [self._head] if self._head_moved and self._head else []
        for index, target in self._targets.items():
            self._results[index]["seq"] = target.seq
        return writes, conflicts, heads

    def _incident_writes(self, works: list[_Incident]) -> list[RecordWrite]:
        derived = self._derive(
            [w for w in works if w.fresh is None and (w.replace_place or w.stored is None)]
        )
        out = []
        for work in works:
            if work.fresh is not None:
                out.append(self._fresh_write(work, work.fresh))
                continue
            number_clocks(work.state, work.seq)
            extra = derived.get(work.id)
            if extra is None and work.stored is not None:
                extra = work.stored.doc.get("derived", {})
            out.append(self._incident_write(work, extra or {}))
        return out

    def _fresh_write(self, work: _Incident, fresh: _Fresh) -> RecordWrite:
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
            updated_ms=self.now,
            is_new=True,
            point=fresh.point,
        )

    def _derive(self, works: list[_Incident]) -> dict[str, dict[str, Any]]:
        if not works or self.enricher is None:
            return {}
        inputs = [{**_public(w.state.values), "station_id": w.station_id} for w in works]
        return {w.id: d for w, d in zip(works, self.enricher(inputs), strict=True)}

    def _incident_write(self, work: _Incident, derived: dict[str, Any]) -> RecordWrite:
        values = work.state.values
        pii = _pii(values)
        public = _public(values)
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
            updated_ms=self.now,
            is_new=work.stored is None,
            point=incident_point(
                work.id, work.station_id, work.seq, work.state.deleted, public, derived
            ),
        )

    def _entry_write(self, entry: _Entry) -> RecordWrite:
        who, change = self.who, entry.change
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
            updated_ms=self.now,
            is_new=True,
            track=self._track(change),
        )

    def _track(self, change: LogEntryChange) -> TrackPoint | None:
        body = change.body
        if body.lon_e6 is None or body.lat_e6 is None:
            return None
        return TrackPoint(
            entry_id=change.id,
            device_id=self.who.device_id,
            officer_id=self.who.officer_id,
            station_id=self.who.station_id or "",
            at_s=int(datetime.fromisoformat(body.at).timestamp()),
            lon=body.lon_e6 / 1e6,
            lat=body.lat_e6 / 1e6,
        )

    def _conflicts(self, work: _Incident) -> list[Conflict]:
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
                created_ms=self.now,
            )
            for c in work.conflicts
        ]

    def results(self) -> list[dict[str, Any]]:
        return [self._results[i] for i in sorted(self._results)]

    def counts(self) -> dict[str, int]:
        return dict(Counter(result["status"] for result in self._results.values()))


def _rejected(index: int, raw: Any, exc: ChangeError) -> dict[str, Any]:
    result: dict[str, Any] = {"index": index, "status": "rejected", "error": exc.as_dict()}
    if isinstance(raw, dict):
        for key in ("collection", "id"):
            if isinstance(raw.get(key), str):
                result[key] = raw[key][:64]
    return result


def _updates(change: IncidentEdit) -> dict[str, Any]:
    if change.op == "delete":
        return {DELETED: True}
    updates = dict(change.fields)
    for name, value in change.pii.items():
        updates[f"pii.{name}"] = value
    updates[DELETED] = False
    return updates


def _collection(change: Change) -> str:
    if isinstance(change, NoticeAckChange):
        return NOTICE_ACKS
    return "incidents" if isinstance(change, IncidentEdit) else "patrol_logs"


def _pii(values: dict[str, Any]) -> dict[str, Any]:
    """The personal data of a record's values (empty lists left out)."""
    return {k[4:]: v for k, v in values.items() if k.startswith("pii.") and v}


def _public(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != DELETED and not k.startswith("pii.")}


def rewrite_derived(
    record: StoredRecord, derived: dict[str, Any], seq: int, now: int
) -> RecordWrite:
    """A new version of a stored incident with only its derived part replaced."""
    doc = {**record.doc, "seq": seq, "derived": derived}
    return RecordWrite(
        collection=record.collection,
        id=record.id,
        station_id=record.station_id,
        seq=seq,
        deleted=record.deleted,
        doc=orjson.dumps(doc).decode(),
        clocks=orjson.dumps(record.clocks).decode(),
        pii=orjson.dumps(record.pii).decode() if record.pii else None,
        author_officer=record.author_officer,
        author_device=record.author_device,
        chain_n=record.chain_n,
        updated_ms=now,
        is_new=False,
        point=incident_point(
            record.id, record.station_id, seq, record.deleted, record.doc["fields"], derived
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
        occurred_s=int(datetime.fromisoformat(occurred).timestamp()),
        lon=lon,
        lat=lat,
        district=derived.get("district"),
        sector=derived.get("sector"),
        cell=int(cell, 16) if cell else None,
        deleted=deleted,
        seq=seq,
    )
