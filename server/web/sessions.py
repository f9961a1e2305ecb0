"""Browser sign-in: argon2 passwords, server-side sessions, CSRF, back-off of failures.

The session cookie holds a random secret; the store keeps only its SHA-256 hash, so a copy of
the database opens no session. Every state-changing form carries the session's CSRF token
(the sign-in form, before any session exists, a double-submit cookie), and a cross-site
``Origin`` is refused outright.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request
from starlette.responses import Response

from server.context import ctx
from server.settings import WebSettings
from server.web import throttle
from sync.clock import now_ms
from sync.errors import Forbidden, NotFound, Unauthorized
from sync.identity import hash_secret
from sync.store.base import Store
from sync.store.records import Credential, Identity, WebSession

SESSION_COOKIE = "ronda_session"
LOGIN_CSRF_COOKIE = "ronda_login_csrf"
LANG_COOKIE = "ronda_lang"
MIN_PASSWORD = 10
HASHER = PasswordHasher()
# Verified when the officer has no password, so "no such officer" takes as long as "wrong".
_DUMMY_HASH = HASHER.hash("not a password of anyone")
# Client address when the server cannot tell (no ASGI client): all such attempts share one key.
NO_ADDRESS = "unknown"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The officer behind a browser session."""

    who: Identity
    session: WebSession


class SignInFailed(Exception):
    """Wrong officer or password (one answer for both), or an attempt that must wait
    ``retry_after_s`` first (the password was not even checked)."""

    def __init__(self, retry_after_s: int = 0) -> None:
        super().__init__("sign-in failed")
        self.retry_after_s = retry_after_s


async def set_password(store: Store, officer_id: str, password: str) -> None:
    """Give an officer a web password (argon2id); forgets the officer's failed sign-ins."""
    if await store.get_officer(officer_id) is None:
        raise NotFound("no such officer", {"officer_id": officer_id})
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    await store.put_credential(Credential(officer_id, HASHER.hash(password)))
    await store.clear_login_failures(officer_id)


async def sign_in(
    store: Store, web: WebSettings, officer_id: str, password: str, address: str = NO_ADDRESS
) -> str:
    """Check a password and open a session; return the cookie secret.

    An unknown officer id goes through the very same steps as a wrong password (throttle
    check, one argon2 verification, one counted failure), so neither the answer nor its
    time tells whether the id exists.
    """
    now = now_ms()
    verdict = await throttle.check(store, web, officer_id, address, now)
    if not verdict.allowed:
        raise SignInFailed(verdict.retry_after_s)
    credential = await store.credential(officer_id)
    ok = _verify(credential.password_hash if credential else _DUMMY_HASH, password)
    if credential is None or not ok:
        await throttle.failed(store, officer_id, address, now)
        raise SignInFailed()
    await throttle.succeeded(store, officer_id, address)
    secret = secrets.token_urlsafe(32)
    expires = now + int(web.session_hours * 3_600_000)
    session = WebSession(hash_secret(secret), officer_id, secrets.token_urlsafe(24), expires)
    await store.add_session(session)
    return secret


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def signed_in(request: Request) -> SignedIn | None:
    """The session of this request, if its cookie names a live one."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret or len(secret) > 100:
        return None
    found = await ctx(request).store.session(hash_secret(secret), now_ms())
    if found is None:
        return None
    session, who = found
    return SignedIn(who, session)


async def require_web(request: Request, *roles: str) -> SignedIn:
    """The signed-in officer, with one of ``roles`` when given (pages redirect on 401)."""
    user = await signed_in(request)
    if user is None:
        raise Unauthorized("sign in first")
    if roles and user.who.role not in roles:
        raise Forbidden("your role may not see this", {"role": user.who.role})
    return user


def check_origin(request: Request) -> None:
    """Refuse a state-changing request sent by another site's page."""
    origin = request.headers.get("origin")
    # "null" too: the pages send Referrer-Policy same-origin, so a browser gives their own
    # forms a real origin; "null" comes from sandboxed frames and files, another site's tools.
    if origin:
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise Forbidden("cross-site request refused", {"origin": origin[:100]})


def check_csrf(request: Request, user: SignedIn, sent: str | None) -> None:
    """The form's (or X-CSRF-Token header's) token must be the session's."""
    check_origin(request)
    token = sent or request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(token.encode(), user.session.csrf.encode()):
        raise Forbidden("the form is stale or forged (CSRF token); reload the page")


def check_login_csrf(request: Request, sent: str | None) -> None:
    """Before a session exists: the form's token must match the double-submit cookie."""
    check_origin(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest((sent or "").encode(), cookie.encode()):
        raise Forbidden("the sign-in form is stale; reload the page")


def set_cookie(response: Response, web: WebSettings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=web.secure_cookies,
    )


async def sign_out(request: Request, response: Response) -> None:
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        await ctx(request).store.drop_session(hash_secret(secret))
    response.delete_cookie(SESSION_COOKIE, path="/")


DEMO_PASSWORD = "ronda-demo-2025"


async def demo_passwords(store: Store) -> list[str]:
    """Give the first chief, analyst and administrator of the demo city a known password
    (the demo only: it prints the password on the terminal)."""
    chosen: dict[str, str] = {}
    for officer in await store.list_officers():
        if officer.role in ("chief", "analyst", "admin") and officer.role not in chosen:
            chosen[officer.role] = officer.id
    for officer_id in chosen.values():
        await set_password(store, officer_id, DEMO_PASSWORD)
    return sorted(chosen.values())
