"""Each pytest-xdist worker gets PostgreSQL databases of its own.

Tests reset the schema of ``RONDA_TEST_PG_URL`` and drop and make databases by name, so two
workers sharing one server would wipe each other's tables mid-test. The root conftest calls
``use_worker_database`` at import, before any test module reads the variable: worker ``gw1``
gets ``<name>_gw1``, made here if missing. Without xdist nothing changes.
"""

from __future__ import annotations

import asyncio
import os


def worker_suffix() -> str:
    """``_gw0``, ``_gw1``… inside an xdist worker; empty otherwise."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"_{worker}" if worker else ""


def use_worker_database() -> None:
    url = os.environ.get("RONDA_TEST_PG_URL")
    suffix = worker_suffix()
    if not url or not suffix or url.endswith(suffix):
        return
    base, _, name = url.rpartition("/")
    own = name + suffix
    asyncio.run(_create_if_missing(base, own))
    os.environ["RONDA_TEST_PG_URL"] = f"{base}/{own}"


async def _create_if_missing(base: str, name: str) -> None:
    import asyncpg

    dsn = base.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not found:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
