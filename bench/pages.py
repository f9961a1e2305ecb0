"""Benchmark: the web pages in headless Chromium (SwiftShader, as in tests/e2e/conftest.py)
over loopback: what the chief's first view costs and how soon the first hotspots are drawn,
and what the public page costs on a phone.

A real server (uvicorn, SQLite) on part of the demo city (tests/e2e/city.py: two stations,
every layer, ~5,700 incidents); the chief of st-150135-2 signs in. Prints the figures, a
breakdown of the first view, and a last line:

    chief_first_view_kb=N chief_first_hotspots_ms=X public_phone_kb=N

chief_first_view_kb: every byte on the wire (response bodies as sent, gzip where the server
gzips, plus response headers) from clicking "Ingresar" on the sign-in form until the map has
drawn its first hotspots, in a fresh browser context (empty cache), MapLibre included; KiB.
chief_first_hotspots_ms: milliseconds from that click until the map has drawn the hotspots
(``#mapshell[data-hotspots-drawn]``: the first frame rendered once the hotspots' source is
loaded, with hotspots in it), the median of ``--runs`` fresh contexts. The time until every
layer has settled (``data-ready``, MapLibre's "idle": streets, sectors, fades) is printed
too. Both include the sign-in itself (argon2id) and the redirect.

Cold and warm: every run is a fresh browser context, so the browser side is a first visit
(no HTTP cache, no V8 code cache: MapLibre is downloaded, parsed and compiled every run, in
the page and again in its worker). The server is warmed by one run before the measured ones
(its tile cache, analysis results and MapLibre's gzip are then in memory); that first run,
on a just-started server, is printed as "server cold" and is not in the median.
The parts of each run, from the page's own clock (medians printed): the sign-in (click to
the POST answered, argon2id included), the map page until map.js runs (HTML, MapLibre
downloaded and run), map.js until the frame with the hotspots (``ronda:hotspots-drawn``:
MapLibre and its worker start, the hotspot tiles, the frame), and that frame until the
bench's poll sees it (the page's main thread is busy with the next frames meanwhile).
public_phone_kb: /public opened in a 390×844 phone context, fresh, until the network is idle;
KiB on the wire.

Run: .venv/bin/python -m bench.pages [--runs 7]
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
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.city import CHIEF, PASSWORD, seed_part_of_city  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.pages_support import VIEWPORTS  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

DRAWN = """() => Number(document.getElementById('mapshell')?.dataset.hotspotsDrawn || 0) >= 1
    && window.rondaState && window.rondaState.counts.hotspots > 0"""
SETTLED = "() => Number(document.getElementById('mapshell')?.dataset.ready || 0) >= 1"


class Wire:
    """Bytes on the wire per request of a context (workers' fetches included)."""

    def __init__(self, context: Any) -> None:
        self.items: list[tuple[str, int]] = []
        self.on = False
        context.on("requestfinished", self._finished)

    def _finished(self, request: Any) -> None:
        if not self.on:
            return
        sizes = request.sizes()
        self.items.append(
            (request.url, int(sizes["responseBodySize"]) + int(sizes["responseHeadersSize"]))
        )

    def total(self) -> int:
        return sum(n for _, n in self.items)


def kind(url: str) -> str:
    path = urlsplit(url).path
    if path.startswith("/vendor/maplibre/"):
        return "MapLibre " + path.rsplit(".", 1)[-1]
    if path.startswith("/tiles/"):
        return "tiles " + path.split("/")[2]
    if path.startswith("/glyphs/"):
        return "label glyphs"
    if path.startswith("/web/data/base/"):
        return "base layer " + path.rsplit("/", 1)[-1]
    if path.startswith("/web/data/meta/"):
        return "layer counts and lists"
    if path.startswith("/web/data/"):
        return "data layers"
    if path.startswith("/static/"):
        return "our JS/CSS"
    return "pages and redirects"


PARTS_JS = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const mark = (name) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
    return [performance.timeOrigin, nav.redirectEnd || nav.requestStart,
            mark('ronda:start'), mark('ronda:hotspots-drawn')];
}"""
PART_NAMES = ("sign-in", "map page to map.js", "map.js to hotspots frame", "frame to poll")


def chief_first_view(
    browser: Any, base_url: str, parts: list[tuple[float, ...]] | None = None
) -> tuple[float, float, Wire]:
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="es-PE")
    try:
        wire = Wire(context)
        page = context.new_page()
        page.goto(f"{base_url}/login?next=/map")
        page.fill("input[name=officer_id]", CHIEF)
        page.fill("input[name=password]", PASSWORD)
        wire.on = True
        start = time.perf_counter()
        clicked = time.time() * 1000
        page.click("#sign-in")
        page.wait_for_function(DRAWN, timeout=120_000, polling=10)
        elapsed = (time.perf_counter() - start) * 1000
        if parts is not None:
            origin, signed, started, drawn = page.evaluate(PARTS_JS)
            offset = origin - clicked  # the page's clock starts at the sign-in navigation
            parts.append(
                (
                    offset + signed,
                    started - signed,
                    drawn - started,
                    elapsed - (offset + drawn),
                )
            )
        page.wait_for_function(SETTLED, timeout=120_000, polling=10)
        settled = (time.perf_counter() - start) * 1000
        if os.environ.get("BENCH_PAGES_DEBUG"):
            for entry in page.evaluate(
                """[...performance.getEntriesByType('resource'),
                    ...performance.getEntriesByType('mark')]
                   .map(e => [e.name, e.startTime, e.duration])"""
            ):
                print(f"  {entry[1]:7.0f} +{entry[2]:6.0f} ms {entry[0]}")
            print("  map load done at", page.evaluate("performance.now()"))
        page.wait_for_load_state("networkidle")  # count what the first view still fetches
        wire.on = False
        return elapsed, settled, wire
    finally:
        context.close()


def public_phone(browser: Any, base_url: str) -> Wire:
    context = browser.new_context(
        viewport=VIEWPORTS["phone"], is_mobile=True, has_touch=True, locale="es-PE"
    )
    try:
        wire = Wire(context)
        wire.on = True
        page = context.new_page()
        page.goto(f"{base_url}/public")
        page.wait_for_load_state("networkidle")
        wire.on = False
        return wire
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder / 'ronda.db'}"
        seeded = asyncio.run(seed_part_of_city(url))
        print(f"seeded {sum(seeded.values())} incidents: {seeded}")
        server = ServerProcess(url, folder, env={"RONDA_DATABASE__SQLITE_SYNCHRONOUS": "NORMAL"})
        asyncio.run(server.start(timeout_s=60))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    # warm the server's caches (the browser's stay cold: fresh contexts)
                    cold, _, _ = chief_first_view(browser, server.base_url)
                    times, settled, wires = [], [], []
                    parts: list[tuple[float, ...]] = []
                    for _ in range(args.runs):
                        ms, idle_ms, wire = chief_first_view(browser, server.base_url, parts)
                        times.append(ms)
                        settled.append(idle_ms)
                        wires.append(wire)
                    public = public_phone(browser, server.base_url)
                finally:
                    browser.close()
        finally:
            asyncio.run(server.stop())
    report(times, settled, wires, public, cold, parts)


def report(
    times: list[float],
    settled: list[float],
    wires: list[Wire],
    public: Wire,
    cold: float,
    steps: list[tuple[float, ...]],
) -> None:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load average {load}")
    print("first hotspots, ms from clicking Ingresar: " + ", ".join(f"{t:.0f}" for t in times))
    print(f"  server cold (the run before these, on a just-started server): {cold:.0f} ms")
    for i, name in enumerate(PART_NAMES):
        values = [p[i] for p in steps]
        print(f"  {name:<26} median {statistics.median(values):6.0f} ms  ({_spread(values)})")
    print("every layer settled (idle), ms: " + ", ".join(f"{t:.0f}" for t in settled))
    print(f"  median {statistics.median(settled):.0f} ms")
    first = wires[-1]
    parts: dict[str, int] = defaultdict(int)
    for url, n in first.items:
        parts[kind(url)] += n
    print(f"chief's first view: {len(first.items)} requests, {first.total() / 1024:.0f} KiB")
    for name, n in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<34} {n / 1024:8.1f} KiB")
    print(f"public page on a phone: {len(public.items)} requests, {public.total() / 1024:.0f} KiB")
    print(
        f"chief_first_view_kb={round(first.total() / 1024)} "
        f"chief_first_hotspots_ms={statistics.median(times):.0f} "
        f"public_phone_kb={round(public.total() / 1024)}"
    )


def _spread(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


if __name__ == "__main__":
    main()
