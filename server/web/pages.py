"""The browser pages: sign-in, language switch, the chief's map (the conflict log is
``server.web.conflict_review``)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.context import ctx
from server.web import sessions
from server.web.filters import MAP_ROLES, default_until, page_values
from server.web.forms import read_form
from server.web.guard import page_user
from server.web.i18n import CATEGORIES, LANGUAGES, STRINGS, category_name
from server.web.render import page_language, render, script_json
from server.web.sessions import SignedIn, SignInFailed, check_csrf, check_login_csrf, signed_in
from sync.store.records import PointQuery

ADMIN_HOME = "/admin/devices"


# Which roles each page admits. The pages check it themselves; this only decides where a
# sign-in lands, so that nobody is sent to a page that will refuse them. Paths not listed
# admit every signed-in role.
PAGE_ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/admin", ("admin",)),
    ("/map", MAP_ROLES),
    ("/conflicts", ("chief", "analyst")),
    ("/plans", ("chief", "analyst")),
    ("/web", MAP_ROLES),
)


def _local_path(target: str | None) -> str | None:
    """Only local paths: a sign-in must never send the browser elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _safe_next(target: str | None) -> str:
    return _local_path(target) or "/map"


def role_home(role: str) -> str:
    """Where a role lands after signing in when it asked for no page."""
    return ADMIN_HOME if role == "admin" else "/map" if role in MAP_ROLES else "/public"


def may_see(role: str, target: str) -> bool:
    """Whether ``role`` may open the local page ``target``."""
    path = urlsplit(target).path
    for prefix, roles in PAGE_ROLES:
        if path == prefix or path.startswith(prefix + "/"):
            return role in roles
    return True


def landing(role: str, asked: str | None) -> str:
    """The page asked for, when it is local and the role may see it; else the role's home."""
    target = _local_path(asked)
    return target if target and may_see(role, target) else role_home(role)


async def index(request: Request) -> Response:
    user = await signed_in(request)
    if user is None:
        return RedirectResponse("/public", 303)
    return RedirectResponse(role_home(user.who.role), 303)


async def login_page(
    request: Request, error: str = "", status: int = 200, asked: str | None = None
) -> Response:
    """The sign-in form; ``asked``: the page a refused attempt had asked for (a POST)."""
    token = secrets.token_urlsafe(24)
    # None: the role's home (a form carrying "/map" sent administrators to a refusal)
    asked = _local_path(request.query_params.get("next") if asked is None else asked)
    answer = render(
        request,
        "login.html",
        {"error": error, "login_csrf": token, "next": asked},
        status=status,
    )
    web = ctx(request).settings.web
    sessions.set_cookie(answer, web, sessions.LOGIN_CSRF_COOKIE, token, 3600)
    return answer


async def login(request: Request) -> Response:
    form = await read_form(request)
    check_login_csrf(request, str(form.get("csrf", "")))
    c = ctx(request)
    officer_id = str(form.get("officer_id", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    t = STRINGS[page_language(request)]
    asked = str(form.get("next") or "")
    address = request.client.host if request.client else sessions.NO_ADDRESS
    try:
        secret = await sessions.sign_in(c.store, c.settings.web, officer_id, password, address)
    except SignInFailed as failed:
        if failed.retry_after_s:
            wait = failed.retry_after_s
            answer = await login_page(request, t["throttled"].format(s=wait), 429, asked)
            answer.headers["Retry-After"] = str(wait)
            return answer
        return await login_page(request, t["bad_login"], 401, asked)
    officer = await c.store.get_officer(officer_id)
    role = officer.role if officer else ""
    answer = RedirectResponse(landing(role, asked), 303)
    max_age = int(c.settings.web.session_hours * 3600)
    sessions.set_cookie(answer, c.settings.web, sessions.SESSION_COOKIE, secret, max_age)
    answer.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path="/")
    return answer


async def logout(request: Request) -> Response:
    user = await signed_in(request)
    answer = RedirectResponse("/login", 303)
    if user is not None:
        form = await read_form(request)
        check_csrf(request, user, str(form.get("csrf", "")))
        await sessions.sign_out(request, answer)
    return answer


async def switch_language(request: Request) -> Response:
    lang = request.query_params.get("to", "es")
    answer = RedirectResponse(_safe_next(request.query_params.get("next")), 303)
    if lang in LANGUAGES:
        web = ctx(request).settings.web
        answer.set_cookie(
            sessions.LANG_COOKIE,
            lang,
            365 * 86_400,
            path="/",
            samesite="lax",
            secure=web.secure_cookies,
        )
    return answer


async def map_page(request: Request) -> Response:
    c = ctx(request)
    user = await page_user(request, MAP_ROLES)
    if not isinstance(user, SignedIn):
        return user
    scope = c.engine.scope(user.who)
    times = await c.store.points(
        PointQuery(station_ids=scope.station_ids), ("occurred_s", "lon", "lat")
    )
    latest = int(times["occurred_s"].max()) if times["occurred_s"].size else None
    offset = c.settings.public.utc_offset_minutes * 60
    until = default_until(latest, offset, int(dt.datetime.now(dt.UTC).timestamp()))
    since = until - dt.timedelta(days=c.settings.web.default_window_days - 1)
    bounds = _bounds(times)
    lang = page_language(request)
    config: dict[str, Any] = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "bounds": bounds,
        "strings": STRINGS[lang],
        "categories": {k: category_name(lang, k) for k in CATEGORIES["es"]},
        "csrf": user.session.csrf,
        **await page_values(request, until, lang),
    }
    return render(
        request,
        "map.html",
        {
            "config": script_json(config),
            "since": since,
            "until": until,
            "categories": list(CATEGORIES["es"]),
            "station_name": config["station_name"],
        },
        user=user,
    )


def _bounds(cols: dict[str, Any]) -> list[float] | None:
    lon, lat = cols["lon"], cols["lat"]
    if lon.size == 0:
        return None
    return [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]


routes = [
    Route("/", index, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang", switch_language, methods=["GET"]),
    Route("/map", map_page, methods=["GET"]),
]
