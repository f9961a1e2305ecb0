"""The conflict review and the hotspot pop-up as a station chief uses them (issue 15, items 8
and 5), in real Chromium against a real server on part of the demo city, desktop and phone.

Conflicts are made the way phones make them: two officers of the chief's station change the
same incident without seeing each other's change, through the sync engine. The chief
reviews one per viewport (choosing the other value on the desktop, keeping the current one
on the phone); the choice must then be the incident's value as the map's detail reads it.
The hotspot pop-up is opened by a click on the map and from the "top places" list; the
briefing page must print on one page. axe-core finds 0 critical/serious problems in each
state; any console error or failed request fails the test (``pages_support``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from fixtures.city import load_city
from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.identity import create_device_token
from sync.store.records import Identity
from sync.store.sql import SQLStore
from tests.e2e.city import CHIEF, PASSWORD, seed_part_of_city
from tests.e2e.conftest import CHROMIUM, Site
from tests.e2e.pages_support import Tab, assert_accessible, open_tab
from tests.server_process import ROOMY_ADMISSION, ServerProcess

pytestmark = pytest.mark.slow
STATION = "st-150135-2"  # the chief's
VIEWPORTS = ["desktop", "phone"]
WIDE = {"since": "07/10/2024", "until": "05/10/2025"}  # the demo year: hotspot plant-01


async def _make_conflicts(url: str) -> dict[str, str]:
    """Per viewport, one incident of the chief's station whose status two officers changed
    concurrently: the later clock closed it, the other one's "referred" lost."""
    officers = load_city().officers
    staff = officers[(officers.station_id == STATION) & (officers.role == "officer")]
    (first, first_name), (second, second_name) = list(
        zip(staff.id.astype(str), staff.display_name.astype(str), strict=True)
    )[:2]
    store = SQLStore(url, sqlite_synchronous="NORMAL")
    await store.open()
    try:
        engine = SyncEngine(store)
        who = {}
        for officer_id in (first, second):
            device, _ = await create_device_token(store, officer_id, f"tel-{officer_id}", 0)
            who[officer_id] = Identity(device.id, device.name, officer_id, "officer", STATION)
        rows = await store.pull(engine.scope(who[first]), 0, 50)
        ids = [d["id"] for d in map(orjson.loads, (r.doc for r in rows))][:2]
        early, later = HybridClock(), HybridClock(offset_ms=5000)
        made = {"first_name": first_name, "second_name": second_name}
        for viewport, record_id in zip(VIEWPORTS, ids, strict=True):
            record = await store.record("incidents", record_id)
            assert record is not None
            for officer_id, clock, status in (
                (second, later, "closed"),
                (first, early, "referred"),
            ):
                change = {
                    "collection": "incidents",
                    "id": record_id,
                    "op": "upsert",
                    "hlc": str(clock.tick()),
                    "base_seq": record.seq,
                    "fields": {"status": status},
                }
                body = {"batch_id": f"e2e-{viewport}-{officer_id}", "changes": [change]}
                await engine.push(who[officer_id], body)
            made[viewport] = record_id
        return made
    finally:
        await store.close()


