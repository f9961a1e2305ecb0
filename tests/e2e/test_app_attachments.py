"""Evidence attachments in the officer's app (issue 13 item 5), in real headless Chromium shaped
like a phone, against a real uvicorn server on one station of the demo city: a real JPEG is
attached in the incident form (thumbnail, removable before saving), kept sealed in IndexedDB
while offline, uploaded with tus after its record's push and found on the server with the
right hash; an upload cut in the middle (the network drops during a PATCH) survives a reload
offline and resumes from the server's offset; the form with attachments passes axe-core.

Expected answers come from the test's own file (hashlib), never from the app's code."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.app_support import (
    ADMIN,
    APP_CHROMIUM_ARGS,
    CHROMIUM,
    OFFICERS,
    PASSWORD,
    PHONE,
    AppServer,
    Guard,
    phone_context,
    run_async,
    seed_app_city,
)
from tests.server_process import ROOMY_ADMISSION, ServerProcess, own_postgres_database
from tests.support import PG_URL

pytestmark = pytest.mark.slow
PIN = "864200"
T = 60_000
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
CHUNK = 256 * 1024  # what the app stores and sends per PATCH (js/attachments.js)


def _start(folder: Path, url: str) -> AppServer:
    token = run_async(seed_app_city(url, incidents=20))
    env = {**ROOMY_ADMISSION, "RONDA_ATTACHMENTS__DIR": str(folder / "attachments")}
    process = ServerProcess(url, folder, env=env)
    run_async(process.start(timeout_s=120))  # a loaded machine starts it slowly
    return AppServer(process, url, token)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    folder = tmp_path_factory.mktemp("attach")
    app_server = _start(folder, f"sqlite+aiosqlite:///{folder / 'ronda.db'}")
    try:
        yield app_server
    finally:
        run_async(app_server.process.stop())


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    if not PG_URL:
        pytest.skip("RONDA_TEST_PG_URL is not set")
    url = run_async(own_postgres_database(PG_URL.rpartition("/")[2] + "_appatt"))
    app_server = _start(tmp_path_factory.mktemp("attach_pg"), url)
    try:
        yield app_server
    finally:
        run_async(app_server.process.stop())


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-deps installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=APP_CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def make_jpeg(folder: Path, seed: int) -> Path:
    """A real JPEG (camera-sized noise, about 2 MB: several chunks)."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    path = folder / f"escena_{seed}.jpg"
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size > 4 * CHUNK
    return path


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_jpeg(tmp_path_factory.mktemp("photo"), 13)


