from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sync.engine import SyncEngine
from sync.store.base import Store
from tests.support import People, open_store, seed_people, store_params


@pytest.fixture(params=store_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for opened in open_store(request.param, tmp_path):
        yield opened


@pytest.fixture
async def people(store: Store) -> People:
    return await seed_people(store)


@pytest.fixture
def engine(store: Store) -> SyncEngine:
    return SyncEngine(store)
