"""What the ``ronda`` commands share: the console, running work on an open store, the URL
shown to people, the uvicorn log configuration."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console

from core.errors import RondaError
from server.app import build_store
from server.settings import Settings
from sync.errors import StoreUnavailable
from sync.store.sql import SQLStore

console = Console(stderr=True)
LOG_CONFIG = Path(__file__).parents[1] / "uvicorn_log.json"
T = TypeVar("T")


def with_store(
    settings: Settings,
    work: Callable[[SQLStore], Awaitable[T]],
    stops: tuple[type[RondaError], ...] = (),
) -> T:
    """Open the configured store, run ``work`` on it, close it; a store that cannot open
    (an old schema, say), or an error of ``stops``, ends the command with its message."""

    async def run() -> T:
        store = build_store(settings)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    ends: tuple[type[RondaError], ...] = (StoreUnavailable, *stops)
    try:
        return asyncio.run(run())
    except ends as exc:  # e.g. an old schema: the message says what to do
        raise click.ClickException(exc.message) from exc


def masked_url(settings: Settings) -> str:
    """The database URL with its password hidden (it is printed to terminals and logs)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(settings.database.url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: say nothing of it rather than leak it
        return "(database URL not shown)"
