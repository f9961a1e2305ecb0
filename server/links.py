"""Absolute links in answers (TileJSON, OGC API, the enrollment QR) and how they may be cached.

With ``server.public_url`` set, links start with it and nothing a client sends changes them,
so the answers may be cached as their data allows. Unset (a development server, or one
reached by several names), links start with the scheme and ``Host`` of the request, as the
client used it: the answer is then marked ``private, no-cache`` and ``Vary: Host``, so no
shared cache keeps a body whose links someone chose with a forged ``Host`` header and hands
it to others. Relative links would avoid the question but TileJSON readers (MapLibre, QGIS)
and GDAL's OGC driver need absolute URLs.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from server.context import ctx

HOST_DERIVED = {"Cache-Control": "private, no-cache", "Vary": "Host"}


def site(request: Request) -> str:
    """The server's base URL without a trailing slash: ``https://ronda.example/ronda``."""
    configured = ctx(request).settings.server.public_url
    if configured:
        return configured
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{root}"


def app_path(request: Request) -> str:
    """The request's path inside the app (without the proxy's ``root_path``)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    path = request.url.path
    return path[len(root) :] if root and path.startswith(root) else path


def here(request: Request, **params: str) -> str:
    """This request's own absolute URL, its query replaced by ``params`` when given."""
    query = urlencode(params) if params else request.url.query
    return site(request) + app_path(request) + (f"?{query}" if query else "")


def cache_headers(request: Request, cacheable: str | None) -> dict[str, str]:
    """Headers of an answer holding links: ``cacheable`` (its own Cache-Control, if any) only
    when the links come from the configured URL, else private and varying by Host."""
    if ctx(request).settings.server.public_url:
        return {"Cache-Control": cacheable} if cacheable else {}
    return dict(HOST_DERIVED)
