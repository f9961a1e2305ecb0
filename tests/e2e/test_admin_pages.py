"""The administrator's pages in real Chromium, on a desktop and a phone (issue 15, items 2,
13, 14 and 15): sign in through /login and land on the admin pages; search, page and revoke
devices (a confirmation step with a reason); create an enrollment code and reload its page;
filter and page the audit log, in Spanish and English. Every page state passes axe-core
(0 critical, 0 serious); no console error, no failed request, nothing asked of another host.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.identity import create_device_token
from sync.store.records import AuditEvent
from sync.store.sql import SQLStore
from tests.e2e.city import ADMIN, CHIEF, PASSWORD, seed_part_of_city
from tests.e2e.conftest import CHROMIUM, Site
from tests.e2e.pages_support import Tab, assert_accessible, open_tab
from tests.server_process import ROOMY_ADMISSION, ServerProcess

pytestmark = pytest.mark.slow
VIEWPORTS = ["desktop", "phone"]
# 2025-03-01 00:00 in Lima (UTC-5) is 05:00 UTC.
LIMA_MARCH_1_MS = 1_740_805_200_000
# Per viewport: whose device is revoked, who gets an enrollment code (the site is shared).
REVOKED = {"desktop": "of-0201", "phone": "of-0202"}
ENROLLED = {"desktop": "of-0301", "phone": "of-0302"}


async def _seed_admin_data(url: str) -> None:
    """63 more devices (65 in all: two pages) and audit events around a Lima midnight."""
    store = SQLStore(url, sqlite_synchronous="NORMAL")
    await store.open()
    try:
        for n in range(100, 160):
            await create_device_token(store, f"of-{n:04d}", f"Moto {n}", 1_700_000_000_000 + n)
        for officer in REVOKED.values():
            await create_device_token(store, officer, f"Samsung {officer}", 1_700_000_500_000)
        await create_device_token(store, "of-0200", "Samsung 0200", 1_700_000_600_000)
        add = store.add_audit
        await add(
            AuditEvent(LIMA_MARCH_1_MS - 60_000, CHIEF, "view_pii", "rec-feb", {"via": "map"})
        )
        await add(AuditEvent(LIMA_MARCH_1_MS, CHIEF, "export", "incidents.csv", {"count": 12}))
        for i in range(60):
            at = LIMA_MARCH_1_MS + 86_400_000 + i * 1000
            await add(AuditEvent(at, CHIEF, "view_pii", f"rec-{i:02d}", {"via": "map"}))
    finally:
        await store.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Part of the demo city, plus devices and audit events for the admin pages."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    folder = tmp_path_factory.mktemp("e2e-admin")
    url = f"sqlite+aiosqlite:///{folder / 'ronda.db'}"
    counts = asyncio.run(seed_part_of_city(url))
    asyncio.run(_seed_admin_data(url))
    env = {**ROOMY_ADMISSION, "RONDA_DATABASE__SQLITE_SYNCHRONOUS": "NORMAL"}
    server = ServerProcess(url, folder, env=env)
    asyncio.run(server.start(timeout_s=120))
    try:
        yield Site(server.base_url, counts)
    finally:
        asyncio.run(server.stop())


def sign_in_at_login(page: Any, site: Site, officer: str) -> None:
    """Through /login itself, as a person would: no ``next`` in the address."""
    page.goto(f"{site.base_url}/login")
    page.fill("input[name=officer_id]", officer)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_load_state()


def fits(page: Any, selector: str) -> None:
    """The element's content is not cut: no overflow inside it, nothing past the viewport."""
    box = page.evaluate(
        """s => { const e = document.querySelector(s); const r = e.getBoundingClientRect();
                  return {sw: e.scrollWidth, cw: e.clientWidth, right: r.right, left: r.left,
                          vw: document.documentElement.clientWidth}; }""",
        selector,
    )
    assert box["sw"] <= box["cw"] and box["left"] >= 0 and box["right"] <= box["vw"], box
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= box["vw"], f"the page scrolls sideways: {wide} > {box['vw']}"


