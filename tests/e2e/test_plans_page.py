"""Issue 14, acceptance 3: a plan made on the chief's page reaches a phone, and that phone's
positions then show up as dosage against the plan.

Real Chromium (desktop and phone, axe-core) on the chief's /plans page, a real uvicorn
process on one station of the demo city (SQLite and, when RONDA_TEST_PG_URL is set,
PostgreSQL), and the reference client (sync.client) as the officer's phone. The expected
minutes are worked out by hand below from the positions the phone sends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h3
import httpx
import pytest

from sync.client import SyncClient
from sync.protocol_plans import LIMA
from tests.e2e.app_support import (
    APP_CHROMIUM_ARGS,
    AppServer,
    phone_context,
    run_async,
    start_app_server,
)
from tests.e2e.city import CHIEF, PASSWORD
from tests.e2e.conftest import CHROMIUM
from tests.e2e.pages_support import assert_accessible, open_tab
from tests.support import PG_URL

pytestmark = pytest.mark.slow
OFFICER = "of-0681"  # an officer of the chief's station (st-150135-2)
APP_OFFICER = "of-0682"  # another, with the officer's app
SECTOR = "st-150135-2-s1"
DAYS = {"desktop": "2026-12-01", "phone": "2026-12-02"}
# Lima times of the phone's positions in the planned cell, and what they are worth: 15:00 ->
# 15:02 is 120 s, 15:02 -> 15:03:30 is 90 s, 15:03:30 -> 15:20 is a 16.5-minute gap (dropped:
# over 300 s), 15:20 -> 15:21 is 60 s. 270 s = 4.5 minutes, all within the 14-22 shift.
TIMES = ("15:00:00", "15:02:00", "15:03:30", "15:20:00", "15:21:00")
EXPECTED_MINUTES = 4.5


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[AppServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("RONDA_TEST_PG_URL is not set")
        name = PG_URL.rpartition("/")[2] + "_plans"
        made = start_app_server(tmp_path_factory.mktemp("plans_pg"), postgres_db=name)
    else:
        made = start_app_server(tmp_path_factory.mktemp("plans"))
    try:
        yield made
    finally:
        run_async(made.process.stop())


@pytest.fixture(scope="module")
def browser(server: AppServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=APP_CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _sign_in(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/login?next=/plans")
    page.fill("input[name=officer_id]", CHIEF)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/plans")


def _make_plan(page: Any, day: str) -> tuple[str, str, str]:
    """Check the hottest cell, give it to the first sector, 14-22, 10 minutes; publish."""
    first = page.locator("#hot-cells tbody tr").first
    cell = first.get_attribute("data-cell")
    first.locator("input[name=cell]").check()
    sector = page.locator("#sector option").first.get_attribute("value")
    page.select_option("#sector", sector)
    page.select_option("#shift", "14-22")
    page.fill("#minutes", "10")
    page.fill("#plan-date", day)
    page.click("#add-assignment")
    page.wait_for_selector("#staged li[data-shift='14-22']")
    assert page.locator("#publish").is_enabled()
    return cell, sector, page.url


async def _phone(base_url: str, admin_token: str, folder: Path, day: str, cell: str) -> Any:
    """Enroll the officer's phone, pull, walk the cell, push; the plans it holds."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        issued = await http.post(
            "/v1/admin/enrollments",
            json={"officer_id": OFFICER},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
    assert issued.status_code == 201, issued.text
    phone = await SyncClient.enroll(base_url, issued.json()["code"], "plans", folder / "p.db")
    async with phone:
        await phone.sync()
        plans = phone.plans()
        lat, lon = h3.cell_to_latlng(cell)
        for n, time in enumerate(TIMES):
            body = {"kind": "checkpoint", "at": f"{day}T{time}-05:00"}
            # A few metres apart: well inside a cell, and slow (at most 10 m in 60 s).
            body["lon_e6"] = round(lon * 1e6)
            body["lat_e6"] = round((lat + (n % 3) * 5 / 111_320) * 1e6)
            phone.append_log(body)
        result = await phone.sync()
        assert result.pending == 0 and result.rejected == 0
    return plans


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_plan_from_the_page_reaches_a_phone_and_its_positions_become_dosage(
    browser: Any, server: AppServer, viewport: str, tmp_path: Path
) -> None:
    day, base = DAYS[viewport], server.base_url
    tab = open_tab(browser, base, viewport)
    page = tab.page
    _sign_in(page, base)
    assert page.locator("h1").inner_text() == "Planes de patrullaje"
    assert page.locator("#hot-cells tbody tr").count() > 0  # the planted hotspot is hot
    assert_accessible(page, f"plans {viewport}")
    cell, sector, _ = _make_plan(page, day)
    assert_accessible(page, f"plans {viewport}, an assignment staged")
    page.click("#publish")
    page.wait_for_url("**published=*")
    plan_id = parse_qs(urlsplit(page.url).query)["published"][0]
    article = page.locator(f"article.plan[data-id='{plan_id}']")
    assert article.locator("tr.assignment").get_attribute("data-minutes") == "0.0"
    assert page.locator("#plans-status").inner_text() == "Plan publicado."
    assert_accessible(page, f"plans {viewport}, published")

    plans = run_async(_phone(base, server.admin_token, tmp_path, day, cell))
    mine = [p for p in plans if p["id"] == plan_id]
    assert len(mine) == 1, [p["id"] for p in plans]
    (assignment,) = mine[0]["assignments"]
    assert (assignment["sector"], assignment["shift"], assignment["minutes"]) == (
        sector,
        "14-22",
        10,
    )
    assert [c["cell"] for c in assignment["cells"]] == [cell]

    page.goto(f"{base}/plans?date={day}")
    row = page.locator(f"article.plan[data-id='{plan_id}'] tr.officer[data-officer='{OFFICER}']")
    assert float(row.get_attribute("data-minutes")) == EXPECTED_MINUTES
    answer = page.evaluate("async (u) => (await fetch(u)).json()", f"/v1/plans/{plan_id}/dosage")
    (done,) = answer["assignments"]
    assert done["officers"] == [
        {
            "officer_id": OFFICER,
            "minutes": EXPECTED_MINUTES,
            "cells": [{"cell": cell, "minutes": EXPECTED_MINUTES}],
        }
    ]
    assert done["progress"] == EXPECTED_MINUTES / 10
    assert_accessible(page, f"plans {viewport}, dosage")
    width = {"desktop": 1366, "phone": 390}[viewport]
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    tab.close()


