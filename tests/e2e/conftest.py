"""Browser tests: a real uvicorn process on part of the demo city, driven by Debian's
Chromium through Playwright. Every request the pages make must go to that server."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.city import seed_part_of_city
from tests.server_process import ROOMY_ADMISSION, ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


@dataclass
class Site:
    base_url: str
    counts: dict[str, int]
    foreign: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite+aiosqlite:///{folder / 'ronda.db'}"
    counts = asyncio.run(seed_part_of_city(url))
    env = {**ROOMY_ADMISSION, "RONDA_DATABASE__SQLITE_SYNCHRONOUS": "NORMAL"}
    server = ServerProcess(url, folder, env=env)
    asyncio.run(server.start(timeout_s=60))
    try:
        yield Site(server.base_url, counts)
    finally:
        asyncio.run(server.stop())


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, site: Site) -> Iterator[object]:
    """A fresh browser context whose every request to another host is refused and recorded."""
    own = urlsplit(site.base_url).netloc
    # bypass_csp: Playwright's waits evaluate scripts, which the pages' CSP forbids.
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 1280, "height": 800}, bypass_csp=True, locale="es-PE"
    )
    site.foreign.clear()

    def guard(route: object) -> None:
        request = route.request  # type: ignore[attr-defined]
        if urlsplit(request.url).netloc != own and not request.url.startswith(("data:", "blob:")):
            site.foreign.append(request.url)
            route.abort()  # type: ignore[attr-defined]
        else:
            route.continue_()  # type: ignore[attr-defined]

    context.route("**/*", guard)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not site.foreign, f"pages asked other hosts: {site.foreign}"
    assert not errors, f"script errors: {errors}"
