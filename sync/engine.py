"""Push and pull over the storage port.

The engine validates a batch change by change, merges under the store's write lock, numbers
what changed, and writes records, conflicts, chain heads and the batch's answer in one unit,
so a retried batch gets the very answer it got the first time (promise 2).  Pushes that
arrive while a unit is being written are written together in the next one (group commit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from sync.clock import Stamp, check_skew, now_ms, parse_stamp
from sync.cursor import format_cursor, parse_cursor
from sync.errors import (
    BatchIdReused,
    ChangeError,
    Forbidden,
    InvalidJSON,
    NotAllowed,
    OutOfScope,
    ReadOnlyRole,
)
from sync.free_text import without_free_text
from sync.group_commit import GroupCommit, Taker
from sync.protocol import Change, IncidentEdit, LogEntryChange, check_size, parse_envelope
from sync.protocol_fast import fast_push, fast_request_hash, parse_change, stamp_wall_ms
from sync.push_batch import PushWork
from sync.push_writes import rewrite_derived
from sync.store.base import PushUnit, Store
from sync.store.records import Identity, PullScope, RecordWrite, StoredAnswer, UnitReads
from sync.wire_json import load_json, request_hash

# Derived fields (district, sector, cell, ...) for incidents whose place changed, in one call
# per push so placement can be vectorised.  Injected by the server; sync never imports geo.
Enricher = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]

WRITER_ROLES = frozenset({"officer", "chief"})
DELETER_ROLES = frozenset({"chief"})


@dataclass(frozen=True, slots=True)
class SyncLimits:
    max_changes: int = 1000
    max_clock_ahead_ms: int = 300_000
    pull_default_limit: int = 500
    pull_max_limit: int = 5000
    group_max_changes: int = 20_000  # changes written in one group commit at most
    pii_roles: frozenset[str] = frozenset({"chief"})
    all_station_roles: frozenset[str] = frozenset({"analyst"})


@dataclass(frozen=True, slots=True)
class Committed:
    """What one commit changed, for listeners (called after the commit, never before)."""

    collections: frozenset[str]
    stations: frozenset[str]
    first_seq: int
    last_seq: int
    tracks: bool


Listener = Callable[[Committed], None]


@dataclass(slots=True)
class PushOutcome:
    answer: bytes
    replayed: bool
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Pending:
    """A validated, prepared push waiting for its group's transaction."""

    work: PushWork
    batch_id: str
    request_hash: str
    device_time_ms: int | None
    # The hash the other path (fast or general) gives the same changes, computed on demand.
    other_hash: Callable[[], str | None]

    def same_request(self, stored_hash: str) -> bool:
        """Whether a batch stored with ``stored_hash`` held these changes.  The two paths
        hash different encodings, which differ in form (1 and 1.0): a batch stored by one
        may be retried through the other (or was stored by an older version)."""
        return stored_hash == self.request_hash or stored_hash == self.other_hash()


