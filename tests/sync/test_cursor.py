"""Pull cursors: only the ones this database gave are accepted (both backends).

Expected answers are the protocol's (docs/protocol.md, "Pull paging"): a cursor is
``<epoch>.<seq>`` with 12 lowercase hex digits and a canonical decimal seq; anything else,
another epoch, or a seq beyond the last one given is 400 ``invalid_cursor``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from sync.clock import HybridClock
from sync.cursor import CURSOR_PATTERN, ISSUED_CURSOR_PATTERN, parse_cursor
from sync.engine import SyncEngine
from sync.errors import InvalidCursor
from sync.store.base import Store
from sync.store.records import SyncState
from sync.store.sql import SQLStore
from tests.support import People, batch, incident, new_id

ISSUED = re.compile(r"([0-9a-f]{12})\.(0|[1-9][0-9]*)")


def _schema_accepts(pattern: str, value: str) -> bool:
    """JSON Schema ``pattern`` (ECMA-262): ``$`` is the end, not "before a final newline"."""
    assert pattern.endswith("$")
    return re.search(pattern[:-1] + r"\Z", value) is not None


async def _push(engine: SyncEngine, people: People, count: int) -> None:
    clock = HybridClock()
    changes = [incident(new_id(), clock) for _ in range(count)]
    answer = orjson.loads((await engine.push(people.officer_a, batch(changes))).answer)
    assert [r["status"] for r in answer["results"]] == ["applied"] * count


async def _pull(engine: SyncEngine, people: People, cursor: str | None) -> dict[str, Any]:
    page: dict[str, Any] = orjson.loads(await engine.pull(people.officer_a, cursor, 1000))
    return page


async def _refused(engine: SyncEngine, people: People, cursor: str) -> str:
    with pytest.raises(InvalidCursor) as caught:
        await engine.pull(people.officer_a, cursor, 1000)
    assert caught.value.code == "invalid_cursor"
    return str(caught.value.details["reason"])


async def test_the_server_gives_epoch_dot_seq(engine: SyncEngine, people: People) -> None:
    first = await _pull(engine, people, None)
    found = ISSUED.fullmatch(first["cursor"])
    assert found is not None and found[2] == "0"
    await _push(engine, people, 3)
    page = await _pull(engine, people, first["cursor"])
    assert len(page["changes"]) == 3
    assert page["cursor"] == f"{found[1]}.{page['changes'][-1]['seq']}"
    assert _schema_accepts(ISSUED_CURSOR_PATTERN, page["cursor"])


async def test_a_cursor_never_issued_is_refused_and_later_records_still_come(
    engine: SyncEngine, people: People
) -> None:
    await _push(engine, people, 3)
    page = await _pull(engine, people, "")
    epoch, last = page["cursor"].split(".")
    # What the old server accepted (200, has_more false) and then never delivered past.
    assert await _refused(engine, people, str(int(last) + 100)) in ("not_issued", "epoch_changed")
    assert await _refused(engine, people, f"{epoch}.{int(last) + 100}") == "not_issued"
    assert await _refused(engine, people, f"{epoch}.{int(last) + 1}") == "not_issued"
    await _push(engine, people, 2)
    later = await _pull(engine, people, page["cursor"])
    assert len(later["changes"]) == 2


@pytest.mark.parametrize(
    "cursor",
    ["00", "01", "-1", "+1", " 1", "1 ", "1\n", "x", "²", "٣", "1e3", "0x10", "1.0", "."],
)
async def test_malformed_cursors_are_refused(
    engine: SyncEngine, people: People, cursor: str
) -> None:
    await _push(engine, people, 2)
    assert await _refused(engine, people, cursor) == "malformed"
    assert not _schema_accepts(CURSOR_PATTERN, cursor), "the OpenAPI pattern must refuse it too"


async def test_malformed_forms_of_an_issued_cursor_are_refused(
    engine: SyncEngine, people: People
) -> None:
    await _push(engine, people, 2)
    epoch, seq = (await _pull(engine, people, ""))["cursor"].split(".")
    for cursor in (
        f"{epoch}.0{seq}",
        f"{epoch.upper()}.{seq}" if epoch != epoch.upper() else f"{epoch}.{seq}x",
        f"{epoch[1:]}.{seq}",
        f"0{epoch}.{seq}",
        f"{epoch}.{seq}.{seq}",
        f"{epoch}.",
        f".{seq}",
        f"{epoch}-{seq}",
        f"{epoch}.{seq}\n",
    ):
        assert await _refused(engine, people, cursor) == "malformed", cursor
        assert not _schema_accepts(CURSOR_PATTERN, cursor), cursor


async def test_empty_and_zero_mean_from_the_beginning(engine: SyncEngine, people: People) -> None:
    await _push(engine, people, 2)
    for cursor in (None, "", "0"):
        assert len((await _pull(engine, people, cursor))["changes"]) == 2


async def test_a_new_epoch_refuses_every_cursor_given_before(
    store: Store, engine: SyncEngine, people: People
) -> None:
    await _push(engine, people, 2)
    old = (await _pull(engine, people, ""))["cursor"]
    start = (await _pull(engine, people, None))["cursor"]
    await store.new_epoch(0x0123456789AB)
    assert await _refused(engine, people, old) == "epoch_changed"
    assert await _refused(engine, people, start) == "epoch_changed"
    again = await _pull(engine, people, "")
    assert len(again["changes"]) == 2
    assert again["cursor"].startswith("0123456789ab.")
    assert len((await _pull(engine, people, again["cursor"]))["changes"]) == 0


async def test_a_database_gets_a_random_epoch(store: Store) -> None:
    epochs = {(await store.sync_state()).epoch}
    rng = random.Random(42)
    for _ in range(3):
        await store.new_epoch(rng.randrange(1, 16**12))
        epochs.add((await store.sync_state()).epoch)
    assert len(epochs) == 4 and 0 not in epochs


async def test_plain_number_cursors_of_an_upgraded_database(
    store: Store, engine: SyncEngine, people: People
) -> None:
    """A database from before epochs (no epoch row) is given one on open; the plain cursors
    its devices hold are accepted up to its last seq of that moment, and only until a new
    epoch."""
    assert isinstance(store, SQLStore)
    await _push(engine, people, 4)
    async with store.engine.begin() as conn:  # what an older server's database looks like
        await conn.execute(text("DELETE FROM counter WHERE name IN ('epoch', 'legacy_seq')"))
    reopened = SQLStore(store.url)
    await reopened.open()
    try:
        again = SyncEngine(reopened)
        state = await reopened.sync_state()
        assert state.legacy_seq == state.last_seq > 0
        await _push(again, people, 1)
        page = await _pull(again, people, str(state.last_seq - 2))
        assert len(page["changes"]) == 3
        assert page["cursor"] == f"{state.epoch:012x}.{state.last_seq + 1}"
        # One past the legacy bound was never given by the old server.
        assert await _refused(again, people, str(state.last_seq + 1)) == "not_issued"
        await reopened.new_epoch(state.epoch + 1)
        assert await _refused(again, people, str(state.last_seq - 2)) == "epoch_changed"
    finally:
        await reopened.close()


def test_the_openapi_pattern_reads_what_the_parser_reads() -> None:
    """Random strings over the cursor alphabet: the pattern accepts exactly the well-formed
    (a well-formed cursor may still be refused for its epoch or seq, never as malformed)."""
    rng = random.Random(42)
    alphabet = "0123456789abcdefA. -\n"
    everything = SyncState(0x5F3A9C2E71B4, 10**19, 10**19)
    for _ in range(20_000):
        cursor = "".join(rng.choice(alphabet) for _ in range(rng.choice([1, 2, 3, 13, 20])))
        if rng.random() < 0.3:
            cursor = f"{rng.choice([0x5F3A9C2E71B4, rng.randrange(16**12)]):012x}.{cursor}"
        try:
            parse_cursor(cursor, everything)
            well_formed = True
        except InvalidCursor as exc:
            well_formed = exc.details["reason"] != "malformed"
        assert _schema_accepts(CURSOR_PATTERN, cursor) == well_formed, cursor


async def test_every_new_database_gets_its_own_epoch(tmp_path: Path) -> None:
    epochs = []
    for name in ("one.db", "two.db"):
        store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / name}")
        await store.open()
        try:
            state = await store.sync_state()
        finally:
            await store.close()
        assert (state.last_seq, state.legacy_seq) == (0, None)
        epochs.append(state.epoch)
    assert epochs[0] != epochs[1] and 0 not in epochs
