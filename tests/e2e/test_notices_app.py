"""Notices in the officer's app (issue 14 item 4), in Chromium against a real server: a notice
posted by the chief reaches an unlocked, online phone through the wake-up long-poll (no manual
sync), shows with an unread badge, is acknowledged with one tap (the acknowledgement is pushed
and the chief sees it), and leaves the phone at its expiry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.identity import create_device_token
from sync.store.sql import SQLStore
from tests.e2e.app_support import (
    APP_CHROMIUM_ARGS,
    CHIEF,
    CHROMIUM,
    OFFICERS,
    PASSWORD,
    AppServer,
    phone_context,
    run_async,
    start_app_server,
)
from tests.e2e.pages_support import assert_accessible, open_tab
from tests.e2e.test_app import axe_violations, enroll, make_code, tid, wait_synced

pytestmark = pytest.mark.slow
T = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    app_server = start_app_server(tmp_path_factory.mktemp("notices_app"))
    try:
        yield app_server
    finally:
        run_async(app_server.process.stop())


@pytest.fixture(scope="module")
def browser(server: AppServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=APP_CHROMIUM_ARGS)
        yield chromium
        chromium.close()


async def _chief_token(url: str) -> str:
    store = SQLStore(url)
    await store.open()
    try:
        _, token = await create_device_token(store, CHIEF, "tablet del comisario", 0)
        return token
    finally:
        await store.close()


def post_notice(server: AppServer, token: str, text: str, seconds: float) -> str:
    expires = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    body = {"text": text, "category": "robo", "expires_at": expires}
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        got = http.post("/v1/notices", json=body, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 201, got.text
    return str(got.json()["notice"]["notice_id"])


def acks(server: AppServer, token: str, notice_id: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        got = http.get(f"/v1/notices/{notice_id}", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    found: list[dict[str, Any]] = got.json()["acks"]
    return found


def test_notice_wakes_the_phone_is_acknowledged_and_expires(
    browser: Any, server: AppServer
) -> None:
    chief = run_async(_chief_token(server.url))
    code = make_code(browser, server, OFFICERS[0])
    context, guard = phone_context(browser, server.base_url)
    try:
        page = context.new_page()
        enroll(page, server, code)
        wait_synced(page)
        assert page.get_attribute(tid("notices-badge"), "hidden") is not None
        # No sync is asked for: the long-poll wakes the app, which pulls.
        lasting = post_notice(server, chief, "Moto roja sin placa, dos ocupantes", 3600)
        item = f'[data-testid="notice-item"][data-notice="{lasting}"]'
        page.wait_for_selector(item, timeout=T)
        assert page.get_attribute(item, "data-read") == "0"
        assert "Moto roja sin placa" in page.inner_text(item)
        assert page.inner_text(tid("notices-badge")) == "1"
        assert axe_violations(page) == []  # the card and the badge, unread
        page.click(f"{item} {tid('notice-ack')}")
        page.wait_for_selector(f'{item}[data-read="1"]', timeout=T)
        wait_synced(page)  # the acknowledgement was pushed
        got = acks(server, chief, lasting)
        assert [a["officer_id"] for a in got] == [OFFICERS[0]]
        page.wait_for_selector(tid("notices-badge") + "[hidden]", state="attached", timeout=T)
        # A short notice: shown, then gone from the screen and from the phone's storage.
        brief = post_notice(server, chief, "Aviso breve", 8)
        short = f'[data-testid="notice-item"][data-notice="{brief}"]'
        page.wait_for_selector(short, timeout=T)
        page.wait_for_selector(short, state="detached", timeout=T)
        kept = page.evaluate(
            """(id) => [...window.rondaApp.vault.data.records.values()]
                .filter((d) => d.collection === 'notices' && d.notice_id === id && d.body)
                .length""",
            brief,
        )
        assert kept == 0
        assert page.locator(item).count() == 1  # the other one stays
    finally:
        context.close()
    guard.check()


async def _officer_token(url: str, officer: str) -> str:
    store = SQLStore(url)
    await store.open()
    try:
        _, token = await create_device_token(store, officer, "teléfono de prueba", 0)
        return token
    finally:
        await store.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_chief_posts_on_the_page_and_sees_who_acknowledged(
    browser: Any, server: AppServer, viewport: str
) -> None:
    tab = open_tab(browser, server.base_url, viewport)
    page = tab.page
    try:
        page.goto(f"{server.base_url}/login?next=/notices")
        page.fill("input[name=officer_id]", CHIEF)
        page.fill("input[name=password]", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url("**/notices")
        assert page.locator("h1").inner_text() == "Avisos a los teléfonos"
        assert_accessible(page, f"notices {viewport}, empty form")
        text = f"Buscado: camioneta gris ({viewport})"
        page.fill("#notice-text", text)
        page.fill("#notice-category", "vehiculo_buscado")
        page.select_option("#notice-hours", "4")
        page.click("#notice-post")
        page.wait_for_url("**/notices?msg=posted")
        row = page.locator("#notice-list li", has_text=text)
        notice_id = row.get_attribute("data-notice")
        assert notice_id and row.locator(".ack-count").inner_text() == "0"
        assert "Aún no enterados" in row.inner_text()
        # An officer of the station acknowledges from a phone (a push): the chief sees it.
        officer = OFFICERS[1]
        token = run_async(_officer_token(server.url, officer))
        change = {
            "collection": "notice_acks",
            "id": notice_id,
            "op": "ack",
            "hlc": f"{int(time.time() * 1000):013d}-00000",
            "at": datetime.now(UTC).isoformat(),
        }
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            pushed = http.post(
                "/v1/sync/push",
                json={"batch_id": f"ack-{viewport}", "changes": [change]},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert pushed.json()["results"][0]["status"] == "applied", pushed.text
        page.reload()
        row = page.locator(f'#notice-list li[data-notice="{notice_id}"]')
        assert row.locator(".ack-count").inner_text() == "1"
        assert row.locator(".ack-name").count() == 1
        assert_accessible(page, f"notices {viewport}, one acknowledged")
        row.get_by_role("button", name="Retirar aviso").click()
        page.wait_for_url("**/notices?msg=withdrawn")
        assert page.locator(f'#notice-list li[data-notice="{notice_id}"]').count() == 0
    finally:
        tab.close()  # no console errors, failed requests or requests off the machine
