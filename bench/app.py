"""Benchmark: the officer's app (/app) in headless Chromium, phone viewport, over loopback.

A real server on one station of the demo city (tests/e2e/app_support.py), one enrolled phone.
Prints the figures and a last line:

    app_shell_kb=N open_offline_ms=X sync_1000_s=X

app_shell_kb: what the phone downloads to hold the app offline, without MapLibre: every file
the service worker precaches (its build stamp lists them) plus the worker itself, fetched
from the server with ``Accept-Encoding: gzip`` and counted as bytes on the wire (the server
gzips with its GZipMiddleware), in KiB.
open_offline_ms: the phone offline, the app reloaded from the service worker: milliseconds
from the navigation's start to the PIN form being on screen (the first form the officer can
use), the median of ``--reloads`` reloads. Unlocking (PBKDF2 with 310,000 rounds) is printed
separately, not counted.
sync_1000_s: ``--incidents`` incidents queued offline (through the app's outbox, as its form
does), then back online (the app syncs by itself when the browser says so): seconds until
the outbox is empty, i.e. until the server has acknowledged every one (the whole sync, with
the pull of the same incidents back, is printed separately).

Run: .venv/bin/python -m bench.app [--reloads 10] [--incidents 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server.web.app_shell import build_stamp  # noqa: E402
from tests.e2e.app_support import (  # noqa: E402
    APP_CHROMIUM_ARGS,
    CHROMIUM,
    OFFICERS,
    AppServer,
    phone_context,
    start_app_server,
    store_records,
)

PIN = "246810"
# Records when the PIN form appears, relative to the navigation's start (performance.now()).
USABLE_PROBE = """
new MutationObserver((_, observer) => {
  const pin = document.querySelector('[data-testid="lock-pin"]');
  if (pin && pin.offsetParent !== null && !pin.disabled) {
    window.__usableMs = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def shell_kb(base_url: str) -> tuple[float, int, float]:
    """(KiB on the wire, files, KiB uncompressed) of the precached shell and the worker."""
    urls = [u for u in build_stamp()["files"] if "maplibre" not in u] + ["/app/sw.js"]
    wire = raw = 0
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for url in urls:
            answer = client.get(url, headers={"Accept-Encoding": "gzip"})
            answer.raise_for_status()
            wire += answer.num_bytes_downloaded
            raw += len(answer.content)
    return wire / 1024, len(urls), raw / 1024


def make_code(base_url: str, server: AppServer) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post(
            "/v1/admin/enrollments",
            json={"officer_id": OFFICERS[0]},
            headers={"Authorization": f"Bearer {server.admin_token}"},
        )
    answer.raise_for_status()
    return str(answer.json()["code"])


def enroll(page: Any, base_url: str, code: str) -> None:
    page.goto(f"{base_url}/app")
    page.wait_for_selector("body[data-ready='1']")
    page.fill('[data-testid="enroll-code"]', code)
    page.fill('[data-testid="enroll-device-name"]', "Moto bench")
    page.fill('[data-testid="enroll-pin"]', PIN)
    page.fill('[data-testid="enroll-pin-repeat"]', PIN)
    page.click('[data-testid="enroll-submit"]')
    page.wait_for_selector('[data-testid="screen-shift"]', timeout=120_000)
    page.wait_for_function(
        "() => !!window.rondaApp.vault.get('last_sync')?.ok && !window.rondaApp.syncer.running",
        timeout=300_000,
    )
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def open_offline(context: Any, page: Any, reloads: int) -> tuple[list[float], float]:
    """Offline reloads to the PIN form (ms each), and one unlock (ms)."""
    context.set_offline(True)
    times = []
    for _ in range(reloads):
        page.reload()
        page.wait_for_function("() => window.__usableMs !== undefined", timeout=60_000)
        times.append(float(page.evaluate("window.__usableMs")))
    start = time.perf_counter()
    page.fill('[data-testid="lock-pin"]', PIN)
    page.click('[data-testid="lock-submit"]')
    page.wait_for_selector('[data-testid="status-bar"]:not([hidden])', timeout=60_000)
    return times, (time.perf_counter() - start) * 1000


def sync_incidents(context: Any, page: Any, n: int, server: AppServer) -> tuple[float, float]:
    """Queue ``n`` incidents offline, go online: (s to an empty outbox, s to the sync's end)."""
    page.evaluate(
        """async (n) => {
            const app = window.rondaApp;
            const at = new Date().toISOString();
            for (let i = 0; i < n; i++) {
                await app.outbox.saveIncident(`bench${String(i).padStart(5, "0")}`,
                    {category: "hurto", occurred_at: at, description: `bench ${i}`}, null,
                    {isNew: true});
            }
            app.render();
        }""",
        n,
    )
    assert page.evaluate("window.rondaApp.outbox.pendingCount()") == n
    # Back online, the app syncs by itself (its "online" handler): timed from that moment.
    start = time.perf_counter()
    context.set_offline(False)
    page.wait_for_function(
        "() => window.rondaApp.outbox.pendingCount() === 0", polling=20, timeout=600_000
    )
    acked = time.perf_counter() - start
    page.wait_for_function("() => !window.rondaApp.syncer.running", timeout=600_000)
    done = time.perf_counter() - start
    assert page.evaluate("window.rondaApp.vault.get('last_sync').ok")
    device_id = page.evaluate("window.rondaApp.vault.get('me').device_id")
    stored = [r for r in store_records(server, device_id) if r["collection"] == "incidents"]
    assert len(stored) == n, f"the server holds {len(stored)} of the {n} incidents"
    return acked, done


def run(reloads: int, incidents: int) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = start_app_server(Path(tmp))
        try:
            base = server.base_url
            kb, files, raw_kb = shell_kb(base)
            print(f"shell: {files} files, {raw_kb:.1f} KiB, {kb:.1f} KiB gzip on the wire")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=APP_CHROMIUM_ARGS)
                context, _ = phone_context(browser, base)
                context.add_init_script(USABLE_PROBE)
                page = context.new_page()
                enroll(page, base, make_code(base, server))
                opens, unlock_ms = open_offline(context, page, reloads)
                print("offline opens (ms): " + " ".join(f"{t:.0f}" for t in opens))
                print(f"unlock (PBKDF2 310,000 rounds + decrypting the vault): {unlock_ms:.0f} ms")
                acked, done = sync_incidents(context, page, incidents, server)
                print(
                    f"{incidents} incidents: acknowledged in {acked:.2f} s, sync done {done:.2f} s"
                )
                browser.close()
        finally:
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, server.process.stop()).result()
    print(f"machine: {cpu()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print(
        f"app_shell_kb={kb:.0f} open_offline_ms={statistics.median(opens):.0f} "
        f"sync_{incidents}_s={acked:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reloads", type=int, default=10)
    parser.add_argument("--incidents", type=int, default=1000)
    args = parser.parse_args()
    run(args.reloads, args.incidents)


if __name__ == "__main__":
    main()