def rows(page: Any) -> list[str]:
    devices: list[str] = page.eval_on_selector_all(
        "#devices tbody tr", "rs => rs.map(r => r.dataset.device)"
    )
    return devices


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_sign_in_lands_each_role_on_its_home(browser: Any, site: Site, viewport: str) -> None:
    """Item 2: the administrator lands on the admin pages, the chief on the map."""
    tab = open_tab(browser, site.base_url, viewport)
    page = tab.page
    sign_in_at_login(page, site, ADMIN)
    assert page.url.endswith("/admin/devices")
    assert page.inner_text("h1") == "Dispositivos"
    assert "Su rol no puede ver" not in page.content()
    assert_accessible(page, f"{viewport}: devices after sign-in")
    tab.close()
    tab = open_tab(browser, site.base_url, viewport)
    sign_in_at_login(tab.page, site, CHIEF)
    assert tab.page.url.endswith("/map")
    tab.page.wait_for_function(
        "() => Number(document.getElementById('mapshell').dataset.ready) > 0", timeout=60_000
    )
    tab.close()


def _admin_tab(browser: Any, site: Site, viewport: str) -> Tab:
    tab = open_tab(browser, site.base_url, viewport)
    sign_in_at_login(tab.page, site, ADMIN)
    assert tab.page.url.endswith("/admin/devices")
    return tab


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_devices_search_pages_and_revoke_with_a_reason(
    browser: Any, site: Site, viewport: str
) -> None:
    """Item 13."""
    tab = _admin_tab(browser, site, viewport)
    page = tab.page
    # paging: 50 a page
    assert page.inner_text("#page-of").startswith("Página 1 de ")
    first = rows(page)
    assert len(first) == 50
    page.click("#page-next")
    page.wait_for_url("**page=2")
    assert page.inner_text("#page-of").startswith("Página 2 de ")
    assert set(rows(page)).isdisjoint(first) and rows(page)
    fits(page, "main")  # 50 rows, as cards on a phone: nothing cut or sideways
    assert_accessible(page, f"{viewport}: devices page 2")
    page.click("#page-prev")
    page.wait_for_url("**page=1")
    assert rows(page) == first
    # search by officer name
    page.fill("#device-q", "Agente Demo 0200")
    page.click("#device-search-go")
    page.wait_for_url("**q=Agente*")
    assert page.inner_text("#list-heading") == "1 dispositivo"
    assert "Samsung 0200" in page.inner_text("#devices")
    assert_accessible(page, f"{viewport}: devices searched")
    # revoke: the row's link opens a confirmation step that wants a reason
    officer = REVOKED[viewport]
    page.fill("#device-q", officer)
    page.click("#device-search-go")
    page.wait_for_url(f"**q={officer}*")
    (device,) = rows(page)
    page.click(f'tr[data-device="{device}"] a.danger')
    page.wait_for_url(f"**/admin/devices/{device}/revoke*")
    assert page.inner_text("#revoke-device") == device
    assert_accessible(page, f"{viewport}: revoke confirmation")
    page.click("#cancel-revoke")  # cancelling changes nothing and goes back to the search
    page.wait_for_url(f"**/admin/devices?q={officer}")
    assert "Activo" in page.inner_text(f'tr[data-device="{device}"]')
    page.click(f'tr[data-device="{device}"] a.danger')
    page.wait_for_url(f"**/admin/devices/{device}/revoke*")
    page.click("#confirm-revoke")  # no reason: the form is not sent
    assert "/revoke" in page.url
    assert page.evaluate("() => document.getElementById('reason').validity.valueMissing")
    page.fill("#reason", "Teléfono extraviado en patrullaje")
    page.click("#confirm-revoke")
    page.wait_for_url(f"**/admin/devices?q={officer}&revoked={device}")
    assert page.inner_text("#revoked-notice") == f"Dispositivo {device} revocado."
    assert "Revocado" in page.inner_text(f'tr[data-device="{device}"]')
    assert page.locator(f'tr[data-device="{device}"] a.danger').count() == 0
    assert_accessible(page, f"{viewport}: device revoked")
    # the reason is in the audit log
    page.goto(f"{site.base_url}/admin/audit?action=revoke&officer={ADMIN}")
    row = page.locator("#audit tbody tr", has_text=device)
    assert "Motivo: Teléfono extraviado en patrullaje" in row.inner_text()
    tab.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_enrollment_code_page_reloads_without_a_new_code(
    browser: Any, site: Site, viewport: str
) -> None:
    """Item 14: POST-redirect-GET, the code in no address, fits a phone, the typo fixed."""
    tab = _admin_tab(browser, site, viewport)
    page = tab.page
    officer = ENROLLED[viewport]
    page.select_option("#enroll-officer", officer)
    page.click("#create-code")
    page.wait_for_url("**/admin/devices/enrolled/*")
    code = page.inner_text("#enroll-code").strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert code not in page.url and code.replace("-", "") not in page.url
    assert "digítelo" in page.inner_text("#code-once")
    assert "dígítelo" not in page.content()
    fits(page, "#enroll-code")
    fits(page, ".issued .qr")
    assert_accessible(page, f"{viewport}: enrollment code")
    where = page.url
    page.reload()  # a GET: no "resubmit the form?", no second code
    assert page.url == where and page.inner_text("#enroll-code").strip() == code
    page.click("#back-devices")
    page.wait_for_url("**/admin/devices")
    page.goto(f"{site.base_url}/admin/audit?action=enroll")
    targets = page.eval_on_selector_all(
        "#audit tbody tr code.target", "cs => cs.map(c => c.textContent)"
    )
    assert targets.count(officer) == 1
    tab.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_audit_log_filters_pages_and_speaks_both_languages(
    browser: Any, site: Site, viewport: str
) -> None:
    """Item 15."""
    tab = _admin_tab(browser, site, viewport)
    page = tab.page
    page.goto(f"{site.base_url}/admin/audit")
    assert_accessible(page, f"{viewport}: audit log")
    # filters: officer by name, action by its Spanish name, dates in Lima time
    page.fill("#audit-officer", "Comisario Demo 0680")
    page.select_option("#audit-action", label="Exportó incidentes")
    page.fill("#audit-since", "2025-03-01")
    page.fill("#audit-until", "2025-03-01")
    page.click("#audit-filter")
    page.wait_for_url("**/admin/audit?*since=2025-03-01*")
    texts = page.locator("#audit tbody tr").all_inner_texts()
    assert len(texts) == 1 and "Exportó incidentes" in texts[0] and "2025-03-01 00:00" in texts[0]
    fits(page, "main")
    assert_accessible(page, f"{viewport}: audit filtered")
    page.select_option("#audit-action", label="Vio datos personales")
    page.fill("#audit-since", "2025-02-28")
    page.fill("#audit-until", "2025-02-28")
    page.click("#audit-filter")
    page.wait_for_url("**since=2025-02-28*")
    texts = page.locator("#audit tbody tr").all_inner_texts()
    assert len(texts) == 1 and "rec-feb" in texts[0] and "2025-02-28 23:59" in texts[0]
    # a start after the end is said, not silently emptied
    page.fill("#audit-since", "2025-03-02")
    page.click("#audit-filter")
    page.wait_for_url("**since=2025-03-02*")
    assert page.locator("#bad-dates").is_visible()
    assert_accessible(page, f"{viewport}: audit bad dates")
    # pages: 61 views by the chief, 50 a page
    page.click("#audit-clear")
    page.wait_for_url("**/admin/audit")
    page.fill("#audit-officer", CHIEF)
    page.select_option("#audit-action", "view_pii")
    page.click("#audit-filter")
    page.wait_for_url("**action=view_pii*")
    first = page.eval_on_selector_all("#audit tbody tr", "rs => rs.map(r => r.dataset.event)")
    assert len(first) == 50
    page.click("#audit-older")
    page.wait_for_url("**before=*")
    second = page.eval_on_selector_all("#audit tbody tr", "rs => rs.map(r => r.dataset.event)")
    assert len(second) == 11 and set(second).isdisjoint(first)
    assert_accessible(page, f"{viewport}: audit older page")
    page.click("#audit-newer")
    page.wait_for_url("**after=*")
    assert (
        page.eval_on_selector_all("#audit tbody tr", "rs => rs.map(r => r.dataset.event)") == first
    )
    # English: the same page, the action names in English
    page.click("#lang-switch")
    page.wait_for_url("**/admin/audit?*")
    assert page.inner_text("h1") == "Audit log"
    assert "Viewed personal data" in page.inner_text("#audit")
    assert "Vio datos personales" not in page.content()
    assert_accessible(page, f"{viewport}: audit log in English")
    page.click("#lang-switch")
    page.wait_for_url("**/admin/audit?*")
    tab.close()
