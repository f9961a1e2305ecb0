"""Fixtures for HTTP tests: one real app on a fresh SQLite file, driven in-process.

``served`` builds everything; the small fixtures below hand out its parts, so a test asks
only for what it uses and all of them share one app::

    async def test_me(app_client: httpx.AsyncClient, served: Served) -> None:
        answer = await app_client.get("/v1/me", headers=served.auth("off-a"))

Override ``app_settings`` in a test module to run the app with other settings; the database
URL is filled in by ``served`` so the store always lives in ``tmp_path``. A module that runs
on both backends binds ``served = served_on_both_backends()``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.settings import DatabaseSettings, Settings
from sync.store.base import Store
from sync.store.sql import SQLStore
from tests.support import PG_URL, People, reset_postgres, seed_people


@dataclass(frozen=True)
class Served:
    """A running app and what a test needs around it."""

    app: Starlette
    client: httpx.AsyncClient
    store: Store
    people: People
    settings: Settings

    def auth(self, officer_id: str) -> dict[str, str]:
        """The Authorization header of the seeded device of ``officer_id`` (e.g. "chief-a")."""
        return {"Authorization": f"Bearer {self.people.tokens[officer_id]}"}


@pytest.fixture
def app_settings() -> Settings:
    """Settings of the app under test (the database URL is replaced by ``served``).

    ``_env_file=None``: a developer's ``.env`` must not change what the tests see.
    """
    return Settings(_env_file=None)


async def fresh_url(backend: str, tmp_path: Path) -> str:
    """A fresh SQLite file in ``tmp_path`` (``"sqlite"``) or the emptied PostgreSQL test
    database (``"postgres"``; skips when RONDA_TEST_PG_URL is not set)."""
    if backend == "postgres":
        if not PG_URL:
            pytest.skip("RONDA_TEST_PG_URL is not set")
        await reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"


@asynccontextmanager
async def serving(settings: Settings, store: Store) -> AsyncIterator[Served]:
    """``store`` behind the app made with ``settings``: its lifespan running, people seeded
    with tokens, an in-process client."""
    app = create_app(settings, store)
    async with app.router.lifespan_context(app):  # opens the store, closes it after
        people = await seed_people(store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Served(app, client, store, people, settings)


@asynccontextmanager
async def served_on(backend: str, tmp_path: Path, app_settings: Settings) -> AsyncIterator[Served]:
    """The app on a fresh SQLite file in ``tmp_path`` (``"sqlite"``) or on the emptied
    PostgreSQL test database (``"postgres"``; skips when RONDA_TEST_PG_URL is not set), its
    lifespan running, people seeded with tokens."""
    url = await fresh_url(backend, tmp_path)
    database = DatabaseSettings(**{**app_settings.database.model_dump(), "url": url})
    settings = app_settings.model_copy(update={"database": database})
    store = SQLStore(url, sqlite_synchronous=settings.database.sqlite_synchronous)
    async with serving(settings, store) as running:
        yield running


@pytest.fixture
async def served(app_settings: Settings, tmp_path: Path) -> AsyncIterator[Served]:
    """The app on a fresh SQLite store, its lifespan running, people seeded with tokens."""
    async with served_on("sqlite", tmp_path, app_settings) as running:
        yield running


def served_on_both_backends() -> Callable[..., Any]:
    """A ``served`` fixture for a module, run once on SQLite and once on PostgreSQL."""

    @pytest.fixture(params=["sqlite", "postgres"], name="served")
    async def served_both(
        request: pytest.FixtureRequest, app_settings: Settings, tmp_path: Path
    ) -> AsyncIterator[Served]:
        async with served_on(request.param, tmp_path, app_settings) as running:
            yield running

    return served_both


@pytest.fixture
def app_client(served: Served) -> httpx.AsyncClient:
    """An httpx client talking to the app in-process (no network)."""
    return served.client


@pytest.fixture
def app_store(served: Served) -> Store:
    """The app's store, open, for seeding and for checking what a request wrote."""
    return served.store


@pytest.fixture
def people(served: Served) -> People:
    """Two stations and a device per role; tokens in ``people.tokens[officer_id]``."""
    return served.people


WEB_PASSWORD = "una-clave-larga-1"


async def sign_in_web(served: Served, officer: str, password: str = WEB_PASSWORD) -> None:
    """Give ``officer`` a password and sign in on the test client through /login (its CSRF
    cookie and form token), keeping the session cookie for the next requests."""
    from server.web.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, set_password

    await set_password(served.store, officer, password)
    client = served.client
    client.cookies.clear()
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    client.cookies.set(LOGIN_CSRF_COOKIE, token.group(1))
    answer = await client.post(
        "/login", data={"csrf": token.group(1), "officer_id": officer, "password": password}
    )
    assert answer.status_code == 303
    client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
