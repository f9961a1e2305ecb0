"""The chief's first view draws the hotspot cells first (issue 15 acceptance 3, speed): until
every hotspot tile has come, the map asks for no other tile and no base GeoJSON, so
MapLibre's one worker decodes them first and the first frame with data has them
(bench/pages.py, docs/benchmarks.md "Web pages on vector tiles"). Then every other layer
comes and the map settles with all of them drawn, as before.

The hotspot tiles are held back by the test (a route that answers them only when told), so
the order is seen without any timing: while they are held, nothing else may be asked for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.city import CHIEF, PASSWORD
from tests.e2e.conftest import Site
from tests.e2e.pages_support import assert_accessible, open_tab

pytestmark = pytest.mark.slow
OTHERS = ("/tiles/incidents/", "/tiles/streets/", "/tiles/sectors/", "/web/data/base/")


def _others(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).path.startswith(OTHERS)]


def _drawn(page: Any, layer: str) -> int:
    return int(page.evaluate("l => rondaMap.queryRenderedFeatures({layers: [l]}).length", layer))


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_first_view_draws_hotspots_before_anything_else(
    browser: Any, site: Site, viewport: str
) -> None:
    tab = open_tab(browser, site.base_url, viewport)
    page = tab.page
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    held: list[Any] = []
    holding = [True]

    def hold(route: Any) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.fallback()

    page.route("**/tiles/hotspots/**", hold)
    page.goto(f"{site.base_url}/login?next=/map")
    page.fill("input[name=officer_id]", CHIEF)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/map")
    page.wait_for_function("() => !!window.rondaMap", timeout=90_000)
    for _ in range(900):  # the first hotspot tile asked for (up to 90 s on a busy machine)
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "no hotspot tile asked for"
    # MapLibre asked for every source's tiles in one go before (the base GeoJSON even
    # earlier); give it time to, while the hotspot tiles are still held.
    page.wait_for_timeout(2_000)
    assert not _others(urls), _others(urls)
    assert page.get_attribute("#mapshell", "data-hotspots-drawn") is None
    holding[0] = False
    for route in held:
        route.fallback()  # on to the tab's own route, which lets it through
    page.wait_for_function(
        "() => Number(document.getElementById('mapshell').dataset.ready) >= 1", timeout=90_000
    )
    assert page.get_attribute("#mapshell", "data-hotspots-drawn") == "1"
    assert page.get_attribute("#mapshell", "data-state") == "ready"
    # then everything else came and is drawn
    asked = _others(urls)
    for prefix in OTHERS:
        assert any(urlsplit(u).path.startswith(prefix) for u in asked), prefix
    for layer in ("hotspots", "incidents", "streets", "sectors", "stations"):
        assert _drawn(page, layer) > 0, layer
    assert _drawn(page, "base-districts-fill") > 0
    assert_accessible(page, f"first view, {viewport}")
    tab.close()
