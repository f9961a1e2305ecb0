"""Merge rules: pure functions, no I/O.

Incidents merge per field, last writer wins on (hybrid logical clock, device id): the greatest
pair wins whatever the order messages arrive in, which is what makes devices converge
(promise 3).  A value that loses to a write its author had not seen is a conflict and is
returned so it can be logged (promise 4).  Patrol logs never merge: they are append-only
links of a hash chain per device (promise 9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.errors import ChainBroken, ChainFork, ChainGap, ChainTampered
from sync.store.records import ChainHead

DELETED = "_deleted"
PENDING = -1  # sequence of a field written earlier in the same, not yet numbered, push


@dataclass(slots=True)
class RecordState:
    """The mergeable state of one incident."""

    values: dict[str, Any] = field(default_factory=dict)
    clocks: dict[str, list[Any]] = field(default_factory=dict)  # field -> [hlc, device, seq]

    @property
    def deleted(self) -> bool:
        return bool(self.values.get(DELETED, False))

    def max_hlc(self) -> str:
        return max((c[0] for c in self.clocks.values()), default="")


@dataclass(frozen=True, slots=True)
class FieldConflict:
    field: str
    losing_value: Any
    losing_hlc: str
    losing_device: str
    winning_hlc: str
    winning_device: str


@dataclass(slots=True)
class MergeResult:
    changed: bool = False
    conflicts: list[FieldConflict] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)


def merge_fields(
    state: RecordState, updates: dict[str, Any], hlc: str, device: str, base_seq: int
) -> MergeResult:
    """Apply one change's field values to ``state`` in place.

    ``base_seq`` is the record version the device had seen: a current value written after it
    by another device is concurrent with this change.
    """
    result = MergeResult()
    if not state.clocks:
        # A new record: every value wins, nothing to compare (the common case, made cheap).
        state.values.update(updates)
        state.clocks.update({name: [hlc, device, PENDING] for name in updates})
        result.changed = bool(updates)
        result.touched = list(updates)
        return result
    incoming = (hlc, device)
    for name, value in updates.items():
        clock = state.clocks.get(name)
        if clock is None:
            _set(state, name, value, hlc, device, result)
            continue
        current = (clock[0], clock[1])
        if incoming == current:
            continue  # the very same write again: exactly-once effect
        old = state.values.get(name)
        # A stored sequence 0 is a creation numbered by an older version (it wrote 0, not
        # the seq): the creation had some seq >= 1, so base_seq 0 had not seen it.
        seen = clock[2] or 1
        concurrent = clock[1] != device and (seen == PENDING or seen > base_seq)
        if incoming > current:
            if concurrent and old != value:
                result.conflicts.append(FieldConflict(name, old, clock[0], clock[1], hlc, device))
            _set(state, name, value, hlc, device, result)
        elif old != value and clock[1] != device:
            # A device's own older write arriving late lost to its newer one: not a conflict.
            result.conflicts.append(FieldConflict(name, value, hlc, device, clock[0], clock[1]))
    return result


def _set(
    state: RecordState, name: str, value: Any, hlc: str, device: str, out: MergeResult
) -> None:
    state.values[name] = value
    state.clocks[name] = [hlc, device, PENDING]
    out.changed = True
    out.touched.append(name)


def number_clocks(state: RecordState, seq: int) -> None:
    """Give the fields written in this push the record's new sequence number."""
    for clock in state.clocks.values():
        if clock[2] == PENDING:
            clock[2] = seq


@dataclass(frozen=True, slots=True)
class ExistingLink:
    """An entry already stored under the same id (a retry, or a forgery)."""

    hash: str


def check_link(
    head: ChainHead | None,
    device_id: str,
    n: int,
    prev_hash: str,
    claimed_hash: str,
    computed_hash: str,
    existing: ExistingLink | None,
) -> bool:
    """Decide a patrol-log entry against its device's chain.

    Returns True to append, False for a retry of an entry already stored; raises a
    ``ChangeError`` for tampering, forks, gaps and broken links.
    """
    if claimed_hash != computed_hash:
        raise ChainTampered(
            "the entry's hash does not match its content",
            {"n": n, "expected_hash": computed_hash},
        )
    if existing is not None:
        if existing.hash == claimed_hash:
            return False
        raise ChainFork("another entry with this id is already in the chain", {"n": n})
    last_n = head.n if head else 0
    last_hash = head.hash if head else ""
    if n <= last_n:
        raise ChainFork(
            "the chain already has an entry at this position", {"n": n, "head_n": last_n}
        )
    if n > last_n + 1:
        raise ChainGap(
            "entries are missing before this one; send them first",
            {"n": n, "expected_n": last_n + 1},
        )
    if prev_hash != last_hash:
        raise ChainBroken(
            "prev_hash is not the hash of the previous entry",
            {"n": n, "expected_prev_hash": last_hash},
        )
    return True
