"""What a push unit writes, kept in memory until the unit ends: one path for both databases.

A group of pushes (``sync.group_commit``) is applied in one unit.  Both adapters' units read
from their database (replay, records, chain head) and keep their writes here; later pushes of
the group read them back from here (``overlay``), and the unit writes everything at the end,
a few multi-row statements and one commit.  Only the statements differ: multi-row ``VALUES``
for sqlite3 (``sqlite_unit``), arrays through ``unnest`` for asyncpg (``sql_unit``).

Reads too are done for the whole group where they can be: ``prefetch`` reads every answer,
record and chain head the group's pushes will ask for (a query per table; one query in all on
PostgreSQL, where each is a round trip under the write lock), and the pushes then find them
here.  The unit holds the write lock from its start, so nothing it read changes
under it but its own writes, which the overlay gives first.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field

import orjson

from sync.clock import now_ms
from sync.store.base import PushUnit
from sync.store.records import (
    ChainHead,
    Conflict,
    IncidentPoint,
    MarkKey,
    RecordWrite,
    StoredAnswer,
    StoredRecord,
    TrackPoint,
    UnitReads,
)


@dataclass(slots=True)
class Flush:
    """Everything a unit writes at its end, one entry per row of each table.

    A record written twice in a unit is one row (its last version), so a database that
    refuses to touch a row twice in one statement (PostgreSQL's ``ON CONFLICT``) gets each
    row once; a second creation of an id is kept apart so the database still refuses it.
    """

    inserts: list[RecordWrite] = field(default_factory=list)
    updates: list[RecordWrite] = field(default_factory=list)
    tracks: list[TrackPoint] = field(default_factory=list)
    points: list[IncidentPoint] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    heads: list[ChainHead] = field(default_factory=list)
    answers: list[StoredAnswer] = field(default_factory=list)
    last_seq: int | None = None
    marks: list[tuple[str, str, str, int]] = field(default_factory=list)  # MarkKey, at ms


@dataclass(slots=True)
class ReadAhead:
    """What a unit's read-ahead found (a key it asked for and is absent here does not exist)."""

    answers: dict[tuple[str, str], StoredAnswer] = field(default_factory=dict)
    records: dict[tuple[str, str], StoredRecord] = field(default_factory=dict)  # (coll., id)
    heads: dict[str, ChainHead] = field(default_factory=dict)


class BufferedUnit(PushUnit):
    """The reads-through-writes bookkeeping of a push unit; subclasses read the database."""

    def __init__(self) -> None:
        self._seq: int | None = None  # the counter as this unit moved it
        self._records: dict[tuple[str, str], RecordWrite] = {}
        self._writes: list[RecordWrite] = []
        self._conflicts: list[Conflict] = []
        self._heads: dict[str, ChainHead] = {}
        self._answers: dict[tuple[str, str], StoredAnswer] = {}
        self._marks: set[MarkKey] = set()
        self._marked_ms = 0
        # What ``prefetch`` read from the database (None: read, and there is none).
        self._known_answers: dict[tuple[str, str], StoredAnswer | None] = {}
        self._known_records: dict[tuple[str, str], StoredRecord | None] = {}
        self._known_heads: dict[str, ChainHead | None] = {}

    # --- what a subclass reads from its database (many keys a query) ---
    @abstractmethod
    async def _read_answers(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredAnswer]: ...

    @abstractmethod
    async def _read_records(self, collection: str, ids: list[str]) -> dict[str, StoredRecord]: ...

    @abstractmethod
    async def _read_heads(self, device_ids: list[str]) -> dict[str, ChainHead]: ...

    @abstractmethod
    async def _read_counter(self) -> int: ...

    async def _read_ahead(self, reads: UnitReads) -> ReadAhead:
        """Everything ``reads`` names that the database holds; an adapter whose every query
        is a round trip may read it all in one."""
        ahead = ReadAhead()
        if reads.answers:
            ahead.answers = await self._read_answers(sorted(reads.answers))
        for collection, wanted in sorted(reads.records.items()):
            if wanted:
                found = await self._read_records(collection, sorted(wanted))
                ahead.records.update(((collection, i), r) for i, r in found.items())
        if reads.heads:
            ahead.heads = await self._read_heads(sorted(reads.heads))
        return ahead

    # --- the port ---
    async def prefetch(self, reads: UnitReads) -> None:
        ahead = await self._read_ahead(reads)
        self._known_answers.update((key, ahead.answers.get(key)) for key in reads.answers)
        self._known_records.update(
            ((collection, i), ahead.records.get((collection, i)))
            for collection, ids in reads.records.items()
            for i in ids
        )
        self._known_heads.update((device, ahead.heads.get(device)) for device in reads.heads)

    async def replay(self, device_id: str, batch_id: str) -> StoredAnswer | None:
        key = (device_id, batch_id)
        pending = self._answers.get(key)
        if pending is not None:
            return pending
        if key in self._known_answers:
            return self._known_answers[key]
        return (await self._read_answers([key])).get(key)

    async def load(self, collection: str, ids: list[str]) -> dict[str, StoredRecord]:
        out: dict[str, StoredRecord] = {}
        unknown: list[str] = []
        known = self._known_records
        for record_id in ids:
            key = (collection, record_id)
            if key not in known:
                unknown.append(record_id)
            elif (record := known[key]) is not None:
                # Shared by the pushes of the group that read it: merging only reads it.
                out[record_id] = record
        if unknown:
            out.update(await self._read_records(collection, unknown))
        if self._records:
            for record_id in ids:
                pending = self._records.get((collection, record_id))
                if pending is not None:
                    out[record_id] = stored_from_write(pending)
        return out

    async def chain_head(self, device_id: str) -> ChainHead | None:
        if device_id in self._heads:
            return self._heads[device_id]
        if device_id in self._known_heads:
            return self._known_heads[device_id]
        return (await self._read_heads([device_id])).get(device_id)

    async def allocate(self, count: int) -> int:
        if self._seq is None:
            self._seq = await self._read_counter()
        first = self._seq + 1
        self._seq += count
        return first

    async def save(
        self,
        writes: list[RecordWrite],
        conflicts: list[Conflict],
        heads: list[ChainHead],
        answer: StoredAnswer | None,
        marks: Collection[MarkKey] = (),
    ) -> None:
        self._writes.extend(writes)
        if marks:
            self._marks.update(marks)
            self._marked_ms = now_ms()
        for write in writes:
            self._records[write.collection, write.id] = write
        self._conflicts.extend(conflicts)
        for head in heads:
            self._heads[head.device_id] = head
        if answer is not None:
            self._answers[answer.device_id, answer.batch_id] = answer

    def mark_rows(self) -> list[tuple[str, str, str, int]]:
        """``attachment_mark``'s rows of the unit: (collection, record_id, sha256, at ms)."""
        return [(*key, self._marked_ms) for key in sorted(self._marks)]

    def flush(self) -> Flush:
        """The rows to write, each table's rows once (see ``Flush``)."""
        inserts: dict[tuple[str, str], RecordWrite] = {}
        updates: dict[tuple[str, str], RecordWrite] = {}
        again: list[RecordWrite] = []
        points: dict[str, IncidentPoint] = {}
        for w in self._writes:
            key = (w.collection, w.id)
            if w.is_new and (key in inserts or key in updates):
                again.append(w)  # created twice: the database refuses it, failing the unit
            elif w.is_new or key in inserts:
                inserts[key] = w  # a record created in this unit goes in as its last version
            else:
                updates[key] = w
            if w.point is not None:
                points[w.point.id] = w.point
        return Flush(
            inserts=[*inserts.values(), *again],
            updates=list(updates.values()),
            tracks=[w.track for w in self._writes if w.track is not None],
            points=list(points.values()),
            conflicts=self._conflicts,
            heads=list(self._heads.values()),
            answers=list(self._answers.values()),
            last_seq=self._seq,
            marks=self.mark_rows(),
        )


def stored_from_write(w: RecordWrite) -> StoredRecord:
    return StoredRecord(
        collection=w.collection,
        id=w.id,
        station_id=w.station_id,
        seq=w.seq,
        deleted=w.deleted,
        doc=orjson.loads(w.doc),
        clocks=orjson.loads(w.clocks),
        pii=orjson.loads(w.pii) if w.pii else None,
        author_officer=w.author_officer,
        author_device=w.author_device,
        chain_n=w.chain_n,
    )
