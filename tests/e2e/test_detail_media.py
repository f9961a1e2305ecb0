"""Photos and audio in the chief's map incident detail (issue 13 item 6), in real Chromium
against a real server with real uploads, desktop and phone: the chief sees each photo's
thumbnail linking to the full photo, plays the audio (its duration read by the browser from
the WAV this test wrote), and reads plainly that one photo has not arrived yet; an analyst
(no personal data) gets the photo as a metadata-free copy, nothing of the pii photo and no
audio; every file view is audited; axe-core finds 0 critical/serious problems."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.web.sessions import set_password
from sync.identity import create_device_token
from sync.store.records import AuditQuery, Officer, Station
from sync.store.sql import SQLStore
from tests.attachments.support import jpeg_with_gps, push_incident, ref, sha, upload
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pages_support import Tab, assert_accessible, open_tab
from tests.server_process import ROOMY_ADMISSION, ServerProcess

pytestmark = pytest.mark.slow
STATION = "st-m"
CHIEF = "chief-m"
OFFICER = "off-m"  # an officer of that station: the phone that recorded the incident
ANALYST = "analyst-m"  # all stations, no personal data
PASSWORD = "prueba-e2e-media-2025"
RECORD = "inc-media-1"
AUDIO_SECONDS = 1.5


def wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x10" * int(seconds * rate))
    return out.getvalue()


@dataclass
class MediaSite:
    base_url: str
    db_url: str
    photo: bytes
    pii_photo: bytes
    audio: bytes
    missing: bytes


async def _seed(folder: Path) -> tuple[str, str]:
    """A station, its chief, one of its officers (with a device) and an analyst: the map page
    needs no layers to open an incident's detail, so the demo city is not loaded."""
    url = f"sqlite+aiosqlite:///{folder / 'ronda.db'}"
    store = SQLStore(url)
    await store.open()
    try:
        await store.put_station(Station(STATION, "Comisaría de prueba"))
        await store.put_officer(Officer(CHIEF, "Jefa Prueba", "chief", STATION))
        await store.put_officer(Officer(OFFICER, "Agente Prueba", "officer", STATION))
        await store.put_officer(Officer(ANALYST, "Analista Prueba", "analyst", None))
        for officer in (CHIEF, ANALYST):
            await set_password(store, officer, PASSWORD)
        _, token = await create_device_token(store, OFFICER, "e2e-media", 0)
    finally:
        await store.close()
    return url, token


async def _record(base_url: str, token: str, site: MediaSite) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    refs = [
        ref(site.photo),
        ref(site.pii_photo, pii=True),
        ref(site.audio, "audio/wav"),
        ref(site.missing),  # named by the record, never uploaded
    ]
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await push_incident(client, auth, RECORD, refs)
        for data in (site.photo, site.pii_photo, site.audio):
            done = await upload(client, auth, data, RECORD)
            assert done.status_code == 204, done.text


@pytest.fixture(scope="module")
def media_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaSite]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    folder = tmp_path_factory.mktemp("e2e-media")
    url, token = asyncio.run(_seed(folder))
    env = {
        **ROOMY_ADMISSION,
        "RONDA_DATABASE__SQLITE_SYNCHRONOUS": "NORMAL",
        "RONDA_ATTACHMENTS__DIR": str(folder / "attachments"),
    }
    server = ServerProcess(url, folder / "logs", env=env)
    asyncio.run(server.start(timeout_s=60))
    try:
        site = MediaSite(
            server.base_url,
            url,
            jpeg_with_gps((640, 480), noise=1),
            jpeg_with_gps((400, 300), noise=2),
            wav(AUDIO_SECONDS),
            jpeg_with_gps((200, 100), noise=3),
        )
        asyncio.run(_record(server.base_url, token, site))
        yield site
    finally:
        asyncio.run(server.stop())


