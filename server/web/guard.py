"""The sign-in guard every signed-in page runs first: who is signed in, or the answer to give
instead (to sign in and back, or the forbidden page when the role may not see the page)."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.web.render import render
from server.web.sessions import SignedIn, signed_in


def sign_in_redirect(request: Request, back: str | None = None) -> Response:
    """To the sign-in form, which returns to ``back`` (by default this very page and query)."""
    if back is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': back})}", 303)


async def page_user(
    request: Request, roles: Collection[str], back: str | None = None
) -> SignedIn | Response:
    """The signed-in officer when their role is one of ``roles``; else the answer to give
    instead: sign in (then back to ``back``, see ``sign_in_redirect``) or 403."""
    user = await signed_in(request)
    if user is None:
        return sign_in_redirect(request, back)
    if user.who.role not in roles:
        return render(request, "forbidden.html", user=user, status=403)
    return user
