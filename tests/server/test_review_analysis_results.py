"""Stored analysis results do not pile up (review fix), on SQLite and PostgreSQL.

Every distinct question (window, categories, stations) stores a row in ``analysis_result``;
only newer results of the *same* question replaced it, so questions asked once stayed forever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sync.store.base import Store
from tests.support import open_store, store_params

DAY_MS = 86_400_000


@pytest.fixture(params=store_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for opened in open_store(request.param, tmp_path):
        yield opened


async def test_results_of_questions_not_asked_again_go(store: Store) -> None:
    start = 1_700_000_000_000
    await store.put_analysis_result("asked-once", 5, b"old", now_ms=start)
    await store.put_analysis_result("recent", 5, b"recent", now_ms=start + DAY_MS)
    await store.put_analysis_result("later", 6, b"new", now_ms=start + 2 * DAY_MS - 1)
    assert await store.analysis_result("asked-once", 5) is None
    assert await store.analysis_result("recent", 5) == b"recent"
    assert await store.analysis_result("later", 6) == b"new"
