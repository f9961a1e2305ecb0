"""The public page and its downloads as a community member reads them (issue 15, items
16–21): Spanish first, plain words, spreadsheet-ready CSV, charts readable on a phone with
text alternatives; and still only the published numbers. (The browser measures the phone
layout in tests/e2e/test_public_page.py.)"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from tests.server.conftest import Served
from tests.server.test_public_api import seed

SVG = "{http://www.w3.org/2000/svg}"
JANUARY = {"month": "2025-01"}


def svg_of(html: str, element_id: str) -> ET.Element:
    """The inline SVG inside ``<div id=element_id>``, parsed as XML."""
    found = re.search(rf'<div id="{element_id}">(<svg.*?</svg>)</div>', html, re.S)
    assert found, element_id
    return ET.fromstring(found.group(1))


def rows_of(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff"), "no UTF-8 byte order mark"
    return list(csv.reader(io.StringIO(text[1:])))


async def get(client: httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    answer = await client.get(path, params=params)
    assert answer.status_code == 200, (path, answer.text[:300])
    return answer


async def test_csv_is_spanish_with_a_bom_and_a_rated_totals_row(served: Served) -> None:
    """Item 20: headers in Spanish (English on asking), a BOM, the totals row with a rate."""
    await seed(served)
    client = served.client
    data = (await get(client, "/public/districts.json", **JANUARY)).json()
    answer = await get(client, "/public/districts.csv", **JANUARY)
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the bytes of the BOM, then UTF-8
    assert answer.headers["content-type"].startswith("text/csv")
    assert "ronda-distritos-2025-01.csv" in answer.headers["content-disposition"]
    es = rows_of(answer.text)
    names = {"robo": "Robo", "hurto": "Hurto", "lesiones": "Lesiones"}
    assert data["categories"] == ["hurto", "lesiones", "robo"]
    assert es[0] == [
        "mes",
        "ubigeo",
        "distrito",
        "población",
        *(names[c] for c in data["categories"]),
        "total",
        "tasa por 10 000 hab.",
    ]
    en = rows_of((await get(client, "/public/districts.csv", lang="en", **JANUARY)).text)
    assert en[0][:4] == ["month", "ubigeo", "district", "population"]
    assert en[0][4:] == ["Theft", "Assault", "Robbery", "total", "rate per 10,000 residents"]
    assert en[1:-1] == es[1:-1]  # only the words change, never a figure
    # the districts' rows are the published JSON's, withheld counts empty
    for row, published in zip(es[1:-1], data["districts"], strict=True):
        counts = [published["counts"][c] for c in data["categories"]]
        expected = [published["total"], published["rate"]]
        assert row[4:] == ["" if v is None else str(v) for v in [*counts, *expected]]
    # the totals row: the city's population and its rate from the published total
    total = data["totals"]["total"]
    population = sum(r["population"] for r in data["districts"])
    assert es[-1][:4] == ["2025-01", "", "Total", str(population)]
    assert es[-1][-2] == str(total) and total is not None
    assert float(es[-1][-1]) == round(total * 10_000 / population, 2)
    assert en[-1][2] == "Total"
    # the trend: the same treatment
    trend = await get(client, "/public/trend.csv")
    assert trend.content.startswith(b"\xef\xbb\xbf")
    assert rows_of(trend.text)[0] == ["mes", "Hurto", "Lesiones", "Robo", "total"]
    trend_en = rows_of((await get(client, "/public/trend.csv", lang="en")).text)
    assert trend_en[0] == ["month", "Theft", "Assault", "Robbery", "total"]
    # the JSON (what programs read) is untouched: no rate was added to the frozen totals
    assert set(data["totals"]) == {"counts", "total"}


async def test_page_downloads_are_labelled_in_the_pages_language(served: Served) -> None:
    """Item 20: the download links say what they are, in Spanish, and carry the language."""
    await seed(served)
    html = (await get(served.client, "/public", **JANUARY)).text
    assert "Tabla por distrito, enero de 2025" in html
    assert 'href="/public/districts.csv?month=2025-01&amp;lang=es">hoja de cálculo (CSV)' in html
    assert 'href="/public/trend.csv?lang=es"' in html
    english = (await get(served.client, "/public", lang="en", **JANUARY)).text
    assert 'href="/public/districts.csv?month=2025-01&amp;lang=en">spreadsheet (CSV)' in english
    assert "Table by district, January 2025" in english


async def test_how_to_read_in_plain_words_with_the_real_rules(served: Served) -> None:
    """Item 19: why figures are withheld, what the rate means, how late the data is; the
    figures are the month's rules (k = 5, 28 days, per 10 000), and no jargon."""
    await seed(served)
    html = (await get(served.client, "/public", **JANUARY)).text
    data = (await get(served.client, "/public/districts.json", **JANUARY)).json()
    how = html[html.index('<section id="how"') :]
    how = how[: how.index("</section>")]
    assert "Cómo leer estos datos" in how
    assert "de 1 a 4 incidentes" in how  # k − 1 with k = 5
    assert "tasa por 10 000 habitantes" in how
    assert "al menos 28 días desde que terminó" in how
    assert "no cambia nunca" in how  # the freeze rule
    # published on the day the month was frozen; the newest published is February (the
    # seed's April report holds March back), so March may appear 28 days after 1 April
    # (people read Lima's day; the wire's UTC day differs from 00:00 to 05:00 UTC)
    published = datetime.fromisoformat(data["published_at"].replace("Z", "+00:00"))
    day = published.astimezone(ZoneInfo("America/Lima")).day
    assert re.search(rf"\b{day} de \w+ de 20\d\d", how), how
    assert "Marzo de 2025 se publicará no antes del 29 de abril de 2025" in how
    # the worked rate example is a real published row
    row = max((r for r in data["districts"] if r["rate"] is not None), key=lambda r: r["total"])
    assert f"{row['name']} tuvo {row['total']} incidentes" in how
    assert f"= {row['rate']:.2f}" in how
    for jargon in ("H3", "resoluci", "celdas", "k-anon", "supresi"):
        assert jargon not in how, jargon
    # the English version
    english = (await get(served.client, "/public", lang="en", **JANUARY)).text
    assert "How to read these data" in english and "from 1 to 4 incidents" in english
    assert "H3" not in english


