"""Scripts and styles, served from this server only: ours from ``server/static`` and MapLibre
GL JS from the installed PyPI package ``maplibre`` (no CDN: stations have poor links)."""

from __future__ import annotations

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


async def maplibre_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ("maplibre-gl.js", "maplibre-gl.css"):
        raise NotFound("no such file", {"name": name[:64]})
    return _serve(maplibre_dir(), name, 86_400)


routes = [
    Route("/static/{name}", static_file, methods=["GET"]),
    Route("/vendor/maplibre/{name}", maplibre_file, methods=["GET"]),
]
