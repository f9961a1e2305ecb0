"""Shared fixtures for the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workers import use_worker_database

# Before any test module reads RONDA_TEST_PG_URL (see tests/workers.py).
use_worker_database()


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Real Peru boundary data beside the repository (``../shared/data/peru``); skip if absent."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "peru"
    if not path.is_dir():
        pytest.skip(f"shared Peru data not found at {path}")
    return path