@pytest.fixture(scope="module")
def chromium(media_site: MediaSite) -> Iterator[Any]:
    """A browser of this module's own (conftest's ``browser`` would seed its own city too)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def fetch_bytes(page: Any, url: str) -> bytes:
    """``url`` fetched by the page (its session), as bytes."""
    script = "async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()))"
    return bytes(page.evaluate(script, url))


def _close(tab: Tab) -> None:
    """Close the tab; then no problem may be left but the browser's own cancellations:
    Chromium's media loader cancels the audio request once it has the metadata it wanted,
    and MapLibre cancels tile requests it no longer needs (the tab closing mid-load)."""
    tab.context.close()
    tab.failed_requests[:] = [
        line
        for line in tab.failed_requests
        if not (
            line.startswith("net::ERR_ABORTED GET")
            and ("/tiles/" in line or "/v1/attachments/" in line)
        )
    ]
    assert not tab.problems(), tab.problems()


def _sign_in(page: Any, base_url: str, officer: str) -> None:
    page.goto(f"{base_url}/login?next=/map")
    page.fill("input[name=officer_id]", officer)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/map")
    # the map's first load settled before the test navigates away (that would abort it)
    page.locator("#mapshell[data-ready]").wait_for(state="attached", timeout=60_000)


def _open_detail(page: Any, base_url: str) -> Any:
    page.goto(f"{base_url}/map?incident={RECORD}")
    section = page.locator("#detail #detail-media")
    section.wait_for(state="visible", timeout=60_000)
    # and the map's own first load settled (a tab closed mid-load aborts its requests)
    page.locator("#mapshell[data-ready]").wait_for(state="attached", timeout=60_000)
    return section


def _item(section: Any, data: bytes) -> Any:
    return section.locator(f'li[data-sha256="{sha(data)}"]')


def _audit_variants(db_url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        store = SQLStore(db_url)
        await store.open()
        try:
            events = await store.audit_search(AuditQuery(actions=("view_attachment",), limit=500))
        finally:
            await store.close()
        return [(e.officer_id, str(e.details.get("variant"))) for _, e in events]

    # Playwright's sync API keeps an event loop running in this thread: read in another.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_chief_sees_photos_and_plays_audio(
    chromium: Any, media_site: MediaSite, viewport: str
) -> None:
    site = media_site
    tab = open_tab(chromium, site.base_url, viewport)
    page = tab.page
    _sign_in(page, site.base_url, CHIEF)
    section = _open_detail(page, site.base_url)
    assert section.locator("h3").inner_text() == "Fotos, audio y documentos"
    # Both photos (the pii one too: a chief may see personal data) as loaded thumbnails
    # inside links to the full photo.
    for data in (site.photo, site.pii_photo):
        item = _item(section, data)
        assert item.get_attribute("data-state") == "ok"
        thumb = item.locator("a.media-full img")
        thumb.wait_for(state="visible")
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
        )
        assert thumb.get_attribute("alt", timeout=5000).startswith("Foto ")
        href = item.locator("a.media-full").get_attribute("href")
        assert href == f"/v1/attachments/incidents/{RECORD}/{sha(data)}"
        # the full photo is the original the phone sent
        body = page.evaluate(
            "async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()))", href
        )
        assert bytes(body) == data
    # Audio: an <audio> player whose file the browser loads and decodes.
    player = _item(section, site.audio).locator("audio")
    assert player.get_attribute("preload") == "none"
    duration = page.evaluate(
        """(a) => new Promise((resolve, reject) => {
            a.addEventListener('loadedmetadata', () => resolve(a.duration), { once: true });
            a.addEventListener('error', () => reject(new Error('audio error')), { once: true });
            a.preload = 'metadata'; a.load();
        })""",
        player.element_handle(),
    )
    assert abs(duration - AUDIO_SECONDS) < 0.01
    missing = _item(section, site.missing)
    assert missing.get_attribute("data-state") == "not_received"
    assert "Adjunto aún no recibido" in missing.inner_text()
    assert missing.locator("img, a").count() == 0
    if viewport == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    else:  # the export with attachments is offered beside the others, with the map's filters
        page.wait_for_function("document.getElementById('export-zip').href.includes('?')")
        href = page.get_attribute("#export-zip", "href")
        assert href.startswith("/web/export.zip?") and "since=" in href
        assert fetch_bytes(page, href)[:4] == b"PK\x03\x04"
    assert_accessible(page, f"{viewport}: incident detail with media")
    _close(tab)
    variants = [v for actor, v in _audit_variants(site.db_url) if actor == CHIEF]
    assert "thumbnail" in variants and "original" in variants


def test_an_analyst_gets_copies_and_nothing_of_personal_data(
    chromium: Any, media_site: MediaSite
) -> None:
    site = media_site
    tab = open_tab(chromium, site.base_url, "desktop")
    page = tab.page
    _sign_in(page, site.base_url, ANALYST)
    section = _open_detail(page, site.base_url)
    photo = _item(section, site.photo)
    assert photo.get_attribute("data-state") == "ok"
    href = photo.locator("a.media-full").get_attribute("href")
    body = fetch_bytes(page, href)
    assert body[:3] == b"\xff\xd8\xff" and body != site.photo  # a re-encoded copy
    assert b"Exif" not in body and b"SN-4471-XK" not in body
    pii = _item(section, site.pii_photo)
    assert pii.get_attribute("data-state") == "pii"
    assert "datos personales" in pii.inner_text() and pii.locator("img, a").count() == 0
    audio = _item(section, site.audio)
    assert audio.get_attribute("data-state") == "restricted_media"
    assert audio.locator("audio").count() == 0
    assert sha(site.pii_photo) not in page.content().replace(
        f'data-sha256="{sha(site.pii_photo)}"', ""
    )
    assert _item(section, site.missing).get_attribute("data-state") == "not_received"
    assert_accessible(page, "analyst: incident detail with media")
    _close(tab)
    variants = [v for actor, v in _audit_variants(site.db_url) if actor == ANALYST]
    assert "stripped" in variants and "original" not in variants
