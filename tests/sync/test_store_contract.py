"""The storage contract (sync.store.contract) on every reachable adapter."""

from __future__ import annotations

import pytest

from sync.store.base import Store
from sync.store.contract import CHECKS, Check


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_contract(store: Store, check: Check) -> None:
    await check(store)
