"""Regenerate docs/img/*.png: the chief's map (desktop and phone), the public page and the
officer's app on a phone (docs/img/app-*.png, scripts/screenshots_app.py) on the demo city, in
the same headless Chromium the tests use (Debian's, driven by Playwright).
``--map-only`` makes the chief's map pictures only, ``--app-only`` the app's only."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def chief_map(browser: Any, base: str, name: str, phone: bool) -> Any:
    """The chief's map from the vector tiles, a step closer than the first view so that the
    streets are named, over the hottest cell since April 2025 (docs/img/<name>)."""
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 760}
    context = browser.new_context(
        viewport=size, is_mobile=phone, has_touch=phone, bypass_csp=True, locale="es-PE"
    )
    page = context.new_page()
    page.goto(f"{base}/login?next=/map")
    page.fill("input[name=officer_id]", CHIEF)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/map")
    page.wait_for_function("() => window.rondaState && window.rondaState.ready > 0")
    if phone:
        page.click("#panel-toggle")
    page.fill("input[name=since]", "2025-04-01")
    page.click("#apply")
    page.wait_for_function("() => window.rondaState.ready > 1", timeout=60_000)
    if phone:
        page.click("#panel-toggle")  # the map gets the screen again
    hot = page.evaluate(
        """async () => {
            const q = new URLSearchParams(new FormData(document.getElementById('filters')));
            const day = (s) => s.split('/').reverse().join('-');
            const p = new URLSearchParams({since: day(q.get('since')), until: day(q.get('until'))});
            return (await (await fetch('/web/data/meta/hotspots.json?' + p)).json()).top[0].center;
        }"""
    )
    page.evaluate("c => rondaMap.jumpTo({center: c, zoom: 15.4})", hot)
    page.wait_for_function(
        "() => rondaMap.loaded() && rondaMap.queryRenderedFeatures({layers: ['street-names']})"
        ".length > 0",
        timeout=60_000,
    )
    page.evaluate(
        "() => new Promise((r) => { rondaMap.once('idle', r); rondaMap.triggerRepaint(); })"
    )
    page.screenshot(path=str(OUT / name))
    return context


def shoot(base: str, code: str, app_only: bool, map_only: bool = False) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if app_only:
            shoot_app(browser, base, code, OUT)
            browser.close()
            return
        chief_map(browser, base, "chief-map-phone.png", phone=True).close()
        context = chief_map(browser, base, "chief-map.png", phone=False)
        if map_only:
            context.close()
            browser.close()
            return
        page = context.pages[0]
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


async def main(app_only: bool, map_only: bool) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, code = await prepare(folder)
        server = ServerProcess(url, folder)
        await server.start(timeout_s=180)  # the whole demo city loads slowly on a busy machine
        try:
            await asyncio.to_thread(shoot, server.base_url, code, app_only, map_only)
        finally:
            await server.stop()
    print(f"wrote {OUT}/chief-map*.png, {OUT}/public*.png and {OUT}/app-*.png")


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(app_only="--app-only" in args, map_only="--map-only" in args))