@pytest.fixture(scope="module")
def other_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bytes the server does not hold yet (it skips a file it has: nothing to cut)."""
    return make_jpeg(tmp_path_factory.mktemp("photo2"), 14)


@pytest.fixture(scope="module")
def small_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("png") / "croquis.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path, "PNG")
    return path


def tid(name: str) -> str:
    return f'[data-testid="{name}"]'


class Failed:
    """Requests that failed in a context (the guard records console errors only)."""

    def __init__(self, context: Any) -> None:
        self.seen: list[str] = []
        context.on("requestfailed", lambda r: self.seen.append(f"{r.method} {r.url} {r.failure}"))


def enroll(
    browser: Any, server: AppServer, officer: str, worker: bool = True
) -> tuple[Any, Any, Guard, Failed]:
    """A phone enrolled for ``officer``. ``worker=False``: without the service worker, whose
    fetch handler hides the page's requests from Playwright's routing (needed to cut one)."""
    admin = browser.new_context(locale="es-PE")
    page = admin.new_page()
    page.goto(f"{server.base_url}/login?next=/admin/devices")
    page.fill("input[name=officer_id]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/admin/devices")
    page.select_option("#enroll-officer", officer)
    page.click("#create-code")
    code = page.inner_text("#enroll-code").strip()
    admin.close()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code), code
    if worker:
        context, guard = phone_context(browser, server.base_url)
    else:
        context = browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="es-PE",
            timezone_id="America/Lima",
            service_workers="block",
        )
        guard = Guard(urlsplit(server.base_url).netloc)
        guard.attach(context)
    failed = Failed(context)
    phone = context.new_page()
    phone.goto(f"{server.base_url}/app")
    phone.wait_for_selector("body[data-ready='1']", timeout=T)
    phone.fill(tid("enroll-code"), code)
    phone.fill(tid("enroll-pin"), PIN)
    phone.fill(tid("enroll-pin-repeat"), PIN)
    phone.click(tid("enroll-submit"))
    phone.wait_for_selector(tid("screen-shift"), timeout=T)
    if worker:
        phone.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=T)
    phone.wait_for_function(
        "() => !!window.rondaApp.vault.get('last_sync')?.ok && !window.rondaApp.syncer.running",
        timeout=T,
    )
    return context, phone, guard, failed


def unlock(page: Any) -> None:
    page.wait_for_selector(tid("screen-lock"), timeout=T)
    page.fill(tid("lock-pin"), PIN)
    page.click(tid("lock-submit"))
    page.wait_for_selector(tid("status-bar") + ":not([hidden])", timeout=T)


def attach(page: Any, selector: str, path: Path) -> str:
    """Choose a file in the form; wait until the form shows it; its sha256 (ours)."""
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    page.set_input_files(tid(selector), str(path))
    page.wait_for_selector(f'{tid("att-new")}[data-sha="{sha}"]', timeout=T)
    return sha


def new_incident_with_photo(page: Any, photo: Path, description: str) -> tuple[str, str]:
    """Fill a new incident, attach the photo, save; (record id, sha256)."""
    page.click(tid("nav-incidents"), timeout=T)
    # The list renders after the first sync's records are decrypted: slow on a loaded machine
    # (it missed Playwright's default 30 s once with two test workers busy).
    page.click(tid("incident-new"), timeout=T)
    page.wait_for_selector(tid("screen-incident"))
    page.fill(tid("inc-description"), description)
    sha = attach(page, "att-photo", photo)
    record_id = page.evaluate(
        """() => new Promise((resolve) => {
            const before = new Set(window.rondaApp.outbox.pending().map((r) => r.ord));
            document.querySelector('[data-testid="inc-save"]').click();
            const look = () => {
                const row = window.rondaApp.outbox.pending().find((r) => !before.has(r.ord));
                if (row) resolve(row.change.id); else setTimeout(look, 20);
            };
            look();
        })"""
    )
    page.wait_for_selector(tid("screen-incidents"), timeout=T)
    return str(record_id), sha


def token_of(page: Any) -> str:
    return str(page.evaluate("window.rondaApp.vault.get('token')"))


def server_copy(
    server: AppServer, token: str, record_id: str, sha: str
) -> tuple[dict[str, Any], bytes]:
    """The server's listing of the record's attachments and the file's bytes (the phone's
    officer may see the original: it is their own record)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        listing = client.get(f"/v1/attachments/incidents/{record_id}")
        assert listing.status_code == 200, listing.text
        got = client.get(f"/v1/attachments/incidents/{record_id}/{sha}")
        assert got.status_code == 200, got.text
    return listing.json(), got.content


def wait_sent(page: Any, sha: str) -> None:
    page.wait_for_function(
        "sha => window.rondaApp.attachments.items().some((i) => i.sha256 === sha"
        " && i.state === 'sent')",
        arg=sha,
        timeout=T,
    )


BLOBS = """async () => {
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open("ronda-app");
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const get = (store) => new Promise((ok, no) => {
    const s = db.transaction(store).objectStore(store);
    const k = s.getAllKeys(), v = s.getAll();
    v.onsuccess = () => ok(k.result.map((key, i) => [String(key), v.result[i]]));
    v.onerror = () => no(v.error);
  });
  const blobs = await get("blobs");
  const secure = await get("secure");
  db.close();
  const head = (u) => Array.from(u.slice(0, 16));
  return {
    blobs: blobs.map(([k, v]) => ({key: k, iv: v.iv.length, ct: v.ct.length, head: head(v.ct)})),
    queue: secure.filter(([k]) => k.startsWith("att:")).map(([k, v]) => ({
      key: k, sealed: v.iv instanceof Uint8Array && v.ct instanceof Uint8Array})),
  };
}"""


def check_sealed(page: Any, data: bytes, sha: str) -> None:
    """The photo is on the phone only sealed: one AES-GCM chunk per 256 KiB (16-byte tag),
    none of them starting as its plain text does; the queue item sealed too."""
    stored = page.evaluate(BLOBS)
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    assert sorted(b["key"] for b in stored["blobs"]) == sorted(
        f"{sha}:{i}" for i in range(len(chunks))
    )
    for blob in stored["blobs"]:
        plain = chunks[int(blob["key"].split(":")[1])]
        assert blob["iv"] == 12 and blob["ct"] == len(plain) + 16
        assert bytes(blob["head"]) != plain[:16]
    assert [q["sealed"] for q in stored["queue"]] == [True]


# --- the tests ------------------------------------------------------------------------------


