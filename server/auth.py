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
