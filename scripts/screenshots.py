"""Regenerate docs/img/*.png: the chief's map, the public page and the officer's app on a phone
(docs/img/app-*.png, scripts/screenshots_app.py) on the demo city, in the same headless
Chromium the tests use (Debian's, driven by Playwright)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.screenshots_app import shoot_app  # noqa: E402
from server.web.sessions import set_password  # noqa: E402
from sync.identity import issue_enrollment  # noqa: E402
from sync.store.sql import SQLStore  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

OUT = REPO / "docs" / "img"
CHIEF, PASSWORD = "of-0680", "captura-de-pantalla"
OFFICER, ADMIN = "of-0681", "of-0875"  # an officer of the chief's station, an admin


async def prepare(folder: Path) -> tuple[str, str]:
    db = folder / "demo.db"
    subprocess.run(
        [str(REPO / ".venv/bin/ronda"), "demo", "--no-serve", "--db-file", str(db)],
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    url = f"sqlite+aiosqlite:///{db}"
    store = SQLStore(url)
    await store.open()
    await set_password(store, CHIEF, PASSWORD)
    code, _ = await issue_enrollment(store, OFFICER, 3600, ADMIN, int(time.time() * 1000))
    await store.close()
    return url, code


def shoot(base: str, code: str, app_only: bool) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if app_only:
            shoot_app(browser, base, code, OUT)
            browser.close()
            return
        context = browser.new_context(viewport={"width": 1280, "height": 760}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{base}/login?next=/map")
        page.fill("input[name=officer_id]", CHIEF)
        page.fill("input[name=password]", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url("**/map")
        page.wait_for_function("() => window.rondaState && window.rondaState.ready > 0")
        page.fill("input[name=since]", "2025-04-01")
        page.click("#apply")
        page.wait_for_function("() => window.rondaState.ready > 1", timeout=60_000)
        page.screenshot(path=str(OUT / "chief-map.png"))
        page.goto(f"{base}/public")
        page.screenshot(path=str(OUT / "public.png"), full_page=True)
        context.close()
        shoot_public_phone(browser, base)
        shoot_app(browser, base, code, OUT)
        browser.close()


def shoot_public_phone(browser: object, base: str) -> None:
    """The public page on a 390×844 phone (docs/img/public-phone.png), full length."""
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, bypass_csp=True
    )
    page = context.new_page()
    page.goto(f"{base}/public")
    page.screenshot(path=str(OUT / "public-phone.png"), full_page=True)
    context.close()


async def main(app_only: bool) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, code = await prepare(folder)
        async with ServerProcess(url, folder) as server:
            await asyncio.to_thread(shoot, server.base_url, code, app_only)
    print(f"wrote {OUT / 'chief-map.png'}, {OUT}/public*.png and {OUT}/app-*.png")


if __name__ == "__main__":
    asyncio.run(main(app_only="--app-only" in sys.argv[1:]))
