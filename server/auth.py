"""Bearer-token authentication and role checks, looked up on every request.

No cache: a revoked token is refused from the very next request (promise 10).
"""

from __future__ import annotations

from starlette.requests import Request

from server.context import ctx
from sync.errors import Forbidden, Unauthorized
from sync.identity import identify
from sync.store.base import Identity


async def authenticate(request: Request) -> Identity:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    who = await identify(ctx(request).store, token.strip())
    if who is None:
        raise Unauthorized("the token is unknown or revoked")
    request.state.device_id = who.device_id
    request.state.role = who.role
    return who


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
    from server.web.sessions import signed_in  # the web package builds on this module

    user = await signed_in(request)
    if user is None:
        raise Unauthorized("a bearer token or a signed-in session is required")
    request.state.role = user.who.role
    return user.who