def _token(base_url: str, admin_token: str, officer: str) -> str:
    """A device token of ``officer`` (an enrollment code from the admin API, redeemed)."""
    with httpx.Client(base_url=base_url) as http:
        issued = http.post(
            "/v1/admin/enrollments",
            json={"officer_id": officer},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        code = issued.json()["code"]
        made = http.post("/v1/enroll", json={"code": code, "device_name": f"plans-{officer}"})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


def test_the_officers_app_shows_the_plan_for_this_shift(browser: Any, server: AppServer) -> None:
    """Today's plan holds all three shifts and yesterday's the night shift, so exactly one
    assignment is current whenever the test runs (also across a shift change)."""
    from tests.e2e.test_app import enroll, tid

    base = server.base_url
    chief = {"Authorization": f"Bearer {_token(base, server.admin_token, CHIEF)}"}
    today = datetime.now(LIMA).date()
    with httpx.Client(base_url=base, headers=chief) as http:
        cell = http.get("/v1/plans/hot-cells").json()["cells"][0]["cell"]
        made = []
        for day, shifts in (
            (today, ("06-14", "14-22", "22-06")),
            (today - timedelta(1), ("22-06",)),
        ):
            assignments = [
                {"sector": SECTOR, "shift": s, "minutes": 15, "cells": [cell]} for s in shifts
            ]
            answer = http.post(
                "/v1/plans", json={"date": day.isoformat(), "assignments": assignments}
            )
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["id"])
    with httpx.Client(base_url=base) as http:
        code = http.post(
            "/v1/admin/enrollments",
            json={"officer_id": APP_OFFICER},
            headers={"Authorization": f"Bearer {server.admin_token}"},
        ).json()["code"]
    context, guard = phone_context(browser, base)
    try:
        page = context.new_page()
        enroll(page, server, code)
        # The shift screen is drawn again once the sync (and the briefing after it) is done.
        page.wait_for_selector(f"{tid('plan-card')}[data-count='1']", timeout=60_000)
        card = page.locator(tid("plan-card"))
        item = page.locator(tid("plan-item"))
        assert item.get_attribute("data-plan") in made
        assert item.get_attribute("data-sector") == SECTOR
        assert page.locator(tid("plan-cell")).get_attribute("data-cell") == cell
        assert "Su plan para este turno" in card.inner_text()
        assert_accessible(page, "app shift screen with a plan")
    finally:
        context.close()
    guard.check()
