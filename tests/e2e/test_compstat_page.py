"""The CompStat page as a station chief opens it (issue 14, item 2), in real Chromium against
a real server on part of the demo city, desktop and phone: the totals are the demo city's
own counts of the chief's station (Lima dates taken from the committed CSV), the CSV link
downloads the same figures, and axe-core finds 0 critical/serious problems."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from fixtures.city import load_city
from tests.e2e.city import CHIEF, PASSWORD
from tests.e2e.conftest import Site
from tests.e2e.pages_support import assert_accessible, open_tab

pytestmark = pytest.mark.slow
STATION = "st-150135-2"  # the chief's
DATE = "2025-09-30"
# 28 days ending on 30 September 2025, the 28 before, and the same dates of 2024
SPANS = (
    (dt.date(2025, 9, 3), dt.date(2025, 9, 30)),
    (dt.date(2025, 8, 6), dt.date(2025, 9, 2)),
    (dt.date(2024, 9, 3), dt.date(2024, 9, 30)),
)


def _expected() -> list[int]:
    incidents = load_city().incidents
    mine = incidents[incidents.station_id == STATION]
    lima = pd.to_datetime(mine.occurred_at, utc=True).dt.tz_convert(ZoneInfo("America/Lima"))
    days = lima.dt.date
    return [int(((days >= a) & (days <= b)).sum()) for a, b in SPANS]


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_chief_reads_compstat(browser: Any, site: Site, viewport: str) -> None:
    tab = open_tab(browser, site.base_url, viewport)
    page = tab.page
    page.goto(f"{site.base_url}/login?next=/compstat")
    page.fill("input[name=officer_id]", CHIEF)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/compstat")
    page.goto(f"{site.base_url}/compstat?date={DATE}")
    assert "CompStat" in page.locator("h1").inner_text()
    total = page.locator("table[aria-labelledby=period-28d] tr.total td")
    figures = [total.nth(i).inner_text() for i in (0, 1, 3)]
    assert figures == [str(n) for n in _expected()]
    assert_accessible(page, f"compstat {viewport}")
    # The link's CSV, fetched with the page's session (a click would be a download).
    href = page.get_attribute("a[href^='/compstat.csv']", "href")
    text = page.evaluate("async (u) => (await fetch(u)).text()", href)
    last = [line for line in text.splitlines() if line.startswith("total,28d,")]
    assert last and last[0].split(",")[4] == figures[0]
    # The places, patrols and PAI of the 28 days: the demo city has hot places with names.
    places = page.locator("table.places tbody tr")
    assert places.count() >= 1
    assert page.locator("#pai").is_visible()
    if viewport == "phone":  # nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Printed: no navigation, no form; the PDF link gives a PDF.
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("form.actions").is_visible()
    assert page.locator("table.places").is_visible()
    page.emulate_media(media="screen")
    pdf_href = page.get_attribute("#pdf-link", "href")
    assert pdf_href and pdf_href.startswith("/compstat.pdf?date=" + DATE)
    head = page.evaluate(
        "async (u) => { const r = await fetch(u);"
        " const b = new Uint8Array(await r.arrayBuffer());"
        " return [r.headers.get('content-type'), String.fromCharCode(...b.slice(0, 5))]; }",
        pdf_href,
    )
    assert head == ["application/pdf", "%PDF-"]
    if viewport == "desktop":  # Chromium's own print of the page works too
        assert page.pdf(format="A4").startswith(b"%PDF-")
    tab.close()
