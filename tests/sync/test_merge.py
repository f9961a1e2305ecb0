"""Properties of the incident merge rule (sync/merge.py), checked against an oracle written
here: for each field, the write with the greatest (hybrid logical clock, device id) wins,
whatever order the writes arrive in. The convergence tests drive the same rule through the
whole server; these drive the pure function with every order hypothesis can think of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.merge import DELETED, RecordState, merge_fields, number_clocks

FIELDS = ("status", "category", "notes")
DEVICES = ("dev-a", "dev-b", "dev-c", "dev-d")


@dataclass(frozen=True)
class Write:
    hlc: str
    device: str
    values: dict[str, Any]
    base_seq: int = 0


def hlc(ms: int, counter: int) -> str:
    # The wire form (sync/clock.py): fixed-width, so string order is time order.
    return f"{ms:013d}-{counter:05d}"


@st.composite
def writes(draw: Any, devices: tuple[str, ...] = DEVICES, min_size: int = 1) -> list[Write]:
    """Writes with distinct (hlc, device) pairs: a device never stamps two writes alike.
    Clocks are drawn from a small range so that equal HLCs from different devices, the
    tie-break case, come up often."""
    stamps = draw(
        st.lists(
            st.tuples(st.integers(0, 5), st.integers(0, 2), st.sampled_from(devices)),
            min_size=min_size,
            max_size=8,
            unique=True,
        )
    )
    out = []
    for ms, counter, device in stamps:
        names = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True))
        values = {name: draw(st.integers(0, 3)) for name in names}
        out.append(Write(hlc(1_700_000_000_000 + ms, counter), device, values))
    return out


def apply_all(ordered: list[Write]) -> tuple[RecordState, list[Any]]:
    """Apply writes one push at a time, numbering each as the store does."""
    state = RecordState()
    conflicts: list[Any] = []
    for seq, write in enumerate(ordered, start=1):
        result = merge_fields(state, dict(write.values), write.hlc, write.device, write.base_seq)
        number_clocks(state, seq)
        conflicts += result.conflicts
    return state, conflicts


def oracle(all_writes: list[Write]) -> dict[str, tuple[Any, str, str]]:
    """Per field: (value, hlc, device) of the greatest (hlc, device) that wrote it."""
    best: dict[str, tuple[Any, str, str]] = {}
    for w in all_writes:
        for name, value in w.values.items():
            if name not in best or (w.hlc, w.device) > (best[name][1], best[name][2]):
                best[name] = (value, w.hlc, w.device)
    return best


def outcome(state: RecordState) -> dict[str, tuple[Any, str, str]]:
    return {name: (state.values[name], clock[0], clock[1]) for name, clock in state.clocks.items()}


@settings(max_examples=100, deadline=None)
@given(data=st.data(), ws=writes())
def test_any_arrival_order_gives_the_greatest_write_per_field(data: Any, ws: list[Write]) -> None:
    order = data.draw(st.permutations(ws))
    state, _ = apply_all(list(order))
    assert outcome(state) == oracle(ws)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), ws=writes())
def test_two_orders_converge(data: Any, ws: list[Write]) -> None:
    one, _ = apply_all(list(data.draw(st.permutations(ws))))
    other, _ = apply_all(list(data.draw(st.permutations(ws))))
    assert one.values == other.values
    assert {k: v[:2] for k, v in one.clocks.items()} == {k: v[:2] for k, v in other.clocks.items()}


@settings(max_examples=100, deadline=None)
@given(data=st.data(), ws=writes())
def test_a_write_applied_again_changes_nothing(data: Any, ws: list[Write]) -> None:
    """Exactly-once effect: a retried change (same HLC, same device) changes nothing, wherever
    in the history the retry lands. (Retries of a batch are answered from the stored answer
    before any merge; this is the rule's own guarantee for a change re-sent in a new batch.)
    A losing retry may report its loss against today's winner, and only its own loss: it
    never displaces or accuses the current value."""
    order = list(data.draw(st.permutations(ws)))
    state, _ = apply_all(order)
    before = outcome(state)
    again = data.draw(st.sampled_from(order))
    result = merge_fields(state, dict(again.values), again.hlc, again.device, again.base_seq)
    assert outcome(state) == before
    assert not result.changed and not result.touched
    for c in result.conflicts:
        assert (c.losing_hlc, c.losing_device) == (again.hlc, again.device)
        assert (c.winning_hlc, c.winning_device) == (
            state.clocks[c.field][0],
            state.clocks[c.field][1],
        )


@settings(max_examples=100, deadline=None)
@given(
    ms=st.integers(0, 10),
    devices=st.lists(st.sampled_from(DEVICES), min_size=2, max_size=4, unique=True),
    data=st.data(),
)
def test_equal_clocks_are_broken_by_device_id(ms: int, devices: list[str], data: Any) -> None:
    stamp = hlc(1_700_000_000_000 + ms, 0)
    ws = [Write(stamp, d, {"status": f"from {d}"}) for d in devices]
    state, _ = apply_all(list(data.draw(st.permutations(ws))))
    assert state.values["status"] == f"from {max(devices)}"
    assert state.clocks["status"][1] == max(devices)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), ws=writes(devices=("dev-a",)))
def test_one_device_never_conflicts_with_itself(data: Any, ws: list[Write]) -> None:
    """A device's own late write loses to its newer one silently: it had seen it."""
    _, conflicts = apply_all(list(data.draw(st.permutations(ws))))
    assert conflicts == []


@settings(max_examples=100, deadline=None)
@given(data=st.data(), ws=writes(min_size=2))
def test_every_concurrent_loser_is_logged_once(data: Any, ws: list[Write]) -> None:
    """Writes by different devices that had seen nothing (base_seq 0), with values all
    different: each write that is not its field's winner is logged as a losing value once,
    whatever the order (promise 4: nothing is dropped silently)."""
    by_device: dict[str, Write] = {}
    for w in ws:
        by_device.setdefault(w.device, w)  # one write per device: all are concurrent
    distinct = [
        Write(w.hlc, w.device, {name: f"{w.device}:{name}" for name in w.values})
        for w in by_device.values()
    ]
    _, conflicts = apply_all(list(data.draw(st.permutations(distinct))))
    winners = oracle(distinct)
    expected = sorted(
        (name, w.hlc, w.device)
        for w in distinct
        for name in w.values
        if (w.hlc, w.device) != winners[name][1:]
    )
    logged = sorted((c.field, c.losing_hlc, c.losing_device) for c in conflicts)
    assert logged == expected
    for c in conflicts:
        assert (c.winning_hlc, c.winning_device) > (c.losing_hlc, c.losing_device)
        assert c.losing_value == f"{c.losing_device}:{c.field}"


@settings(max_examples=100, deadline=None)
@given(
    delete_at=st.integers(0, 5),
    edit_at=st.integers(0, 5),
    devices=st.permutations(DEVICES[:2]),
    data=st.data(),
)
def test_deletion_is_a_field_like_any_other(
    delete_at: int, edit_at: int, devices: list[str], data: Any
) -> None:
    """docs/protocol.md: `_deleted` keeps the pair that wrote it, like every field. A delete
    and another device's edit of a different field both stand, in any order: an edit does not
    bring a deleted record back unless it writes `_deleted` itself, with a greater pair."""
    created = Write(hlc(1_700_000_000_000, 0), devices[0], {"status": "open", DELETED: False})
    delete = Write(hlc(1_700_000_000_001 + delete_at, 0), devices[0], {DELETED: True})
    edit = Write(hlc(1_700_000_000_001 + edit_at, 0), devices[1], {"notes": "seen"})
    undelete = Write(hlc(1_700_000_000_001 + edit_at, 1), devices[1], {DELETED: False})
    state, _ = apply_all([created, *data.draw(st.permutations([delete, edit]))])
    assert state.deleted and state.values["notes"] == "seen" and state.values["status"] == "open"
    state, _ = apply_all([created, *data.draw(st.permutations([delete, undelete]))])
    restored = (undelete.hlc, undelete.device) > (delete.hlc, delete.device)
    assert state.deleted is not restored
