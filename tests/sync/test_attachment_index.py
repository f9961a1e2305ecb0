"""The attachment table on both backends: add, read, quarantine and restore, daily bytes."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from sync.attachments.index import AttachmentIndex, AttachmentMeta, SQLiteAccess
from sync.store.base import Store


def meta(sha: str, size: int, at: int, device: str = "dev-1") -> AttachmentMeta:
    return AttachmentMeta(sha, size, "image/jpeg", "image/png", device, "off-a", "st-a", at)


@pytest.mark.parametrize("plain", [False, True], ids=["sqlalchemy", "plain-sqlite"])
async def test_index_round_trip_quarantine_and_daily_bytes(store: Store, plain: bool) -> None:
    """The same answers through SQLAlchemy and (SQLite only) the plain connections."""
    engine = store.engine  # type: ignore[attr-defined]
    commits: list[int] = []
    access = None
    if plain:
        if engine.dialect.name != "sqlite":
            pytest.skip("plain connections are SQLite's")
        access = SQLiteAccess(str(engine.url.database), "FULL", lambda: commits.append(1))
    index = AttachmentIndex(engine, access)
    try:
        await _round_trip(index)
    finally:
        index.close()
    if plain:  # each write told the WAL checkpointer
        assert len(commits) == 5


async def _round_trip(index: AttachmentIndex) -> None:
    big = 5 * 2**32  # past 32 bits: the size column is a BIGINT
    await index.add(meta("a" * 64, big, 1_000))
    await index.add(meta("b" * 64, 20, 2_000))
    await index.add(meta("c" * 64, 30, 3_000, device="dev-2"))
    assert await index.get("a" * 64) == meta("a" * 64, big, 1_000)
    assert await index.get("d" * 64) is None
    assert set(await index.many(["a" * 64, "c" * 64, "d" * 64])) == {"a" * 64, "c" * 64}
    assert await index.bytes_since("dev-1", 0) == big + 20
    assert await index.bytes_since("dev-1", 1_500) == 20
    assert await index.bytes_since("dev-3", 0) == 0
    await index.quarantined("b" * 64, 9_000)
    found = await index.get("b" * 64)
    assert found is not None and found.quarantined_ms == 9_000
    await index.add(meta("b" * 64, 20, 10_000))  # the same bytes again restore the blob
    found = await index.get("b" * 64)
    assert found is not None and found.quarantined_ms is None


async def test_plain_writes_arriving_together_commit_together_and_fail_alone(store: Store) -> None:
    """Rows added at the same moment are committed in batches; a row the database refuses
    fails its own caller only, and every other row is stored."""
    engine = store.engine  # type: ignore[attr-defined]
    if engine.dialect.name != "sqlite":
        pytest.skip("plain connections are SQLite's")
    access = SQLiteAccess(str(engine.url.database), "FULL", lambda: None)
    index = AttachmentIndex(engine, access)
    try:
        good = [meta(f"{i:064x}", 10 + i, 1_000 + i) for i in range(30)]
        bad = AttachmentMeta("f" * 64, None, "image/jpeg", "", "dev-1", "off-a", "st-a", 5)  # type: ignore[arg-type]
        results = await asyncio.gather(
            *(index.add(m) for m in good[:15]), index.add(bad), *(index.add(m) for m in good[15:]),
            return_exceptions=True,
        )  # fmt: skip
        assert isinstance(results[15], sqlite3.IntegrityError)
        assert [r for i, r in enumerate(results) if i != 15] == [None] * 30
        held = await index.many(m.sha256 for m in good)
        assert sorted(held) == sorted(m.sha256 for m in good)
        assert await index.get("f" * 64) is None
    finally:
        index.close()
