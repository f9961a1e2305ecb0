"""Enrollment from the devices page, POST-redirect-GET, with the code in no URL and no table.

The POST draws a random view id and derives the one-time code from it and the secret of the
administrator's session cookie (HMAC-SHA256; the store keeps only the secret's hash, and only
the code's hash). It answers 303 to ``/admin/devices/enrolled/<view id>``, and that page
derives the same code again from the cookie the browser sends and finds its enrollment by the
code's hash. So:

- reloading the result page shows the same code and creates none;
- the address (in the access log, the browser history, a Referer) names no code, and opens
  nothing in another session: without that cookie's secret the view id is useless;
- a copy of the database or of the logs holds no code;
- once the code is used or has expired, the page says so instead of showing it.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlencode

import segno
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.context import ctx
from server.links import site
from server.web.admin_common import admin_user, lima_offset, local_time, render_admin
from server.web.admin_text import PAGE
from server.web.forms import read_form
from server.web.render import page_language
from server.web.sessions import SESSION_COOKIE, SignedIn, check_csrf
from sync.clock import now_ms
from sync.identity import CODE_ALPHABET, hash_secret, issue_enrollment, normalise_code
from sync.store.records import AuditEvent

VIEW_RE = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)


def derive_code(session_secret: str, view_id: str) -> str:
    """The code of a view: 8 symbols of the code alphabet drawn from an HMAC of the view id
    under the session's secret (32 symbols divide 256: no symbol is likelier than another)."""
    mac = hmac.new(session_secret.encode(), b"ronda-enroll-view:" + view_id.encode(), "sha256")
    raw = "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in mac.digest()[:8])
    return f"{raw[:4]}-{raw[4:]}"


def qr_svg(text: str, label: str) -> Markup:
    """The QR code of ``text`` as inline SVG, drawn here (no image service)."""
    svg = segno.make(text, error="m").svg_inline(scale=5, title=label, dark="#111")
    # segno draws paths only; the one text it writes (the title) is ours and fixed.
    return Markup(svg)


async def enroll(request: Request) -> Response:
    user = await admin_user(request)
    if not isinstance(user, SignedIn):
        return user
    form = await read_form(request)
    check_csrf(request, user, str(form.get("csrf", "")))
    officer_id = str(form.get("officer_id", ""))[:64]
    c, view_id = ctx(request), secrets.token_urlsafe(16)
    code = derive_code(request.cookies.get(SESSION_COOKIE, ""), view_id)
    _, expires = await issue_enrollment(
        c.store,
        officer_id,
        c.settings.auth.enrollment_ttl_s,
        user.who.officer_id,
        now_ms(),
        code=code,
    )
    details = {"expires": local_time(expires, lima_offset(request))}
    await c.store.add_audit(
        AuditEvent(now_ms(), user.who.officer_id, "enroll", officer_id, details)
    )
    return RedirectResponse(f"/admin/devices/enrolled/{view_id}", 303)


async def enrolled_page(request: Request) -> Response:
    user = await admin_user(request)
    if not isinstance(user, SignedIn):
        return user
    view_id = request.path_params["view_id"]
    values: dict[str, object] = {"state": "gone", "issued": None}
    enrollment = None
    if VIEW_RE.fullmatch(view_id):
        code = derive_code(request.cookies.get(SESSION_COOKIE, ""), view_id)
        enrollment = await ctx(request).store.enrollment(hash_secret(normalise_code(code)))
    if enrollment is None or enrollment.created_by != user.who.officer_id:
        return render_admin(request, "admin_enrolled.html", values, user, status=404)
    officer = await ctx(request).store.get_officer(enrollment.officer_id)
    if enrollment.used_ms is not None:
        values["state"] = "used"
    elif enrollment.expires_ms <= now_ms():
        values["state"] = "expired"
    else:
        payload = "ronda:enroll?" + urlencode({"server": site(request), "code": code})
        values["state"] = "live"
        values["issued"] = {
            "code": code,
            "payload": payload,
            "qr": qr_svg(payload, PAGE[page_language(request)]["qr_label"]),
            "expires": local_time(enrollment.expires_ms, lima_offset(request)),
        }
    values["officer"] = officer
    values["officer_id"] = enrollment.officer_id
    return render_admin(request, "admin_enrolled.html", values, user)


routes = [
    Route("/admin/devices/enroll", enroll, methods=["POST"]),
    Route("/admin/devices/enrolled/{view_id}", enrolled_page, methods=["GET"]),
]
