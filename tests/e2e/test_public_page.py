"""The public page as a community member uses it (issue 15, items 16–21), in real Chromium
on a desktop (1366×768) and a phone (390×844): the district table scrolls with its
district column in view, the trend's text is drawn at 12 px or more with its whole legend,
the map's counts and names are on it, the plain-language section is there, the CSV
downloads in Spanish with a BOM, the pictures have text alternatives; axe-core finds nothing
critical or serious in any state; no console error, no failed request."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Site
from tests.e2e.pages_support import Tab, assert_accessible, open_tab

pytestmark = pytest.mark.slow
VIEWPORTS = ["desktop", "phone"]


def measure_table(page: Any) -> dict[str, Any]:
    """Scroll the table's box to its far right and down; where the district column, the
    header and the last column are then, against the box."""
    measured: dict[str, Any] = page.evaluate(
        """() => {
            const box = document.querySelector('#district-scroll');
            const table = document.querySelector('#district-table');
            const before = {scrollWidth: box.scrollWidth, clientWidth: box.clientWidth};
            box.scrollLeft = box.scrollWidth;
            box.scrollTop = 300;
            const b = box.getBoundingClientRect();
            const row = table.tBodies[0].rows[8];
            const name = row.cells[0].getBoundingClientRect();
            const last = row.cells[row.cells.length - 1].getBoundingClientRect();
            const head = table.tHead.rows[0].cells[1].getBoundingClientRect();
            const out = {...before, box: {left: b.left, right: b.right, top: b.top},
                scrollLeft: box.scrollLeft, scrollTop: box.scrollTop,
                name: {left: name.left, right: name.right, text: row.cells[0].innerText},
                last: {left: last.left, right: last.right}, head: {top: head.top},
                page: document.documentElement.scrollWidth, viewport: window.innerWidth};
            box.scrollLeft = 0; box.scrollTop = 0;
            return out;
        }"""
    )
    return measured


def measure_svg(page: Any, selector: str) -> dict[str, Any]:
    """Each text of an SVG: its drawn font size in CSS px (its font size times the SVG's
    scale on screen), its box on screen and within the viewBox."""
    measured: dict[str, Any] = page.evaluate(
        """sel => {
            const svg = document.querySelector(sel);
            const r = svg.getBoundingClientRect();
            const vb = svg.viewBox.baseVal;
            const scale = svg.getScreenCTM().a;
            const texts = [...svg.querySelectorAll('text')].map(t => {
                const c = t.getBoundingClientRect(), b = t.getBBox();
                return {text: t.textContent, cls: t.getAttribute('class'),
                    px: parseFloat(getComputedStyle(t).fontSize) * scale, height: c.height,
                    left: c.left, right: c.right, top: c.top, bottom: c.bottom,
                    bx: b.x, by: b.y, bw: b.width, bh: b.height};
            });
            return {rect: {left: r.left, right: r.right, top: r.top, bottom: r.bottom},
                viewBox: {w: vb.width, h: vb.height}, texts, role: svg.getAttribute('role')};
        }""",
        selector,
    )
    return measured


def open_public(browser: Any, site: Site, viewport: str, query: str = "") -> Tab:
    tab = open_tab(browser, site.base_url, viewport)
    tab.page.goto(f"{site.base_url}/public{query}")
    tab.page.wait_for_selector("#district-table")
    return tab


def download(tab: Tab, selector: str) -> bytes:
    with tab.page.expect_download() as info:
        tab.page.click(selector)
    path = info.value.path()
    return Path(path).read_bytes()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_district_table_keeps_the_district_in_view(browser: Any, site: Site, viewport: str) -> None:
    """Item 16: on the phone the table scrolls inside its box (the page itself does not
    scroll sideways) and the district column and the header stay; on the desktop it fits."""
    tab = open_public(browser, site, viewport)
    m = measure_table(tab.page)
    assert m["page"] <= m["viewport"], m  # nothing wider than the screen
    if viewport == "phone":
        assert m["scrollWidth"] > m["clientWidth"] and m["scrollLeft"] > 0, m
        assert abs(m["name"]["left"] - m["box"]["left"]) <= 2, m  # stuck to the left edge
        assert m["name"]["right"] < m["last"]["left"], m  # and not under the last column
        assert m["last"]["right"] <= m["box"]["right"] + 1, m  # the last column reachable
        assert m["scrollTop"] > 0 and abs(m["head"]["top"] - m["box"]["top"]) <= 2, m
    else:
        assert m["scrollWidth"] <= m["clientWidth"] + 1, m
    name = tab.page.locator("#district-table tbody tr").nth(8).locator("th")
    assert name.is_visible()
    assert_accessible(tab.page, f"public {viewport}: table")
    tab.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_trend_chart_text_is_readable_and_its_legend_whole(
    browser: Any, site: Site, viewport: str
) -> None:
    """Item 17: every text of the chart is drawn at 12 CSS px or more; every series has its
    legend line inside the picture and on screen. Item 21: it is an image with a name and
    a description, and its data open as a table."""
    tab = open_public(browser, site, viewport)
    svg = measure_svg(tab.page, "#trend svg")
    assert svg["role"] == "img"
    small = [t for t in svg["texts"] if t["px"] < 12 or t["height"] < 12]
    assert not small, small
    series = httpx.get(f"{site.base_url}/public/trend.json").json()["series"]
    legend = [t for t in svg["texts"] if t["cls"] == "legend"]
    assert len(legend) >= len(series)
    for t in legend:
        assert t["bx"] >= 0 and t["bx"] + t["bw"] <= svg["viewBox"]["w"], t
        assert t["by"] >= 0 and t["by"] + t["bh"] <= svg["viewBox"]["h"], t
        assert svg["rect"]["left"] <= t["left"] and t["right"] <= svg["rect"]["right"] + 0.5, t
        assert t["bottom"] <= svg["rect"]["bottom"] + 0.5, t
    title = tab.page.locator("#trend-title").text_content()
    assert title and tab.page.get_by_role("img", name=title).count() == 1
    tab.page.click("#trend-data summary")
    table = tab.page.locator("#trend-data table")
    assert table.is_visible()
    assert table.locator("tbody tr").count() == len(series["total"])
    assert_accessible(tab.page, f"public {viewport}: trend data open")
    tab.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_cell_map_reads_without_hovering(browser: Any, site: Site, viewport: str) -> None:
    """Item 18: each published cell carries its count on the map, districts are named, the
    legend is there; all of that at 12 px or more. Item 21: name, description, table."""
    tab = open_public(browser, site, viewport)
    month = tab.page.locator("#month").input_value()
    cells = httpx.get(f"{site.base_url}/public/cells.geojson?month={month}").json()
    published = sorted(f["properties"]["count"] for f in cells["features"])
    assert published
    svg = measure_svg(tab.page, "#cells svg")
    assert svg["role"] == "img"
    counts = sorted(int(t["text"]) for t in svg["texts"] if t["cls"] == "count")
    assert counts == published
    names = [t["text"] for t in svg["texts"] if t["cls"] == "name"]
    assert "San Martín de Porres" in names  # the stations seeded are in it
    small = [t for t in svg["texts"] if t["px"] < 12]
    assert not small, small
    legend = tab.page.locator("#cells-legend li")
    assert legend.count() >= 3 and legend.first.is_visible()
    title = tab.page.locator("#cells-title").text_content()
    assert title and tab.page.get_by_role("img", name=title).count() == 1
    tab.page.click("#cells-data summary")
    rows = tab.page.locator("#cells-data tbody tr")
    assert rows.count() == len(published)
    assert "San Martín de Porres" in tab.page.locator("#cells-data").inner_text()
    assert_accessible(tab.page, f"public {viewport}: map data open")
    tab.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_how_to_read_and_spanish_csv_download(browser: Any, site: Site, viewport: str) -> None:
    """Items 19 and 20: the plain-language section; the district CSV, downloaded by its
    Spanish link, opens with a BOM and Spanish headers, and its totals row has a rate."""
    tab = open_public(browser, site, viewport)
    how = tab.page.locator("#how")
    assert how.locator("h2").inner_text() == "Cómo leer estos datos"
    text = how.inner_text()
    assert "de 1 a 4 incidentes" in text and "28 días" in text and "10 000" in text
    assert "H3" not in text and "resolución" not in text
    tab.page.click("a[href='#how']")
    link = tab.page.locator("#dl-districts-csv")
    assert link.inner_text() == "hoja de cálculo (CSV)"
    body = download(tab, "#dl-districts-csv")
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["mes", "ubigeo", "distrito", "población"]
    assert rows[0][-2:] == ["total", "tasa por 10 000 hab."]
    assert "Robo" in rows[0] and "robo" not in rows[0]
    assert rows[-1][2] == "Total" and rows[-1][-1] != "" and float(rows[-1][-1]) > 0
    trend = download(tab, "#dl-trend-csv")
    assert trend.decode("utf-8-sig").splitlines()[0].startswith("mes,")
    assert_accessible(tab.page, f"public {viewport}: how to read")
    tab.close()


def test_english_page_and_csv(browser: Any, site: Site) -> None:
    """Items 19 and 20 in English: the section and the CSV headers follow the page."""
    tab = open_public(browser, site, "phone", "?lang=en")
    assert tab.page.locator("#how h2").inner_text() == "How to read these data"
    assert tab.page.locator("#dl-districts-csv").inner_text() == "spreadsheet (CSV)"
    body = download(tab, "#dl-districts-csv")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["month", "ubigeo", "district", "population"]
    assert "Robbery" in rows[0]
    assert_accessible(tab.page, "public phone, English")
    tab.close()