async def test_trend_chart_is_phone_sized_with_its_whole_legend(served: Served) -> None:
    """Item 17: the chart's coordinate system is about a phone's width, so its text is drawn
    at about its size (≥ 12 px at 342 px and up); every series has a legend line inside the
    picture; item 21: it has a name, a description and the data as a table."""
    await seed(served)
    html = (await get(served.client, "/public", **JANUARY)).text
    trend = (await get(served.client, "/public/trend.json")).json()
    svg = svg_of(html, "trend")
    _, _, width, height = (float(v) for v in svg.get("viewBox", "").split())
    size = float(svg.get("font-size", "0"))
    assert size * 342 / width >= 12  # the narrowest box the phone layout gives it
    texts = svg.findall(f".//{SVG}text")
    assert all(float(t.get("font-size", size)) >= size for t in texts)
    legend = [t for t in texts if t.get("class") == "legend"]
    series = {"hurto": "Hurto", "lesiones": "Lesiones", "robo": "Robo", "total": "Total"}
    assert [t.text for t in legend][: len(series)] == [series[k] for k in trend["series"]]
    for t in legend:  # inside the picture, with room for the label at ~0.62 em a letter
        assert 0 < float(t.get("y", "0")) <= height
        assert float(t.get("x", "0")) + len(t.text or "") * size * 0.62 <= width
    # item 21: accessible name and description from the SVG's own title and desc
    assert svg.get("role") == "img"
    ids = (svg.get("aria-labelledby") or "").split()
    title_el, desc_el = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title_el is not None and desc_el is not None
    assert [title_el.get("id"), desc_el.get("id")] == ids
    desc = desc_el.text or ""
    assert all(str(v) in desc for v in trend["series"]["total"] if v is not None)
    table = html[html.index('<details id="trend-data">') :]
    table = table[: table.index("</details>")]
    cells = re.findall(r'<td class="n">([^<]*)</td>', table)
    expected = [
        "—" if v is None else str(v)
        for i in range(len(trend["months"]))
        for v in (trend["series"][k][i] for k in trend["series"])
    ]
    assert cells == expected


