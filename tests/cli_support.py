"""What the tests of the ``ronda`` command share: the command run in-process against a
database URL, that database on both backends, and a store opened for one look at what the
command left behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner, Result

from server.cli import main
from server.maps.places import load_places
from sync.store.sql import SQLStore
from tests.support import PG_URL, reset_postgres

T = TypeVar("T")


def db_url_on_both_backends() -> Callable[..., Any]:
    """A ``db_url`` fixture for a module (bind it as ``db_url = db_url_on_both_backends()``):
    a fresh SQLite file, then the emptied PostgreSQL test database (skipped when
    RONDA_TEST_PG_URL is not set)."""

    @pytest.fixture(params=["sqlite", "postgres"], name="db_url")
    def db_url_both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
        if request.param == "sqlite":
            yield f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
            return
        if not PG_URL:
            pytest.skip("RONDA_TEST_PG_URL is not set")
        asyncio.run(reset_postgres(PG_URL))
        yield PG_URL

    return db_url_both


def ronda(url: str, *args: str) -> Result:
    """``ronda --db <url> <args>``, in-process; an unexpected exception fails the test."""
    return CliRunner().invoke(main, ["--db", url, *args], catch_exceptions=False)


def said(answer: Result) -> str:
    """The output with the terminal's line wrapping undone."""
    return " ".join(answer.output.split())


def with_store(url: str, work: Callable[[SQLStore], Awaitable[T]]) -> T:
    """``work`` on the store at ``url``, opened for it and closed after, in its own loop
    (the command under test runs its own loops; nothing is shared with them)."""

    async def go() -> T:
        store = SQLStore(url)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def geocode(url: str, text: str) -> dict[str, Any]:
    """What the geocoder loaded from the store at ``url`` makes of ``text``."""

    async def go(store: SQLStore) -> dict[str, Any]:
        places = await load_places(store)
        assert places is not None and places.geocoder is not None
        return places.geocoder.geocode(text).to_dict()

    return with_store(url, go)
