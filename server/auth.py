"""Device-token authentication and role checks, looked up on every request.

No cache: a revoked token is refused from the very next request (promise 10).

A device token travels as ``Authorization: Bearer <token>`` everywhere.  On the map endpoints
only (OGC API Features under ``/ogc``, vector tiles and TileJSON under ``/tiles``) it may also
travel as HTTP Basic with the token as the password and any user name: QGIS 3.22 cannot send a
bearer header from a layer, but its built-in Basic method works everywhere, and so does GDAL's
``GDAL_HTTP_AUTH=BASIC``.  The token alone identifies device, officer and role, so the user name
carries nothing and is not checked.  Sync, uploads, admin and attachments stay bearer-only: a
browser once given Basic credentials sends them by itself with every request to the site, like
a cookie, so an endpoint that changes data (or shows personal data) would be open to cross-site
requests; the map endpoints only read, and show no personal data (docs/layers.md).
"""

from __future__ import annotations

import base64
import binascii
from typing import ClassVar

from starlette.requests import Request

from server.context import ctx
from sync.errors import Forbidden, Unauthorized
from sync.identity import identify
from sync.store.records import Identity

BASIC_REALM = "Ronda"


class MapUnauthorized(Unauthorized):
    """A 401 on a map endpoint: it challenges Basic, so clients that wait for a challenge
    before sending credentials (a browser, curl's ``GDAL_HTTP_AUTH=ANY``) offer the token."""

    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": f'Basic realm="{BASIC_REALM}"'}


async def _identify(request: Request, token: str, error: type[Unauthorized]) -> Identity:
    who = await identify(ctx(request).store, token)
    if who is None:
        raise error("the token is unknown or revoked")
    # The access log and metrics read these: the same audit trail whichever scheme carried it.
    request.state.device_id = who.device_id
    request.state.role = who.role
    return who


async def authenticate(request: Request) -> Identity:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    return await _identify(request, token.strip(), Unauthorized)


async def require(request: Request, *roles: str) -> Identity:
    who = await authenticate(request)
    if who.role not in roles:
        raise Forbidden("your role may not do this", {"role": who.role, "allowed": list(roles)})
    return who


async def authenticate_reader(request: Request) -> Identity:
    """A device token, or else a signed-in browser session: for read-only GETs (the maps).

    Cookies are SameSite=Lax and these endpoints change nothing, so no CSRF token is needed.
    """
    if request.headers.get("authorization"):
        return await authenticate(request)
    return await _session(request, Unauthorized)


async def authenticate_map_reader(request: Request) -> Identity:
    """As ``authenticate_reader``, and HTTP Basic with the token as password: the map layers.

    Any failure answers 401 in the usual error shape, with a Basic challenge except on a tile.
    """
    error = _map_error(request)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        return await _identify(request, basic_password(value), error)
    if scheme.lower() == "bearer" and value.strip():
        return await _identify(request, value.strip(), error)
    if scheme:
        raise error(
            "send the device token as Authorization: Bearer <token>, or as the password of "
            "HTTP Basic (any user name)",
            {"scheme": scheme[:20]},
        )
    return await _session(request, error)


def _map_error(request: Request) -> type[Unauthorized]:
    """The 401 of a map endpoint: a Basic challenge, except on a vector tile.

    QGIS's Basic method and curl's ``GDAL_HTTP_AUTH=BASIC`` send the credentials unasked, so
    no client needs the challenge to send them.  On a tile it does harm: QGIS 3.22 fetches
    tiles on render threads, and a Basic challenge makes them wait for the main thread to ask
    for credentials; a blocking render (PyQGIS ``QgsMapRendererSequentialJob``, a layout
    export) then never ends (checked with 3.22.16).  A tile's 401 says ``Bearer``, as before.
    """
    return Unauthorized if request.url.path.endswith(".mvt") else MapUnauthorized


def basic_password(value: str) -> str:
    """The password of HTTP Basic credentials (RFC 7617), or "" when they do not decode.

    The user name is ignored: the token says who is asking.  A token never contains ':', so
    the last ':' separates them even if a client puts one in the user name.
    """
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    _, colon, password = decoded.rpartition(":")
    return password.strip() if colon else ""


async def _session(request: Request, error: type[Unauthorized]) -> Identity:
    from server.web.sessions import signed_in  # the web package builds on this module

    user = await signed_in(request)
    if user is None:
        raise error("a bearer token or a signed-in session is required")
    request.state.role = user.who.role
    return user.who
