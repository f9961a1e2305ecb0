"""Scripts and styles, served from this server only: ours from ``server/static`` and MapLibre
GL JS from the installed PyPI package ``maplibre`` (no CDN: stations have poor links)."""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from sync.errors import NotFound

STATIC = Path(__file__).resolve().parent.parent / "static"
MEDIA = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}


@cache
def maplibre_dir() -> Path:
    """Where the ``maplibre`` package keeps its JS and CSS builds."""
    import maplibre

    return Path(maplibre.__file__).resolve().parent / "srcjs"


def _serve(folder: Path, name: str, max_age: int) -> Response:
    path = folder / name
    # Names only, no folders: nothing outside the folder can be asked for.
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise NotFound("no such file", {"name": name[:64]})
    media = MEDIA.get(path.suffix)
    if media is None:
        raise NotFound("no such file", {"name": name[:64]})
    return FileResponse(
        path, media_type=media, headers={"Cache-Control": f"public, max-age={max_age}"}
    )


async def static_file(request: Request) -> Response:
    return _serve(STATIC, request.path_params["name"], 300)


@cache
def _maplibre_gzip(name: str) -> tuple[bytes, str]:
    """MapLibre's file gzipped once, and its ETag: the gzip middleware would compress the
    914 KB script again for every page load (about 70 ms of a quiet core, on the way to the
    chief's first map); level 9, as it is done once."""
    packed = gzip.compress((maplibre_dir() / name).read_bytes(), compresslevel=9, mtime=0)
    return packed, '"' + hashlib.sha256(packed).hexdigest()[:32] + '"'


async def maplibre_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ("maplibre-gl.js", "maplibre-gl.css"):
        raise NotFound("no such file", {"name": name[:64]})
    if "gzip" not in request.headers.get("accept-encoding", "").lower():
        return _serve(maplibre_dir(), name, 86_400)
    body, etag = _maplibre_gzip(name)
    headers = {
        "Cache-Control": "public, max-age=86400",
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(body, 200, headers, media_type=MEDIA[Path(name).suffix])


routes = [
    Route("/static/{name}", static_file, methods=["GET"]),
    Route("/vendor/maplibre/{name}", maplibre_file, methods=["GET"]),
]
