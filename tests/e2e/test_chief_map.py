"""The chief's map as a station chief uses it (issue 15, items 3, 4, 6, 7, 9, 10, 11, 12), in
real Chromium against a real server on part of the demo city, on a desktop and a phone.

Item 10: the map's streets, sectors, incidents and hotspot cells come from Ronda's vector
tiles (seen in the network log, with the filters in their URLs), the streets are named on
the map, and a filter change fetches the tiles of the new filters.

Every layer is toggled and must draw (or say why it is empty), every form is sent, the
quick periods and the comparison are used, failures are provoked (an aborted layer, a
server error, the network gone, dates the wrong way round) and must be said on the page,
tiles the server sheds (429 busy) are asked again after their Retry-After and drawn,
the incident detail is used by keyboard only. axe-core finds 0 critical/serious problems
in each state; any console error or failed request not provoked on purpose fails the test
(``pages_support``). Waits are on ``#mapshell[data-ready]``, the number of the last load
the map has drawn."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from fixtures.city import load_city
from tests.e2e.city import CHIEF, PASSWORD, plant
from tests.e2e.conftest import Site
from tests.e2e.pages_support import Tab, allow_failed, assert_accessible, open_tab

pytestmark = pytest.mark.slow
VIEWPORTS = ["desktop", "phone"]
VIEWPORT_WIDTH = {"desktop": 1366, "phone": 390}
STATION = "st-150135-2"
TITLE = "Mapa del comisario · Ronda"
LIMA = dt.timezone(dt.timedelta(hours=-5))
WIDE = {"since": "07/10/2024", "until": "05/10/2025"}  # the demo year: hotspot plant-01


def sign_in(tab: Tab, site: Site) -> int:
    page = tab.page
    page.goto(f"{site.base_url}/login?next=/map")
    page.fill("input[name=officer_id]", CHIEF)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/map")
    return wait_ready(page, 0)


def wait_ready(page: Any, after: int) -> int:
    page.wait_for_function(
        "n => Number(document.getElementById('mapshell').dataset.ready) > n",
        arg=after,
        timeout=90_000,
    )
    assert page.title() == TITLE  # never left at "Cargando…"
    return int(page.evaluate("document.getElementById('mapshell').dataset.ready"))


def open_panel(page: Any) -> None:
    """On a phone the panel starts folded so that the map gets the screen."""
    if page.get_attribute("#panel-toggle", "aria-expanded") == "false":
        page.click("#panel-toggle")
    assert page.locator("#panel").is_visible()


def apply(page: Any, ready: int, **dates: str) -> int:
    for name, value in dates.items():
        page.fill(f"#{name}", value)
    page.click("#apply")
    return wait_ready(page, ready)


def drawn(page: Any, layer: str) -> int:
    return int(page.evaluate("l => rondaMap.queryRenderedFeatures({layers: [l]}).length", layer))


def counts(page: Any) -> dict[str, int]:
    return dict(page.evaluate("window.rondaState.counts"))


def station_name() -> str:
    stations = load_city().stations
    return str(stations.loc[stations.code == STATION, "name"].iloc[0])


def day(text: str) -> dt.date:
    d, m, y = (int(v) for v in text.split("/"))
    return dt.date(y, m, d)


def ddmmyyyy(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_layers_forms_periods_and_failures(browser: Any, site: Site, viewport: str) -> None:
    tab = open_tab(browser, site.base_url, viewport)
    page = tab.page
    ready = sign_in(tab, site)
    # 9: Spanish everywhere, the station's name and the role in Spanish
    who = page.inner_text("#who")
    assert "comisario" in who and station_name() in who and "chief" not in who
    assert page.get_attribute(".maplibregl-ctrl-zoom-in", "aria-label") == "Acercar"
    assert page.get_attribute(".maplibregl-ctrl-zoom-out", "aria-label") == "Alejar"
    # 11: on a phone the map has the width of the screen until the panel is opened
    width = page.locator("#map").bounding_box()["width"]
    assert width >= (380 if viewport == "phone" else 1000), width
    if viewport == "phone":
        assert page.get_attribute("#panel-toggle", "aria-expanded") == "false"
        assert_accessible(page, f"{viewport}: panel folded")
    open_panel(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT_WIDTH[viewport]
    assert_accessible(page, f"{viewport}: first view")
    ready = apply(page, ready, **WIDE)
    assert counts(page)["hotspots"] > 0 and counts(page)["incidents"] > 0
    # every layer, toggled on, draws or says why it has nothing to draw
    for layer in ("emerging", "density", "districts", "tracks", "dosage"):
        page.check(f'#layers input[data-layer="{layer}"]')
        ready = wait_ready(page, ready)
        block = page.locator(f'.legend-block[data-for="{layer}"]')
        assert block.is_visible()
        if layer in ("tracks", "dosage"):  # the seeded city pushed no patrol positions
            assert drawn(page, layer) == 0
            assert "No hay recorridos de patrullaje" in block.inner_text()
        else:
            assert drawn(page, layer) > 0, layer
    legend = page.inner_text("#emerging-legend")
    assert "Punto caliente persistente" in legend and "hot spot" not in legend
    body = page.inner_text("body")
    english = [
        w for w in ("hot spot", "Hotspot", "closed", "chief", "Zoom", "Loading") if w in body
    ]
    assert not english, english
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT_WIDTH[viewport]
    assert_accessible(page, f"{viewport}: every layer on")
    switched = ("emerging", "density", "districts", "tracks", "dosage")
    for layer in (*switched, "sectors", "stations", "hotspots", "incidents"):
        page.uncheck(f'#layers input[data-layer="{layer}"]')
        ready = wait_ready(page, ready)
        assert drawn(page, layer) == 0, layer
    for layer in ("sectors", "stations", "hotspots", "incidents"):
        page.check(f'#layers input[data-layer="{layer}"]')
        ready = wait_ready(page, ready)
        assert drawn(page, layer) > 0, layer
    ready = _periods(page, ready, viewport)
    ready = _categories_and_exports(page, ready)
    ready = _failures(tab, ready, viewport)
    # the sign-out form
    page.click("header form.inline button")
    page.wait_for_url("**/login")
    tab.close()


def _periods(page: Any, ready: int, viewport: str) -> int:
    anchor = day(page.get_attribute("#until", "value") or "")
    first = anchor.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    expected = {
        "week": (anchor - dt.timedelta(days=anchor.weekday()), anchor),
        "d28": (anchor - dt.timedelta(days=27), anchor),
        "last_month": (last_month_end.replace(day=1), last_month_end),
        "ytd": (dt.date(anchor.year, 1, 1), anchor),
    }
    for key, (since, until) in expected.items():
        page.click(f'button[data-preset="{key}"]')
        ready = wait_ready(page, ready)
        assert page.input_value("#since") == ddmmyyyy(since), key
        assert page.input_value("#until") == ddmmyyyy(until), key
    # last month against the month before it, counted by the map's own layer
    page.click('button[data-preset="last_month"]')
    ready = wait_ready(page, ready)
    page.check("#compare")
    ready = wait_ready(page, ready)
    table = page.locator("#comparison")
    assert table.is_visible()
    total = page.locator("#comparison-rows tr").last
    cells = total.locator("td").all_inner_texts()
    before_end = expected["last_month"][0] - dt.timedelta(days=1)
    previous = page.evaluate(
        """async (q) => (await (await fetch('/web/data/incidents.geojson?' +
            new URLSearchParams(q))).json()).total""",
        {"since": before_end.replace(day=1).isoformat(), "until": before_end.isoformat()},
    )
    assert int(cells[0]) == int(page.inner_text("#shown-count"))
    assert int(cells[1]) == previous
    assert ddmmyyyy(before_end.replace(day=1))[:5] in page.inner_text("#cmp-before")
    assert_accessible(page, f"{viewport}: comparison")
    page.uncheck("#compare")
    ready = wait_ready(page, ready)
    assert not table.is_visible()
    return apply(page, ready, **WIDE)


def _categories_and_exports(page: Any, ready: int) -> int:
    everything = counts(page)["incidents"]
    for box in page.query_selector_all('#filters input[name="cat"]'):
        if box.get_attribute("value") != "robo":
            box.uncheck()
    ready = apply(page, ready)
    assert 0 < counts(page)["incidents"] < everything
    for link in ("#export-csv", "#export-gpkg"):
        href = page.get_attribute(link, "href") or ""
        assert "cat=robo" in href and "bbox=" in href
        answer = page.request.get(page.url.split("/map")[0] + href)
        assert answer.status == 200, (link, answer.status)
    for box in page.query_selector_all('#filters input[name="cat"]'):
        box.check()
    return apply(page, ready)


BUSY = (
    '{"error":{"code":"busy","message":"the server is saturated; retry after Retry-After'
    ' seconds","details":{"retry_after_s":1}}}'
)


def _busy_tiles(tab: Tab, ready: int) -> int:
    """The server sheds every incidents tile once (429 busy, Retry-After: 1), as at a shift
    change: the map asks again when told, draws them all and says nothing went wrong."""
    page = tab.page
    asked: dict[str, list[float]] = {}

    def shed_once(route: Any) -> None:
        times = asked.setdefault(route.request.url, [])
        times.append(time.monotonic())
        if len(times) == 1:
            headers = {"Retry-After": "1"}
            route.fulfill(status=429, headers=headers, body=BUSY, content_type="application/json")
        else:
            route.continue_()

    page.route("**/tiles/incidents/**", shed_once)  # routing also turns the HTTP cache off
    ready = apply(page, ready)  # Apply reloads the tiles
    page.unroute("**/tiles/incidents/**")
    allow_failed(tab, "/tiles/incidents/")
    assert asked, "no incidents tile was asked for"
    assert all(len(times) == 2 for times in asked.values()), asked
    # after Retry-After's 1 s, not the map's own 5 s for a 429 that says nothing
    assert all(1.0 <= times[1] - times[0] < 4.0 for times in asked.values()), asked
    assert not page.locator("#alert").is_visible()
    assert page.get_attribute("#mapshell", "data-state") == "ready"
    assert counts(page)["incidents"] > 0 and drawn(page, "incidents") > 0
    return ready


def _failures(tab: Tab, ready: int, viewport: str) -> int:
    page = tab.page
    alert = page.locator("#alert")
    assert not alert.is_visible()
    # the hotspot tiles fail on the way (the network cut them)
    page.route("**/tiles/hotspots/**", lambda route: route.abort())
    ready = apply(page, ready)
    assert alert.is_visible()
    assert "No se pudo cargar" in alert.inner_text() and "Puntos calientes" in alert.inner_text()
    assert page.locator('.legend-block[data-for="hotspots"] .stale').is_visible()
    assert counts(page)["hotspots"] == 0 and drawn(page, "hotspots") == 0
    assert page.inner_text("#hot-list") == "Nada que mostrar."
    assert page.get_attribute("#mapshell", "data-state") == "error"
    assert_accessible(page, f"{viewport}: a layer failed")
    page.unroute("**/tiles/hotspots/**")
    allow_failed(tab, "/tiles/hotspots/")
    ready = _busy_tiles(tab, ready)
    # the server answers 500 for the incidents' count and list
    page.route(
        "**/web/data/meta/incidents.json*",
        lambda route: route.fulfill(status=500, body="{}", content_type="application/json"),
    )
    ready = apply(page, ready)
    assert "Incidentes" in alert.inner_text()
    assert counts(page)["incidents"] == 0 and counts(page)["hotspots"] > 0
    assert drawn(page, "incidents") == 0 and drawn(page, "hotspots") > 0
    page.unroute("**/web/data/meta/incidents.json*")
    allow_failed(tab, "incidents.json")
    ready = apply(page, ready)  # Apply again: everything back, the message gone
    assert not alert.is_visible()
    assert counts(page)["incidents"] > 0 and counts(page)["hotspots"] > 0
    # the network drops: the data goes, the page says so; it comes back by itself
    tab.context.set_offline(True)
    page.wait_for_function("() => !document.getElementById('alert').hidden")
    assert "Sin conexión" in alert.inner_text()
    assert counts(page)["incidents"] == 0
    tab.context.set_offline(False)
    ready = wait_ready(page, ready)
    assert not alert.is_visible() and counts(page)["incidents"] > 0
    # dates the wrong way round, and a date that does not exist
    ready = apply(page, ready, since="05/10/2025", until="07/10/2024")
    assert "posterior" in alert.inner_text()
    assert page.get_attribute("#since", "aria-invalid") == "true"
    assert all(n == 0 for n in counts(page).values())
    assert_accessible(page, f"{viewport}: dates reversed")
    ready = apply(page, ready, since="31/02/2025", until="05/10/2025")
    assert "31/02/2025" in alert.inner_text() and "dd/mm/aaaa" in alert.inner_text()
    ready = apply(page, ready, **WIDE)
    assert not alert.is_visible() and counts(page)["hotspots"] > 0
    return ready


def _incident_with_people() -> pd.Series:
    incidents = load_city().incidents

    def some(value: Any) -> bool:
        return isinstance(value, list) and len(value) > 0

    mine = incidents[(incidents.station_id == STATION) & incidents.lon.notna()]
    mine = mine[mine.victims.map(some)]
    return mine.sort_values("occurred_at").iloc[-1]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_detail_and_lists_by_keyboard(browser: Any, site: Site, viewport: str) -> None:
    tab = open_tab(browser, site.base_url, viewport)
    page = tab.page
    ready = sign_in(tab, site)
    # 12: the first Tab reaches the skip link, which jumps over the header
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.evaluate("document.activeElement.textContent") == "Saltar al contenido"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    if viewport == "phone":
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "panel-toggle"
        page.keyboard.press("Enter")
        assert page.locator("#panel").is_visible()
    # the day of an incident with people recorded: it is in the list of recent incidents
    chosen = _incident_with_people()
    at = dt.datetime.fromisoformat(str(chosen.occurred_at)).astimezone(LIMA)
    ready = apply(page, ready, since=ddmmyyyy(at.date()), until=ddmmyyyy(at.date()))
    buttons = page.locator("#incident-list button")
    assert buttons.count() > 0
    dialog = page.locator("#detail")
    opened = None
    for i in range(buttons.count()):
        buttons.nth(i).focus()
        page.keyboard.press("Enter")
        dialog.wait_for(state="visible")
        assert page.evaluate("document.activeElement.id") == "detail-close"
        if at.strftime("%d/%m/%Y %H:%M") in dialog.inner_text():
            opened = i
            break
        page.keyboard.press("Escape")
        assert not dialog.is_visible()
    assert opened is not None, "the incident is not in the list"
    text = dialog.inner_text()
    assert "(hora de Lima)" in text
    assert "cerrado" in text and "closed" not in text
    assert station_name() in text
    districts = load_city().districts
    assert str(districts.loc[districts.code == str(chosen.district_code), "name"].iloc[0]) in text
    assert "Registrado por" in text and "desde el dispositivo e2e" in text
    headers = dialog.locator("table.people th").all_inner_texts()
    assert headers == ["Grupo", "Nombre", "DNI", "Calidad"]
    assert "Víctimas" in dialog.locator("table.people").inner_text()
    assert page.get_attribute("#detail-close", "aria-label") is None  # its text is its name
    assert page.inner_text("#detail-close") == "Cerrar"
    assert_accessible(page, f"{viewport}: incident detail")
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert page.evaluate("document.activeElement.textContent") == buttons.nth(opened).inner_text()
    # hotspots from their list, by keyboard; the close button closes too
    ready = apply(page, ready, **WIDE)
    first = page.locator("#hot-list button").first
    first.focus()
    page.keyboard.press("Enter")
    dialog.wait_for(state="visible")
    assert "Punto caliente" in page.inner_text("#detail-title")
    assert "Caliente" in dialog.inner_text()
    assert_accessible(page, f"{viewport}: hotspot detail")
    page.keyboard.press("Enter")  # the focus is on "Cerrar"
    assert not dialog.is_visible()
    assert page.evaluate("document.activeElement.textContent") == first.inner_text()
    tab.close()


def _requests(tab: Tab) -> list[str]:
    urls: list[str] = []
    tab.page.on("request", lambda request: urls.append(request.url))
    return urls


def _tiles(urls: list[str], layer: str) -> list[dict[str, list[str]]]:
    """The query of every tile of ``layer`` asked for."""
    return [parse_qs(urlsplit(u).query) for u in urls if f"/tiles/{layer}/" in urlsplit(u).path]


def _window(since: str, until: str) -> str:
    """The tiles' ``datetime`` for Lima days (UTC-5, no summer time): worked out here, not
    by the page's code."""
    start = dt.datetime.combine(day(since), dt.time(), LIMA).astimezone(dt.UTC)
    end = dt.datetime.combine(day(until), dt.time(23, 59, 59), LIMA).astimezone(dt.UTC)
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def _station_streets() -> set[str]:
    """The names ("Av. Junín") of the demo city's streets within 0.02° of the station's area."""
    city = load_city()
    area = city.stations.loc[city.stations.code == STATION, "geometry"].iloc[0]
    near = city.streets[city.streets.intersects(area.buffer(0.02))]
    types = near.street_type.fillna("")
    return {f"{t} {n}".strip() for t, n in zip(types, near.name, strict=True)}


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_vector_tiles_named_streets_and_filters(browser: Any, site: Site, viewport: str) -> None:
    """Issue 15 item 10: what the map draws comes from /tiles (the session cookie signs the
    requests), each filter change asks for the tiles of the new filters, streets are named."""
    tab = open_tab(browser, site.base_url, viewport)
    page = tab.page
    urls = _requests(tab)
    ready = sign_in(tab, site)
    first = _window(page.input_value("#since"), page.input_value("#until"))
    for layer in ("hotspots", "incidents", "streets", "sectors"):
        assert _tiles(urls, layer), f"no {layer} tiles asked for"
    for layer in ("hotspots", "incidents"):  # the filters are in the tile URLs
        assert {q["datetime"][0] for q in _tiles(urls, layer)} == {first}, layer
    assert all(not q for q in _tiles(urls, "streets") + _tiles(urls, "sectors"))
    # nothing drawn comes as GeoJSON any more, only the counts and lists beside the tiles
    geojson = [u for u in urls if u.split("?")[0].endswith(".geojson")]
    assert not [u for u in geojson if "/base/districts." not in u and "/base/stations." not in u]
    assert drawn(page, "streets") > 0 and drawn(page, "sectors") > 0
    assert drawn(page, "incidents") > 0
    # a date filter asks for the tiles of the new dates; the streets' tiles stay as they are
    open_panel(page)
    urls.clear()
    ready = apply(page, ready, **WIDE)
    assert {q["datetime"][0] for q in _tiles(urls, "hotspots")} == {_window(**WIDE)}
    assert {q["datetime"][0] for q in _tiles(urls, "incidents")} == {_window(**WIDE)}
    assert counts(page)["hotspots"] > 0 and drawn(page, "hotspots") > 0
    assert not _tiles(urls, "streets")
    # a category filter: only robberies, in the tiles' URLs and on the map
    everything = counts(page)["incidents"]
    urls.clear()
    for box in page.query_selector_all('#filters input[name="cat"]'):
        if box.get_attribute("value") != "robo":
            box.uncheck()
    ready = apply(page, ready)
    for layer in ("hotspots", "incidents"):
        asked = _tiles(urls, layer)
        assert asked and all(q["category"] == ["robo"] for q in asked), layer
    assert 0 < counts(page)["incidents"] < everything
    # a quick period: the tiles of that period
    urls.clear()
    page.click('button[data-preset="d28"]')
    ready = wait_ready(page, ready)
    d28 = _window(page.input_value("#since"), page.input_value("#until"))
    assert {q["datetime"][0] for q in _tiles(urls, "incidents")} == {d28}
    # the streets are named on the map, in the font the server ships
    centre = plant("plant-01")  # among the station's streets
    urls.clear()
    page.evaluate("c => rondaMap.jumpTo({center: [c.lon, c.lat], zoom: 16.5})", centre)
    page.wait_for_function(
        "() => rondaMap.loaded() && rondaMap.queryRenderedFeatures({layers: ['street-names']})"
        ".length > 0",
        timeout=60_000,
    )
    names = page.evaluate(
        "rondaMap.queryRenderedFeatures({layers: ['street-names']})"
        ".map(f => [f.properties.type, f.properties.name].filter(Boolean).join(' '))"
    )
    assert set(names) <= _station_streets(), set(names) - _station_streets()
    assert any("/glyphs/DejaVuSans/0-255.pbf" in u for u in urls)
    assert_accessible(page, f"{viewport}: streets named")
    tab.close()