def attach_offline_then_arrive(browser: Any, server: AppServer, photo: Path, png: Path) -> None:
    context, page, guard, failed = enroll(browser, server, OFFICERS[0])
    try:
        guard.go_offline(context)
        page.click(tid("nav-incidents"))
        page.click(tid("incident-new"))
        page.wait_for_selector(tid("screen-incident"))
        page.fill(tid("inc-description"), "Robo de celular, foto de la escena")
        sha = attach(page, "att-photo", photo)
        # the thumbnail is the photo itself, decoded
        page.wait_for_function(
            "sha => { const img = document.querySelector("
            '`[data-testid="att-new"][data-sha="${sha}"] img`);'
            " return img && img.complete && img.naturalWidth === 1600; }",
            arg=sha,
        )
        # a second file, removed again before saving
        other = attach(page, "att-document", png)
        page.click(f'{tid("att-new")}[data-sha="{other}"] {tid("att-remove")}')
        page.wait_for_selector(f'{tid("att-new")}[data-sha="{other}"]', state="detached")
        assert page.locator(tid("att-new")).count() == 1
        # keyboard: the photo control is reachable with Tab
        page.focus(tid("inc-description"))
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement?.dataset.testid") == "att-photo":
                break
        assert page.evaluate("document.activeElement?.dataset.testid") == "att-photo"

        record_id = page.evaluate(
            """() => new Promise((resolve) => {
                document.querySelector('[data-testid="inc-save"]').click();
                const look = () => {
                    const row = window.rondaApp.outbox.pending()[0];
                    if (row) resolve(row.change.id); else setTimeout(look, 20);
                };
                look();
            })"""
        )
        page.wait_for_selector(tid("screen-incidents"), timeout=T)
        data = photo.read_bytes()
        change = page.evaluate("window.rondaApp.outbox.pending()[0].change")
        # the reference in the record, as docs/attachments.md says
        [ref] = change["fields"]["attachments"]
        assert ref["sha256"] == sha and ref["size"] == len(data)
        assert ref["media_type"] == "image/jpeg" and ref["pii"] is True
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-05:00", ref["captured_at"]), ref
        check_sealed(page, data, sha)

        # offline, the incident shows its photo (from the sealed bytes) as pending
        page.click(f'{tid("incident-item")}[data-id="{record_id}"]')
        item = f'{tid("att-item")}[data-sha="{sha}"]'
        page.wait_for_selector(f"{item}[data-state='pending']")
        page.wait_for_function(
            "s => document.querySelector(s + ' img')?.naturalWidth === 1600", arg=item
        )
        assert page.inner_text(f"{item} {tid('att-state')}") == "pendiente"

        context.set_offline(False)  # the app syncs, then uploads
        page.wait_for_selector(f"{item}[data-state='sent']", timeout=T)
        assert page.inner_text(f"{item} {tid('att-state')}") == "enviado"
        wait_sent(page, sha)
        listing, got = server_copy(server, token_of(page), record_id, sha)
        assert hashlib.sha256(got).hexdigest() == sha and got == data
        [row] = listing["attachments"]
        assert row["received"] is True and row["stored_media_type"] == "image/jpeg", listing
        # the bytes left the phone after the last 204
        assert page.evaluate(BLOBS)["blobs"] == []
        guard.check()
        assert failed.seen == []
    finally:
        context.close()


def test_a_photo_attached_offline_arrives_with_its_hash(
    browser: Any, server: AppServer, photo: Path, small_png: Path
) -> None:
    attach_offline_then_arrive(browser, server, photo, small_png)


@pytest.mark.postgres
def test_a_photo_attached_offline_arrives_on_postgresql(
    browser: Any, pg_server: AppServer, photo: Path, small_png: Path
) -> None:
    attach_offline_then_arrive(browser, pg_server, photo, small_png)