async def test_cell_map_shows_counts_names_and_legend(served: Served) -> None:
    """Item 18: every published cell is labelled with its count (no hovering), districts
    are named, the legend's classes cover every count; item 21: name, description and a
    table equivalent; only published counts appear."""
    await seed(served)
    html = (await get(served.client, "/public", **JANUARY)).text
    cells = (await get(served.client, "/public/cells.geojson", **JANUARY)).json()
    published = Counter(f["properties"]["count"] for f in cells["features"])
    assert published  # the seed has cells at or above k
    svg = svg_of(html, "cells")
    labels = [t for t in svg.findall(f".//{SVG}text") if t.get("class") == "count"]
    assert Counter(int(t.text or "") for t in labels) == published
    names = {t.text for t in svg.findall(f".//{SVG}text") if t.get("class") == "name"}
    months = (await get(served.client, "/public/months.json")).json()
    district_names = {d["name"] for d in months["districts"]}
    assert names and names <= district_names
    assert svg.get("role") == "img" and svg.find(f"{SVG}title") is not None
    desc_el = svg.find(f"{SVG}desc")
    assert desc_el is not None and desc_el.text is not None
    assert desc_el.text.startswith(f"{len(cells['features'])} zonas")
    # the legend: its classes (ranges) hold every published count
    legend = re.search(r'<ul class="map-legend".*?</ul>', html, re.S)
    assert legend
    ranges = re.findall(r"(\d+)(?: a (\d+))? incidentes</li>", legend.group(0))
    spans = [(int(lo), int(hi or lo)) for lo, hi in ranges]
    assert all(any(lo <= n <= hi for lo, hi in spans) for n in published)
    assert "Límite de distrito" in legend.group(0) and "menos de 5 incidentes" in legend.group(0)
    # the table equivalent: one row per cell, the districts it covers named
    table = html[html.index('<details id="cells-data">') :]
    table = table[: table.index("</details>")]
    rows = re.findall(r'<th scope="row">([^<]+)</th><td class="n">(\d+)</td>', table)
    assert Counter(int(n) for _, n in rows) == published
    assert all(set(zone.split(", ")) <= district_names for zone, _ in rows)


async def test_district_table_scrolls_in_a_labelled_region(served: Served) -> None:
    """Item 16 (the layout itself is measured in the browser): the table sits in a
    keyboard-focusable, labelled scroll region; its rows are headed by the district; the
    totals row shows the city's rate; the page loads its own stylesheet."""
    await seed(served)
    html = (await get(served.client, "/public", **JANUARY)).text
    assert re.search(
        r'<div class="table-scroll" id="district-scroll" tabindex="0" role="region" '
        r'aria-labelledby="table-heading">',
        html,
    )
    assert '<link rel="stylesheet" href="/static/public.css">' in html
    css = await get(served.client, "/static/public.css")
    assert "position: sticky; left: 0" in css.text
    data = (await get(served.client, "/public/districts.json", **JANUARY)).json()
    population = sum(r["population"] for r in data["districts"])
    rate = round(data["totals"]["total"] * 10_000 / population, 2)  # as the districts' rates
    foot = html[html.index("<tfoot>") : html.index("</tfoot>")]
    assert f'<td class="n rate">{rate:.2f}</td>' in foot
    assert len(re.findall(r'<tr data-district="\d+"><th scope="row">', html)) == len(
        data["districts"]
    )
