"""The chief's map, the public page and enrollment, in real headless Chromium against a real
server on part of the demo city. Waits are on signals the page gives (the map sets
``data-ready="N"`` on ``#mapshell`` on ``map.once('idle')`` after its N-th data load; the
page's title stays the page's name)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import numpy as np
import pytest

from fixtures.city import load_city
from sync.clock import HybridClock
from tests.e2e import png
from tests.e2e.city import ADMIN, CHIEF, PASSWORD, plant
from tests.e2e.conftest import Site

pytestmark = pytest.mark.slow
K = 5


def sign_in(page: Any, site: Site, officer: str, next_path: str) -> None:
    page.goto(f"{site.base_url}/login?next={next_path}")
    page.fill("input[name=officer_id]", officer)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"**{next_path}")


def wait_ready(page: Any, after: int) -> int:
    """Wait until the map has drawn a data load newer than ``after``; return its number."""
    page.wait_for_function(
        "n => Number(document.getElementById('mapshell').dataset.ready) > n",
        arg=after,
        timeout=60_000,
    )
    assert page.title() in ("Mapa del comisario · Ronda", "Chief's map · Ronda")
    return int(page.evaluate("document.getElementById('mapshell').dataset.ready"))


def apply_filters(page: Any, ready: int, **changes: Any) -> int:
    """Fill the date fields (ISO days, typed as the page asks: dd/mm/yyyy) and apply."""
    for name, value in changes.items():
        page.fill(f"input[name={name}]", "/".join(reversed(value.split("-"))))
    page.click("#apply")
    return wait_ready(page, ready)


def patch_colour(page: Any, x: float, y: float) -> np.ndarray:
    """The median colour of a 9×9 patch of the screenshot around a map point."""
    box = page.locator("#map").bounding_box()
    clip = {"x": box["x"] + x - 4, "y": box["y"] + y - 4, "width": 9, "height": 9}
    pixels = png.decode(page.screenshot(clip=clip))
    colour: np.ndarray = np.median(pixels.reshape(-1, 3), axis=0)
    return colour


def hot_classes_at(page: Any, point: dict[str, float]) -> list[int]:
    classes: list[int] = page.evaluate(
        """p => rondaMap.queryRenderedFeatures([p.x, p.y], {layers: ['hotspots']})
                 .map(f => f.properties.gi_bin)""",
        point,
    )
    return classes


def test_chief_map_draws_the_planted_hotspot(page: Any, site: Site) -> None:
    sign_in(page, site, CHIEF, "/map")
    assert "Periodo" in page.inner_text(".panel")  # Spanish first
    ready = wait_ready(page, 0)
    page.uncheck('#layers input[data-layer="incidents"]')  # dots would hide the colour
    ready = wait_ready(page, ready)
    ready = apply_filters(page, ready, since="2024-10-07", until="2025-10-05")
    centre = plant("plant-01")
    page.evaluate("c => rondaMap.jumpTo({center: [c.lon, c.lat], zoom: 14})", centre)
    page.wait_for_function("() => rondaMap.loaded()")
    point = page.evaluate("c => rondaMap.project([c.lon, c.lat])", centre)
    classes = hot_classes_at(page, point)
    assert classes and max(classes) >= 2, classes
    red, green, blue = patch_colour(page, point["x"], point["y"])
    assert red > green + 60 and red > blue + 60, (red, green, blue)  # #b2182b / #ef8a62
    # a category filter redraws: fraud only, and the robbery hotspot is gone
    counts_before = page.evaluate("window.rondaState.counts.hotspots")
    for box in page.query_selector_all('#filters input[name="cat"]'):
        if box.get_attribute("value") != "estafa":
            box.uncheck()
    ready = apply_filters(page, ready)
    point = page.evaluate("c => rondaMap.project([c.lon, c.lat])", centre)
    after = hot_classes_at(page, point)
    assert not after or max(after) < 2, after
    assert page.evaluate("window.rondaState.counts.hotspots") != counts_before


def test_language_switch_and_scope(page: Any, site: Site) -> None:
    sign_in(page, site, CHIEF, "/map")
    wait_ready(page, 0)
    page.click("#lang-switch")
    page.wait_for_url("**/map")
    wait_ready(page, 0)
    assert "Time window" in page.inner_text(".panel")
    assert page.inner_text("#lang-switch") == "Español"
    # the chief sees the own station only: no incident of the neighbouring station
    stations = page.evaluate(
        """async () => {
            const q = new URLSearchParams({since: '2024-10-01', until: '2025-10-31'});
            const r = await fetch('/web/data/incidents.geojson?' + q);
            return (await r.json()).total;
        }"""
    )
    assert stations == site.counts["st-150135-2"]


def test_public_page_is_safe(page: Any, site: Site) -> None:
    page.goto(f"{site.base_url}/public")
    table = page.locator("#district-table")
    assert table.is_visible()
    cells = page.locator("#district-table td.n").all_inner_texts()
    numbers = [int(c) for c in cells if re.fullmatch(r"\d+", c)]
    assert numbers and all(n == 0 or n >= K for n in numbers)
    assert page.locator("#trend svg polyline").count() > 0
    assert page.locator("#cells svg path.district").count() > 0
    text = page.content()
    incidents = load_city().incidents
    mine = incidents[incidents["station_id"].isin(list(site.counts))]
    names = {
        person["name"]
        for column in ("victims", "witnesses", "suspects")
        for raw in mine[column]
        for person in _people(raw)
    }
    assert names and not any(name in text for name in names)
    months = httpx.get(f"{site.base_url}/public/months.json").json()["months"]
    assert months
    for month in months:
        data = httpx.get(f"{site.base_url}/public/districts.json?month={month}").json()
        for row in [*data["districts"], data["totals"]]:
            for value in [*row["counts"].values(), row["total"]]:
                assert value is None or value == 0 or value >= K


def _people(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        return list(json.loads(raw)) if raw.startswith("[") else []
    return list(raw) if isinstance(raw, list) else []


def test_device_enrolled_on_the_admin_page_syncs(page: Any, site: Site) -> None:
    sign_in(page, site, ADMIN, "/admin/devices")
    page.select_option("#enroll-officer", "of-0681")
    page.click("#create-code")
    code = page.inner_text("#enroll-code").strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert page.locator(".qr svg path").count() == 1
    with httpx.Client(base_url=site.base_url) as api:
        enrolled = api.post("/v1/enroll", json={"code": code, "device_name": "Moto e2e"})
        assert enrolled.status_code == 201, enrolled.text
        token = enrolled.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        rid = uuid.uuid4().hex
        change = {
            "collection": "incidents",
            "id": rid,
            "op": "upsert",
            "hlc": str(HybridClock().tick()),
            "fields": {"category": "hurto", "occurred_at": "2025-09-01T10:00:00Z"},
        }
        pushed = api.post(
            "/v1/sync/push", json={"batch_id": rid, "changes": [change]}, headers=auth
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["summary"]["applied"] == 1, pushed.text
        pulled = api.get("/v1/sync/pull", params={"cursor": "0", "limit": 5000}, headers=auth)
        seen = set()
        body = pulled.json()
        while True:
            seen |= {c["id"] for c in body["changes"]}
            if not body["has_more"]:
                break
            body = api.get(
                "/v1/sync/pull", params={"cursor": body["cursor"], "limit": 5000}, headers=auth
            ).json()
        assert rid in seen
        device_id = enrolled.json()["device_id"]
        page.goto(f"{site.base_url}/admin/devices")
        # revoking is a confirmation step with a reason (issue 15, item 13)
        page.click(f'tr[data-device="{device_id}"] a.danger')
        page.fill("#reason", "prueba e2e")
        page.click("#confirm-revoke")
        page.wait_for_url(f"**/admin/devices?revoked={device_id}")
        assert api.get("/v1/sync/pull", headers=auth).status_code == 401
