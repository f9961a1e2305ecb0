"""Regenerate docs/img/*.png: the chief's map and the public page on the demo city, in the
same headless Chromium the tests use (Debian's, driven by Playwright)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server.web.sessions import set_password  # noqa: E402
from sync.store.sql import SQLStore  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

OUT = REPO / "docs" / "img"
CHIEF, PASSWORD = "of-0680", "captura-de-pantalla"


async def prepare(folder: Path) -> str:
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
    await store.close()
    return url


def shoot(base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
        browser.close()


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = await prepare(folder)
        async with ServerProcess(url, folder) as server:
            await asyncio.to_thread(shoot, server.base_url)
    print(f"wrote {OUT / 'chief-map.png'} and {OUT / 'public.png'}")


if __name__ == "__main__":
    asyncio.run(main())