class SyncEngine:
    """The sync engine for one store."""

    def __init__(
        self,
        store: Store,
        limits: SyncLimits | None = None,
        enricher: Enricher | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.limits = limits or SyncLimits()
        self.enricher = enricher
        self.clock = clock
        # Synchronous and quick (mark caches stale, wake a task); they must not raise.
        self.listeners: list[Listener] = []
        self._group: GroupCommit[_Pending, PushOutcome] = GroupCommit(
            self._write_group, self.limits.group_max_changes
        )

    async def push_json(self, who: Identity, body: bytes) -> PushOutcome:
        """Apply a push from its JSON bytes.  When every change is a well-formed incident
        change (the usual push) they are decoded straight into checked changes; anything
        else goes the general way, ``push``, which says what is wrong change by change."""
        fast = fast_push(body)
        if fast is None:
            return await self.push(who, load_json(body))
        check_size(len(fast.changes), self.limits.max_changes)
        now = self.clock()
        work = PushWork(who, now, self.enricher, self.limits.pii_roles)
        # The usual change passes every check below: said once per push, not per change
        # (the checks, which say what is wrong, run for the others).
        latest_ms = now + self.limits.max_clock_ahead_ms
        may_write = who.role in WRITER_ROLES and who.station_id is not None
        may_delete = may_write and who.role in DELETER_ROLES
        for index, edit in enumerate(fast.changes):
            wall_ms = stamp_wall_ms(edit.hlc)
            if (
                wall_ms is not None
                and wall_ms <= latest_ms
                and may_write
                and (may_delete or edit.op != "delete")
            ):
                work.accept(index, edit, None)
                continue
            try:
                stamp = parse_stamp(edit.hlc)
                check_skew(stamp, now, self.limits.max_clock_ahead_ms)
                _check_write(who, edit)
            except ChangeError as exc:
                work.reject(index, {"collection": "incidents", "id": edit.id}, exc)
                continue
            work.accept(index, edit, stamp)
        work.prepare()
        pending = _Pending(
            work,
            fast.batch_id,
            fast.request_hash,
            fast.device_time_ms,
            lambda: _general_hash(body),
        )
        return await self._group.submit(pending, max(1, len(fast.changes)))

    async def push(self, who: Identity, body: Any) -> PushOutcome:
        """Apply a push body (its JSON value) from an authenticated device."""
        envelope = parse_envelope(body, self.limits.max_changes)
        now = self.clock()
        work = PushWork(who, now, self.enricher, self.limits.pii_roles)
        for index, raw in enumerate(envelope.changes):
            try:
                change, stamp = parse_change(raw)
                check_skew(stamp, now, self.limits.max_clock_ahead_ms)
                _check_write(who, change)
            except ChangeError as exc:
                work.reject(index, raw, exc)
                continue
            work.accept(index, change, stamp)
        work.prepare()  # outside the write lock: other pushes write meanwhile
        pending = _Pending(
            work,
            envelope.batch_id,
            request_hash(envelope.changes),
            envelope.device_time_ms,
            lambda: fast_request_hash(envelope.changes),
        )
        return await self._group.submit(pending, max(1, len(envelope.changes)))

    async def _write_group(self, take: Taker[_Pending]) -> list[PushOutcome | BaseException]:
        """Apply pushes in order in one unit (each sees the writes before it); one commit.
        The group is taken once the unit holds the write lock (sync/group_commit.py)."""
        outcomes: list[PushOutcome | BaseException] = []
        all_writes: list[RecordWrite] = []
        async with self.store.push_unit() as unit:
            group = take()
            await unit.prefetch(_reads_of(group))
            for pending in group:
                try:
                    outcome, writes = await self._write_one(unit, pending)
                except BatchIdReused as exc:  # refused before it wrote anything
                    outcomes.append(exc)
                    continue
                outcomes.append(outcome)
                all_writes.extend(writes)
        self._notify(all_writes)
        return outcomes

    async def _write_one(
        self, unit: PushUnit, pending: _Pending
    ) -> tuple[PushOutcome, list[RecordWrite]]:
        work = pending.work
        device_id = work.who.device_id
        stored = await unit.replay(device_id, pending.batch_id)
        if stored is not None:
            if not pending.same_request(stored.request_hash):
                raise BatchIdReused(
                    "this batch id was used before for other changes",
                    {"batch_id": pending.batch_id},
                )
            return PushOutcome(stored.answer, True), []
        await work.apply(unit)
        writes, conflicts, heads = await work.finish(unit)
        counts = work.counts()
        answer = _answer(pending.batch_id, work.now, pending.device_time_ms, work.results(), counts)
        stored_answer = StoredAnswer(
            device_id, pending.batch_id, pending.request_hash, answer, work.now
        )
        await unit.save(writes, conflicts, heads, stored_answer, work.marks)
        return PushOutcome(answer, False, counts), writes

    async def pull(self, who: Identity, cursor: str | None, limit: int | None) -> bytes:
        """One page of changes after ``cursor`` in the caller's scope, as JSON bytes."""
        return (await self.pull_page(who, cursor, limit))[0]

    async def pull_page(
        self, who: Identity, cursor: str | None, limit: int | None
    ) -> tuple[bytes, int]:
        """A pull page and how many of its records carried personal data (for the audit)."""
        # Read before the rows: a cursor given by any process is within this state.
        state = await self.store.sync_state()
        after = parse_cursor(cursor, state)
        size = min(limit or self.limits.pull_default_limit, self.limits.pull_max_limit)
        scope = self.scope(who)
        rows = await self.store.pull(scope, after, size + 1)
        has_more = len(rows) > size
        rows = rows[:size]
        if scope.pii == "none":  # no personal data to add, and no free text either
            parts = [without_free_text(r.doc) for r in rows]
        else:
            parts = [r.doc if r.pii is None else f'{r.doc[:-1]},"pii":{r.pii}}}' for r in rows]
        next_cursor = format_cursor(state.epoch, rows[-1].seq if rows else after)
        head = f'{{"changes":[{",".join(parts)}],"cursor":"{next_cursor}",'
        tail = f'"has_more":{"true" if has_more else "false"},"server_time_ms":{self.clock()}}}'
        return (head + tail).encode(), sum(1 for r in rows if r.pii is not None)

    async def rederive(self, page: int = 500) -> int:
        """Recompute the derived part of every incident (after boundaries change).

        Records whose derived part changes get a new version, so devices pull the new
        district, sector and cell. Returns how many changed.
        """
        if self.enricher is None:
            return 0
        last, after, changed = await self.store.last_seq(), 0, 0
        everything = PullScope(None, "none", "")
        while after < last:
            rows = await self.store.pull(everything, after, page)
            if not rows:
                break
            after = rows[-1].seq
            ids = [
                doc["id"]
                for doc in map(orjson.loads, (r.doc for r in rows))
                if doc["collection"] == "incidents"
            ]
            changed += await self._rederive_page(ids)
        return changed

    async def _rederive_page(self, ids: list[str]) -> int:
        assert self.enricher is not None
        async with self.store.push_unit() as unit:
            records = list((await unit.load("incidents", ids)).values())
            inputs = [{**r.doc["fields"], "station_id": r.station_id} for r in records]
            derived = self.enricher(inputs)
            moved = [
                (r, d) for r, d in zip(records, derived, strict=True) if d != r.doc.get("derived")
            ]
            if not moved:
                return 0
            first = await unit.allocate(len(moved))
            now = self.clock()
            writes = [rewrite_derived(r, d, first + i, now) for i, (r, d) in enumerate(moved)]
            await unit.save(writes, [], [], None)
        self._notify(writes)
        return len(moved)

    def _notify(self, writes: list[RecordWrite]) -> None:
        """Tell listeners (tile caches, hotspot recomputation) what a commit changed."""
        if not writes or not self.listeners:
            return
        committed = Committed(
            collections=frozenset(w.collection for w in writes),
            stations=frozenset(w.station_id for w in writes),
            first_seq=min(w.seq for w in writes),
            last_seq=max(w.seq for w in writes),
            tracks=any(w.track is not None for w in writes),
        )
        for listener in self.listeners:
            listener(committed)

    def scope(self, who: Identity) -> PullScope:
        """What this identity may read (promise 7)."""
        if who.role == "admin":
            raise Forbidden("administrators manage devices; they do not sync records")
        if who.role in self.limits.all_station_roles:
            stations: tuple[str, ...] | None = None
        elif who.station_id is None:
            raise Forbidden("this officer has no station, so nothing to sync")
        else:
            stations = (who.station_id,)
        if who.role in self.limits.pii_roles:
            pii = "all"
        elif who.role in WRITER_ROLES:
            pii = "own"
        else:
            pii = "none"
        return PullScope(stations, pii, who.officer_id)  # type: ignore[arg-type]


def _reads_of(group: list[_Pending]) -> UnitReads:
    """Everything the group's pushes will read in their unit."""
    reads = UnitReads()
    for pending in group:
        reads.answers.add((pending.work.who.device_id, pending.batch_id))
        pending.work.reads(reads)
    return reads


def _general_hash(body: bytes) -> str | None:
    """The general path's request hash of a body the fast path took."""
    try:
        return request_hash(load_json(body)["changes"])
    except InvalidJSON:  # orjson stricter than msgspec somewhere: then it is not a match
        return None


def _check_write(who: Identity, change: Change) -> None:
    if who.role not in WRITER_ROLES:
        raise ReadOnlyRole(f"the role {who.role!r} cannot write records", {"role": who.role})
    if who.station_id is None:
        raise OutOfScope("this officer has no station")
    if isinstance(change, IncidentEdit) and change.op == "delete" and who.role not in DELETER_ROLES:
        raise NotAllowed("only a chief may delete an incident", {"role": who.role})
    if isinstance(change, LogEntryChange) and change.body.kind == "correction":
        _require_amends(change)


def _require_amends(change: LogEntryChange) -> None:
    if change.body.amends is None:
        raise NotAllowed("a correction must name the entry it amends (body.amends)")


def _answer(
    batch_id: str,
    now: int,
    device_time_ms: int | None,
    results: list[dict[str, Any]],
    counts: dict[str, int],
) -> bytes:
    summary = {status: counts.get(status, 0) for status in ("applied", "unchanged", "rejected")}
    body: dict[str, Any] = {
        "batch_id": batch_id,
        "server_time_ms": now,
        "results": results,
        "summary": summary,
    }
    if device_time_ms is not None:
        body["clock_offset_ms"] = now - device_time_ms
    return orjson.dumps(body)


__all__ = ["Committed", "Enricher", "Listener", "PushOutcome", "Stamp", "SyncEngine", "SyncLimits"]