@dataclass
class ReviewSite(Site):
    made: dict[str, str] = field(default_factory=dict)  # viewport -> incident; officer names


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewSite]:
    """The e2e city with two conflicts in the chief's station (this module's own server)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    folder = tmp_path_factory.mktemp("review")
    url = f"sqlite+aiosqlite:///{folder / 'ronda.db'}"
    counts = asyncio.run(seed_part_of_city(url))
    made = asyncio.run(_make_conflicts(url))
    env = {**ROOMY_ADMISSION, "RONDA_DATABASE__SQLITE_SYNCHRONOUS": "NORMAL"}
    server = ServerProcess(url, folder, env=env)
    asyncio.run(server.start(timeout_s=120))
    try:
        yield ReviewSite(server.base_url, counts, made=made)
    finally:
        asyncio.run(server.stop())


def sign_in(tab: Tab, site: Site, target: str) -> None:
    page = tab.page
    page.goto(f"{site.base_url}/login?next={target}")
    page.fill("input[name=officer_id]", CHIEF)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"**{target}")


def incident_status(page: Any, record_id: str) -> str:
    answer = page.evaluate(
        "async (id) => (await (await fetch('/web/data/incident/' + id)).json())", record_id
    )
    fields = answer.get("fields") or {}
    return str(fields.get("status"))


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_chief_reviews_a_conflict(browser: Any, site: ReviewSite, viewport: str) -> None:
    made = site.made
    record_id = made[viewport]
    tab = open_tab(browser, site.base_url, viewport)
    page = tab.page
    sign_in(tab, site, "/conflicts")
    card = page.locator("li.conflict", has=page.locator(f'a[href="/map?incident={record_id}"]'))
    assert card.count() == 1
    text = card.inner_text()
    # Values side by side, in Spanish, with the officers' names (not device ids only).
    assert "cerrado" in text and "derivado" in text
    assert made["first_name"] in text and made["second_name"] in text
    if viewport == "phone":  # cards stack: nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page, f"{viewport}: conflicts")
    choice = "other" if viewport == "desktop" else "kept"
    card.locator(f'button[value="{choice}"]').click()
    page.wait_for_url(re.compile(r".*/conflicts\?.*msg=done.*"))
    assert page.locator(".notice").is_visible()
    card = page.locator("li.conflict", has=page.locator(f'a[href="/map?incident={record_id}"]'))
    assert "Revisado por" in card.inner_text() and card.locator("form").count() == 0
    assert_accessible(page, f"{viewport}: reviewed")
    expected = "referred" if choice == "other" else "closed"
    assert incident_status(page, record_id) == expected
    # The row's link opens the incident on the map, with one request for it: each is an
    # audited view of its personal data.
    fetched: list[str] = []

    def count(request: Any) -> None:
        if "/web/data/incident/" in request.url:
            fetched.append(request.url)

    page.on("request", count)
    card.locator(f'a[href="/map?incident={record_id}"]').click()
    page.wait_for_url("**/map?incident=*")
    page.locator("#detail").wait_for(state="visible", timeout=60_000)
    assert page.locator("#detail-title").inner_text()
    assert len(fetched) == 1, fetched
    tab.close()


def wait_ready(page: Any, after: int) -> int:
    page.wait_for_function(
        "n => Number(document.getElementById('mapshell').dataset.ready) > n",
        arg=after,
        timeout=90_000,
    )
    return int(page.evaluate("document.getElementById('mapshell').dataset.ready"))


def facts(page: Any) -> dict[str, str]:
    """The pop-up's rows (term -> value) once they are there."""
    page.locator("#hotspot-more dl").wait_for(state="visible", timeout=60_000)
    terms = page.locator("#hotspot-more dt").all_inner_texts()
    values = page.locator("#hotspot-more dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


def set_panel(page: Any, open_: bool) -> None:
    """The panel folds on a phone only (its toggle is hidden on a desktop)."""
    toggle = page.locator("#panel-toggle")
    if toggle.is_visible() and (toggle.get_attribute("aria-expanded") == "true") != open_:
        page.click("#panel-toggle")


HOT_CELL = """() => {
    const map = window.rondaMap, canvas = map.getCanvas().getBoundingClientRect();
    const hot = map.queryRenderedFeatures({layers: ['hotspots']})
        .filter((f) => f.properties.gi_bin > 0);
    for (const f of hot) {
        const ring = f.geometry.coordinates[0];
        let x = 0, y = 0;
        for (const [a, b] of ring.slice(0, -1)) { x += a; y += b; }
        const n = ring.length - 1, p = map.project([x / n, y / n]);
        if (p.x > 20 && p.y > 20 && p.x < canvas.width - 20 && p.y < canvas.height - 20) {
            return {x: canvas.left + p.x, y: canvas.top + p.y, count: f.properties.count};
        }
    }
    return null;
}"""


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_hotspot_popup_top_places_and_briefing(
    browser: Any, site: ReviewSite, viewport: str
) -> None:
    tab = open_tab(browser, site.base_url, viewport)
    page = tab.page
    sign_in(tab, site, "/map")
    ready = wait_ready(page, 0)
    set_panel(page, True)
    for name, value in WIDE.items():
        page.fill(f"#{name}", value)
    page.click("#apply")
    ready = wait_ready(page, ready)
    # The top places: street names, counts and change, reachable by keyboard.
    first = page.locator("#top-places-list li button").first
    first.wait_for(state="visible", timeout=60_000)
    assert re.search(r"\d+ \([+-]?\d+", first.inner_text()), first.inner_text()
    assert_accessible(page, f"{viewport}: top places")
    first.focus()
    page.keyboard.press("Enter")
    rows = facts(page)
    for term in ("Clase", "Incidentes", "Puntaje z (Gi*)", "Calles", "Sector"):
        assert rows.get(term), (term, rows)
    assert rows["Calles"] != "sin calles registradas"  # the demo city names its streets
    assert "Punto caliente" in rows["Clase"]
    assert_accessible(page, f"{viewport}: hotspot pop-up from the list")
    page.click("#detail-close")
    # A click on a hot cell of the map itself (incidents hidden: a point would open its own
    # detail instead); the pop-up's count is the one the map's layer drew.
    page.uncheck('#layers input[data-layer="incidents"]')
    ready = wait_ready(page, ready)
    set_panel(page, False)
    page.evaluate("() => new Promise((ok) => { rondaMap.once('idle', ok); rondaMap.zoomIn(); })")
    cell = page.evaluate(HOT_CELL)
    assert cell, "no hot cell on screen"
    page.mouse.click(cell["x"], cell["y"])
    rows = facts(page)
    assert int(rows["Incidentes"]) == cell["count"]
    assert_accessible(page, f"{viewport}: hotspot pop-up from the map")
    # The printable briefing, with the same filters, on one A4 page.
    page.click("#hotspot-more a.briefing-link")
    page.wait_for_url("**/briefing?*")
    assert "since=2024-10-07" in page.url and "until=2025-10-05" in page.url
    places = page.locator("table.places tbody tr")
    assert places.count() >= 1
    if viewport == "phone":  # each place a card: nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page, f"{viewport}: briefing")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("#print").is_visible()
    if viewport == "desktop":  # headless Chromium prints; one page it must be
        pdf = page.pdf(format="A4")
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    tab.close()
