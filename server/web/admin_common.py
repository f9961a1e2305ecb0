"""What the administration pages share: the administrator check, Lima time, and rendering
with the pages' own strings (``a``) beside the site's (``t``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.context import ctx
from server.web import admin_text
from server.web.guard import page_user
from server.web.render import page_language, render
from server.web.sessions import SignedIn


async def admin_user(request: Request) -> SignedIn | Response:
    """The signed-in administrator, or the answer to give instead (sign in, or forbidden)."""
    return await page_user(request, ("admin",))


def lima_offset(request: Request) -> int:
    """Lima's offset from UTC in seconds (people read Lima time; the wire carries UTC)."""
    return ctx(request).settings.public.utc_offset_minutes * 60


def local_time(ms: int | None, offset_s: int) -> str:
    if not ms:
        return ""
    zone = dt.timezone(dt.timedelta(seconds=offset_s))
    return dt.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M")


def render_admin(
    request: Request,
    template: str,
    values: dict[str, Any],
    user: SignedIn,
    status: int = 200,
) -> HTMLResponse:
    lang = page_language(request)
    words = {"a": admin_text.PAGE[lang], "role_names": admin_text.ROLES[lang]}
    return render(request, template, {**words, **values}, user=user, status=status)
