"""One push being applied: per-change results, working record states, and the writes.

Kept apart from ``sync.engine`` so the engine reads as the protocol's steps and this module
as the bookkeeping between them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sync.clock import Stamp
from sync.errors import (
    AmendTargetMissing,
    ChainFork,
    ChangeError,
    InvalidField,
    NotAllowed,
    OutOfScope,
    RecordNotFound,
)
from sync.merge import (
    DELETED,
    ExistingLink,
    RecordState,
    check_link,
    merge_fields,
    number_clocks,
)
from sync.notice_acks import AckTarget, AckWork
from sync.protocol import Change, IncidentEdit, LogEntryChange, entry_hash
from sync.protocol_notices import NOTICE_ACKS, NoticeAckChange
from sync.push_writes import (
    EntryWork,
    Fresh,
    FreshBuilder,
    IncidentWork,
    conflict_rows,
    entry_write,
    fresh_write,
    incident_write,
    public_of,
)
from sync.store.base import PushUnit
from sync.store.records import (
    ChainHead,
    Conflict,
    Identity,
    MarkKey,
    RecordWrite,
    StoredRecord,
    UnitReads,
)

PLACE_FIELDS = frozenset({"location", "address_text"})
REQUIRED_ON_CREATE = ("category", "occurred_at")


class PushWork:
    """The state of one push between validation and the write."""

    def __init__(
        self,
        who: Identity,
        now: int,
        enricher: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None,
        pii_roles: frozenset[str],
    ) -> None:
        self.who = who
        self.pii_roles = pii_roles
        self.now = now
        self.enricher = enricher
        self._invalid: dict[int, dict[str, Any]] = {}  # refused before the write lock
        self._results: dict[int, dict[str, Any]] = {}
        self._targets: dict[int, IncidentWork | EntryWork | StoredRecord | AckTarget] = {}
        self._acks = AckWork(who)  # notice acknowledgements (sync.notice_acks)
        self._accepted: list[tuple[int, Change, Stamp | None]] = []
        self._incidents: dict[str, IncidentWork] = {}
        self._entries: dict[str, EntryWork] = {}
        self._stored_logs: dict[str, StoredRecord] = {}
        self._head: ChainHead | None = None
        self._head_moved = False
        self._fresh: dict[str, Fresh] = {}
        self.marks: set[MarkKey] = set()  # attachment_mark's rows this push writes

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
        fresh = FreshBuilder(self.who)
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
        self.marks = set()
        incident_ids, log_ids = self._ids()
        stored = await unit.load("incidents", sorted(incident_ids))
        self._stored_logs = await unit.load("patrol_logs", sorted(log_ids))
        if log_ids:
            self._head = await unit.chain_head(self.who.device_id)
        await self._acks.load(unit, self._ack_changes())
        issued = await self._issued(unit, stored)
        for index, change, _stamp in self._accepted:
            try:
                if isinstance(change, IncidentEdit):
                    _check_base_seq(change, stored.get(change.id), issued)
                    self._apply_incident(index, change, stored.get(change.id))
                elif isinstance(change, NoticeAckChange):
                    self._results[index], self._targets[index] = self._acks.apply(index, change)
                else:
                    self._apply_entry(index, change)
            except ChangeError as exc:
                raw = {"collection": _collection(change), "id": change.id}
                self._results[index] = _rejected(index, raw, exc)

    async def _issued(self, unit: PushUnit, stored: dict[str, StoredRecord]) -> int | None:
        """The last sequence number issued, read only when a change to a record the store
        does not hold names a ``base_seq`` (rare: a device sends 0 for a new record)."""
        for _, change, _ in self._accepted:
            if isinstance(change, IncidentEdit) and change.base_seq and change.id not in stored:
                return await unit.allocate(0) - 1  # reserves nothing: the next number, less 1
        return None

    def reads(self, into: UnitReads) -> None:
        """Add what ``apply`` will read to a group's reads (read ahead, a query per table)."""
        incident_ids, log_ids = self._ids()
        if incident_ids:
            into.add_records("incidents", incident_ids)
        if log_ids:
            into.add_records("patrol_logs", log_ids)
            into.heads.add(self.who.device_id)
        self._acks.reads(self._ack_changes(), into)

    def _ids(self) -> tuple[set[str], set[str]]:
        """The incidents and the patrol-log entries this push reads."""
        incident_ids: set[str] = set()
        log_ids: set[str] = set()
        for _, c, _ in self._accepted:
            if isinstance(c, IncidentEdit):
                incident_ids.add(c.id)
            elif isinstance(c, LogEntryChange):
                log_ids.add(c.id)
                if c.body.amends:
                    log_ids.add(c.body.amends)
        return incident_ids, log_ids

    def _ack_changes(self) -> list[NoticeAckChange]:
        return [c for _, c, _ in self._accepted if isinstance(c, NoticeAckChange)]

    def _apply_incident(
        self, index: int, change: IncidentEdit, stored: StoredRecord | None
    ) -> None:
        fresh = self._fresh.get(change.id)
        if fresh is not None and stored is None:
            self._apply_fresh(index, change, fresh)
            return
        work = self._incidents.get(change.id) or self._open_incident(change, stored)
        if work.station_id != self.who.station_id:
            raise OutOfScope("this record belongs to another station", {"id": change.id})
        if work.author_officer != self.who.officer_id and self.who.role not in self.pii_roles:
            _check_blind_write(change, work.state.values)
        merged = merge_fields(
            work.state, _updates(change), change.hlc, self.who.device_id, change.base_seq
        )
        self._incidents[change.id] = work
        self._note_marks(change)
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

    def _note_marks(self, change: IncidentEdit) -> None:
        """A file the change names ``pii: true`` is personal data from now on, in every
        record (docs/attachments.md, "The pii mark"); so is one a patrol-log entry marks
        (``_apply_entry``)."""
        refs = change.fields.get("attachments") if change.op == "upsert" else None
        for ref in refs or []:
            if isinstance(ref, dict) and ref.get("pii") is True:
                self.marks.add(("incidents", change.id, str(ref["sha256"])))

    def _apply_fresh(self, index: int, change: IncidentEdit, fresh: Fresh) -> None:
        self._note_marks(change)
        who = self.who
        work = IncidentWork(
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

    def _open_incident(self, change: IncidentEdit, stored: StoredRecord | None) -> IncidentWork:
        who = self.who
        if stored is not None:
            values = dict(stored.doc.get("fields", {}))
            values[DELETED] = stored.deleted
            for name, value in (stored.pii or {}).items():
                values[f"pii.{name}"] = value
            state = RecordState(values, {k: list(v) for k, v in stored.clocks.items()})
            return IncidentWork(
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
        return IncidentWork(change.id, station, who.officer_id, who.device_id, RecordState(), None)

    def _apply_entry(self, index: int, change: LogEntryChange) -> None:
        device = self.who.device_id
        existing = self._existing_link(change.id)
        computed = entry_hash(device, change)
        appended = check_link(
            self._head, device, change.n, change.prev_hash, change.hash, computed, existing
        )
        if appended:
            self._check_amends(change)
            entry = EntryWork(change, computed)
            self._entries[change.id] = entry
            self._head = ChainHead(device, change.n, computed)
            self._head_moved = True
            self._targets[index] = entry
            for ref in change.body.attachments or []:
                if ref.pii:  # as an incident's mark (_note_marks): the file's, everywhere
                    self.marks.add(("patrol_logs", change.id, ref.sha256))
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
        numbered: list[IncidentWork | EntryWork] = [*incidents, *entries]
        for offset, item in enumerate(numbered):
            item.seq = first + offset
        self._acks.number(first + len(numbered))
        writes = self._incident_writes(incidents) + [
            entry_write(self.who, e, self.now) for e in entries
        ]
        writes += self._acks.writes(self.now)
        # A losing change may leave its record unchanged: its conflicts are kept all the same.
        conflicts = [
            c for w in self._incidents.values() if w.conflicts for c in conflict_rows(w, self.now)
        ]
        heads = [self._head] if self._head_moved and self._head else []
        for index, target in self._targets.items():
            self._results[index]["seq"] = target.seq
        return writes, conflicts, heads

    def _incident_writes(self, works: list[IncidentWork]) -> list[RecordWrite]:
        derived = self._derive(
            [w for w in works if w.fresh is None and (w.replace_place or w.stored is None)]
        )
        out = []
        for work in works:
            if work.fresh is not None:
                out.append(fresh_write(work, work.fresh, self.now))
                continue
            number_clocks(work.state, work.seq)
            extra = derived.get(work.id)
            if extra is None and work.stored is not None:
                extra = work.stored.doc.get("derived", {})
            out.append(incident_write(work, extra or {}, self.now))
        return out

    def _derive(self, works: list[IncidentWork]) -> dict[str, dict[str, Any]]:
        if not works or self.enricher is None:
            return {}
        inputs = [{**public_of(w.state.values), "station_id": w.station_id} for w in works]
        return {w.id: d for w, d in zip(works, self.enricher(inputs), strict=True)}

    def results(self) -> list[dict[str, Any]]:
        return [self._results[i] for i in sorted(self._results)]

    def counts(self) -> dict[str, int]:
        return dict(Counter(result["status"] for result in self._results.values()))


def _check_base_seq(change: IncidentEdit, stored: StoredRecord | None, issued: int | None) -> None:
    """Refuse a ``base_seq`` that names a version never issued: above the record's current
    seq, or, for a record the store does not hold, above the last seq issued at all. It
    would mark every current value as seen and keep the overwrite out of the conflict log
    (base_seq 10^30 did)."""
    if stored is not None and change.base_seq > stored.seq:
        raise InvalidField(
            "base_seq is newer than any version of this record",
            {"field": "base_seq", "seq": stored.seq},
        )
    if stored is None and issued is not None and change.base_seq > issued:
        raise InvalidField(
            "base_seq is newer than any version the server has given",
            {"field": "base_seq", "seq": 0},
        )


def _rejected(index: int, raw: Any, exc: ChangeError) -> dict[str, Any]:
    result: dict[str, Any] = {"index": index, "status": "rejected", "error": exc.as_dict()}
    if isinstance(raw, dict):
        for key in ("collection", "id"):
            if isinstance(raw.get(key), str):
                result[key] = raw[key][:64]
    return result


def _check_blind_write(change: IncidentEdit, stored: dict[str, Any]) -> None:
    """A writer who may not read an incident's personal data (an officer on another
    officer's incident) may not write it either: they would overwrite lists they cannot see
    (the chief then reads the overwrite) or, by sending the attachments list without an
    attachment's ``pii`` mark, hand a victim's photo to every role in scope. Nor may they take
    a marked attachment off the list: cleared and then named again unmarked, it was served
    to them (security review, 2026-12-05)."""
    if change.pii:
        raise NotAllowed(
            "only the incident's author or a chief may write its personal data",
            {"field": "pii", "fields": sorted(change.pii)},
        )
    if "attachments" not in change.fields:
        return
    marked = {
        ref.get("sha256") for ref in stored.get("attachments") or [] if ref.get("pii") is True
    }
    kept = {
        ref.get("sha256") for ref in change.fields["attachments"] or [] if ref.get("pii") is True
    }
    lifted = sorted(marked - kept)
    if lifted:
        raise NotAllowed(
            "only the incident's author or a chief may remove an attachment marked pii or "
            "lift its mark",
            {"field": "fields.attachments", "sha256": lifted},
        )


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