def test_an_upload_cut_midway_resumes_after_the_app_reopens_from_the_servers_offset(
    browser: Any, server: AppServer, other_photo: Path
) -> None:
    photo = other_photo
    context, page, guard, failed = enroll(browser, server, OFFICERS[1], worker=False)
    try:
        patches: list[int] = []
        cut: dict[str, int | None] = {"at": None}

        def on_upload(route: Any) -> None:
            request = route.request
            if request.method == "PATCH":
                offset = int(request.headers["upload-offset"])
                if cut["at"] is None and len(patches) == 3:
                    # the network drops while the fourth chunk is on its way
                    cut["at"] = offset
                    context.set_offline(True)
                    route.abort("internetdisconnected")
                    return
                patches.append(offset)
            route.continue_()

        context.route(re.compile(r".*/v1/uploads.*"), on_upload)
        record_id, sha = new_incident_with_photo(page, photo, "Cortes de red en la subida")
        # the route handler takes the page offline as it cuts: wait for the app to stop
        page.wait_for_function(
            "() => !navigator.onLine && !window.rondaApp.attachments.running", timeout=T
        )
        assert cut["at"] == 3 * CHUNK and patches == [0, CHUNK, 2 * CHUNK]
        kept = page.evaluate("window.rondaApp.attachments.items()[0]")
        assert kept["state"] == "queued" and kept["offset"] == 3 * CHUNK and kept["location"]

        # the incident says how far it got
        page.click(tid("nav-incidents"))
        page.click(f'{tid("incident-item")}[data-id="{record_id}"]')
        item = f'{tid("att-item")}[data-sha="{sha}"]'
        page.wait_for_selector(f"{item}[data-state='uploading']")
        size = photo.stat().st_size
        assert page.get_attribute(item, "data-pct") == str(100 * 3 * CHUNK // size)
        assert page.inner_text(f"{item} {tid('att-state')}") == f"subiendo {300 * CHUNK // size} %"

        # the phone closes the app mid-queue; the network comes back; the app opens locked:
        # the queue item and every sealed chunk are still there
        page.close()
        context.set_offline(False)
        page = context.new_page()
        page.goto(f"{server.base_url}/app")
        page.wait_for_selector(tid("screen-lock"), timeout=T)
        stored = page.evaluate(BLOBS)
        assert [q["key"] for q in stored["queue"]] == [f"att:{record_id}:{sha}"]
        assert len(stored["blobs"]) == (size + CHUNK - 1) // CHUNK

        heads: list[str] = []

        def on_request(request: Any) -> None:
            if request.method == "HEAD":
                heads.append(request.url)

        context.on("request", on_request)
        unlock(page)  # the app syncs, then resumes the upload
        page.wait_for_function(
            "sha => window.rondaApp.attachments.items().some((i) => i.sha256 === sha"
            " && i.state === 'sent' && i.offset === i.size)",
            arg=sha,
            timeout=T,
        )
        again = page.evaluate("window.rondaApp.attachments.items()")
        assert [(i["sha256"], i["location"]) for i in again] == [(sha, kept["location"])]
        page.click(tid("nav-incidents"))
        page.click(f'{tid("incident-item")}[data-id="{record_id}"]')
        page.wait_for_selector(f"{item}[data-state='sent']")
        # it asked the server where its copy ends, and went on from there, not from 0
        assert heads and heads[0] == kept["location"]
        chunks = (size + CHUNK - 1) // CHUNK
        assert patches == [i * CHUNK for i in range(chunks)]
        _, got = server_copy(server, token_of(page), record_id, sha)
        assert hashlib.sha256(got).hexdigest() == sha
        assert page.evaluate(BLOBS)["blobs"] == []
        # the browser reports the request the test cut: expected, and only that one
        assert failed.seen == [f"PATCH {kept['location']} net::ERR_INTERNET_DISCONNECTED"]
        guard.console_errors[:] = [
            e for e in guard.console_errors if "ERR_INTERNET_DISCONNECTED" not in e
        ]
        guard.check()
    finally:
        context.close()


def test_the_form_with_attachments_is_accessible_on_a_phone(
    browser: Any, server: AppServer, photo: Path, small_png: Path
) -> None:
    context, page, guard, failed = enroll(browser, server, OFFICERS[0])
    try:
        page.click(tid("nav-incidents"))
        page.click(tid("incident-new"))
        page.wait_for_selector(tid("screen-incident"))
        attach(page, "att-photo", photo)
        attach(page, "att-document", small_png)
        for lang in ("es", "en"):
            page.wait_for_selector(f"html[lang='{lang}']")
            if not page.evaluate("() => !!window.axe"):
                page.evaluate(AXE.read_text(encoding="utf-8"))
            found = page.evaluate(
                """async () => {
                    const r = await axe.run(document);
                    return {passes: r.passes.length, violations: r.violations
                        .filter((v) => v.impact === 'critical' || v.impact === 'serious')
                        .map((v) => ({id: v.id, nodes: v.nodes.map((n) => n.target)}))};
                }"""
            )
            assert found["passes"] > 10, found
            assert found["violations"] == [], (lang, found["violations"])
            page.click(tid("lang-toggle"))
        # the language switch drew the form again (render() is asynchronous: wait for the
        # Spanish legend, which a slow machine showed after the read): the files are still there
        legend = tid("inc-attachments") + " legend"
        page.wait_for_function(
            "(sel) => document.querySelector(sel)?.innerText === 'Fotos, audio y documentos'",
            arg=legend,
        )
        assert page.locator(tid("att-new")).count() == 2
        guard.check()
        assert failed.seen == []
    finally:
        context.close()
