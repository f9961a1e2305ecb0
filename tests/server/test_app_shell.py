"""The officer's app at /app: its files, headers and service worker as the browser needs them."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import struct
from pathlib import Path

from server.web.app_shell import ROOT, build_stamp
from tests.server.conftest import Served

SHELL_BUDGET_GZIP = 150 * 1024  # the limit for the app shell (MapLibre not counted)


def _stamp(text: str) -> dict[str, object]:
    found = re.search(r"const BUILD = (\{.*?\});", text)
    assert found, "the server did not fill in the build stamp"
    stamp: dict[str, object] = json.loads(found.group(1))
    return stamp


async def test_index_is_served_at_app_with_the_site_csp(served: Served) -> None:
    for path in ("/app", "/app/"):
        page = await served.client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-eval" not in csp
        assert page.headers["cache-control"] == "no-cache"
        # No inline script: every <script> loads a file from this server.
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
        assert scripts
        assert all('src="/app/' in attrs and not body.strip() for attrs, body in scripts)
        assert 'rel="manifest" href="/app/manifest.webmanifest"' in page.text


async def test_service_worker_scope_headers_and_build_stamp(served: Served) -> None:
    answer = await served.client.get("/app/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["service-worker-allowed"] == "/app"
    assert "no-cache" in answer.headers["cache-control"]
    assert "max-age=0" in answer.headers["cache-control"]
    stamp = _stamp(answer.text)
    assert re.fullmatch(r"[0-9a-f]{16}", str(stamp["version"]))
    files = stamp["files"]
    assert isinstance(files, list)
    for needed in ("/app", "/app/index.html", "/app/js/main.js", "/app/js/chain.js"):
        assert needed in files
    assert not any("vendor/jsqr" in f or f.endswith((".md", ".py")) for f in files)
    # cache.addAll fails as a whole on one missing file: every precached URL must answer 200.
    for url in files:
        assert (await served.client.get(url)).status_code == 200, url
    # the map's font for street names, kept in a cache of its own (a glyph set, not empty)
    glyphs = stamp["glyphs"]
    assert isinstance(glyphs, dict) and glyphs["files"] == ["/glyphs/DejaVuSans/0-255.pbf"]
    font = await served.client.get(glyphs["files"][0])
    assert font.status_code == 200 and len(font.content) > 10_000


async def test_manifest_media_type_scope_and_icons(served: Served) -> None:
    answer = await served.client.get("/app/manifest.webmanifest")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/manifest+json"
    manifest = answer.json()
    assert manifest["start_url"].startswith(manifest["scope"])
    assert manifest["display"] == "standalone"
    purposes = set()
    for icon in manifest["icons"]:
        png = await served.client.get(icon["src"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png.content[16:24])
        assert f"{width}x{height}" == icon["sizes"]
        purposes.add(icon["purpose"])
    assert {"any", "maskable"} <= purposes
    assert any(i["sizes"] == "192x192" for i in manifest["icons"])
    assert any(i["sizes"] == "512x512" for i in manifest["icons"])


async def test_only_app_files_are_served(served: Served) -> None:
    for path in (
        "/app/README.md",
        "/app/icons/make_icons.py",
        "/app/../server/settings.py",
        "/app/%2e%2e/%2e%2e/web/app_shell.py",
        "/app/js/nothing.js",
        "/app/js/",
    ):
        answer = await served.client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "not_found"


async def test_a_changed_file_gives_a_new_worker_version(tmp_path: Path) -> None:
    copy = tmp_path / "app"
    shutil.copytree(ROOT, copy)
    before = build_stamp(copy)
    assert build_stamp(copy) == before
    (copy / "js" / "i18n.js").write_text(
        (copy / "js" / "i18n.js").read_text(encoding="utf-8") + "\n// changed\n", encoding="utf-8"
    )
    after = build_stamp(copy)
    assert after["version"] != before["version"]
    assert after["files"] == before["files"]


def test_the_shell_stays_within_its_size_budget() -> None:
    total = 0
    files = build_stamp()["files"]
    assert isinstance(files, list)
    for url in files:
        path = ROOT / "index.html" if url == "/app" else ROOT / url.removeprefix("/app/")
        total += len(gzip.compress(path.read_bytes(), 9))
    total += len(gzip.compress((ROOT / "sw.js").read_bytes(), 9))
    assert total <= SHELL_BUDGET_GZIP, f"app shell is {total} bytes gzipped"


async def test_an_officer_token_reads_what_the_briefing_needs(served: Served) -> None:
    auth = served.auth("off-a")
    for collection in ("sectors", "hotspots"):
        url = f"/ogc/collections/{collection}/items?limit=10"
        items = await served.client.get(url, headers=auth)
        assert items.status_code == 200, collection
        assert items.json()["type"] == "FeatureCollection"
    tile = await served.client.get("/tiles/sectors/14/4686/8744.mvt", headers=auth)
    assert tile.status_code in (200, 204)
    hotspots = await served.client.get("/tiles/hotspots/14/4686/8744.mvt", headers=auth)
    assert hotspots.status_code in (200, 204)
    assert (await served.client.get("/tiles/hotspots/14/4686/8744.mvt")).status_code == 401


def test_app_scripts_build_the_page_without_html_strings_or_eval() -> None:
    # Names of victims and suspects are shown on these screens: text goes in as text nodes,
    # never as HTML, and nothing is evaluated (the CSP forbids it; this keeps the code honest).
    forbidden = re.compile(
        r"\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\("
    )
    scripts = [*ROOT.glob("js/**/*.js"), ROOT / "sw.js"]
    assert len(scripts) > 10
    for path in scripts:
        found = forbidden.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name}: {found.group(0) if found else ''}"
