"""Jinja2 pages: one environment, autoescaped, with the language's strings in every page."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from server.context import ctx
from server.web.i18n import STRINGS, category_name, language
from server.web.sessions import SignedIn

# What ends or opens markup inside <script>: escaped in JSON put into a page, so that data
# (a station's name, say) can never close the script element and run as code.
_SCRIPT_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def script_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` element of a page."""
    return orjson.dumps(value).decode().translate(_SCRIPT_UNSAFE)


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# Pages hold no script or style from elsewhere: everything comes from this server.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; worker-src 'self' blob:; child-src blob:; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["category_name"] = category_name
    return env


def page_language(request: Request) -> str:
    return language(request, ctx(request).settings.web.default_language)


def render(
    request: Request,
    template: str,
    values: dict[str, Any] | None = None,
    user: SignedIn | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Render a page with its strings, language, user and CSRF token."""
    lang = page_language(request)
    other = "en" if lang == "es" else "es"
    data = {
        "t": STRINGS[lang],
        "lang": lang,
        "other_lang": other,
        "path": request.url.path,
        "query": request.url.query,
        "user": user.who if user else None,
        "csrf": user.session.csrf if user else "",
        **(values or {}),
    }
    html = environment().get_template(template).render(**data)
    return HTMLResponse(html, status, headers=HEADERS)
