"""The officer's app (a PWA) at ``/app``: static files from ``server/static/app``, no build.

The app speaks only the public sync protocol (docs/protocol.md); this module just serves its
files. Two things are computed here rather than kept by hand:

- the service worker's build stamp: ``sw.js`` holds the placeholder ``"__RONDA_BUILD__"``,
  replaced by ``{"version", "files", "maplibre"}`` where ``version`` is a hash of every shell
  file. Any change to the app gives the phone a new service worker (and so the "new version
  ready" prompt) without anyone remembering to bump a number;
- the list of files to precache (every shell file, so a new module is never forgotten).

The worker's scope is ``/app`` (``Service-Worker-Allowed``) so that both ``/app`` and
``/app/...`` open offline. Files are ``no-cache`` (revalidated with their ETag): the worker
keeps the offline copy, and a stale HTTP cache must never hide a new worker from the browser.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from server.web.glyphs import GLYPHS
from server.web.render import CSP
from sync.errors import NotFound

ROOT = Path(__file__).resolve().parent.parent / "static" / "app"
PLACEHOLDER = '"__RONDA_BUILD__"'
MEDIA = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
# Loaded on demand, not precached: the QR decoder is needed only while enrolling (online).
NOT_PRECACHED = ("vendor/jsqr/",)
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
PAGE_HEADERS = {**HEADERS, "Content-Security-Policy": CSP, "Cache-Control": "no-cache"}


def shell_files(root: Path = ROOT) -> list[str]:
    """The app's served files as URL paths (sorted), the worker itself left out."""
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or path.suffix not in MEDIA or rel == "sw.js":
            continue
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if rel.startswith(NOT_PRECACHED):
            continue
        found.append("/app/" + rel)
    return found


@cache
def maplibre_version() -> str:
    try:
        return version("maplibre")
    except PackageNotFoundError:
        return "none"


# The map font's range of Latin letters (server/web/glyphs.py): street names in Spanish need
# no other, and the app's map labels its streets offline too. Kept by the worker in a cache of
# its own, as MapLibre is (the shell's size budget leaves both out); other ranges are kept as
# they are first asked for, online.
PRECACHED_GLYPHS = ("DejaVuSans/0-255.pbf",)


@cache
def glyphs_stamp() -> dict[str, object]:
    digest = hashlib.sha256()
    for rel in PRECACHED_GLYPHS:
        digest.update(rel.encode() + b"\0" + (GLYPHS / rel).read_bytes())
    return {"version": digest.hexdigest()[:12], "files": [f"/glyphs/{r}" for r in PRECACHED_GLYPHS]}


def build_stamp(root: Path = ROOT) -> dict[str, object]:
    """What the worker is told: a version hashing every shell file, and the files."""
    files = shell_files(root)
    digest = hashlib.sha256()
    for url in [*files, "/app/sw.js"]:
        digest.update(url.encode() + b"\0")
        digest.update((root / url.removeprefix("/app/")).read_bytes())
    digest.update(maplibre_version().encode())
    return {
        "version": digest.hexdigest()[:16],
        "files": ["/app", *files],
        "glyphs": glyphs_stamp(),
        "maplibre": maplibre_version(),
    }


def _file(rel: str) -> Path:
    path = (ROOT / rel).resolve()
    # Only files under the app's folder, of a type we serve, never hidden ones.
    if (
        not path.is_relative_to(ROOT)
        or not path.is_file()
        or path.suffix not in MEDIA
        or any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    ):
        raise NotFound("no such file", {"path": rel[:64]})
    return path


async def index(request: Request) -> Response:
    return FileResponse(ROOT / "index.html", media_type=MEDIA[".html"], headers=PAGE_HEADERS)


async def worker(request: Request) -> Response:
    source = (ROOT / "sw.js").read_text(encoding="utf-8")
    stamp = json.dumps(build_stamp(), separators=(",", ":"))
    headers = {
        **HEADERS,
        "Cache-Control": "no-cache, max-age=0",
        "Service-Worker-Allowed": "/app",
    }
    return Response(source.replace(PLACEHOLDER, stamp, 1), 200, headers, MEDIA[".js"])


async def app_file(request: Request) -> Response:
    rel = request.path_params["path"]
    if rel in ("", "index.html"):
        return await index(request)
    path = _file(rel)
    media = MEDIA[path.suffix]
    headers = PAGE_HEADERS if path.suffix == ".html" else {**HEADERS, "Cache-Control": "no-cache"}
    return FileResponse(path, media_type=media, headers=headers)


routes = [
    Route("/app", index, methods=["GET"]),
    Route("/app/sw.js", worker, methods=["GET"]),
    Route("/app/{path:path}", app_file, methods=["GET"]),
]
