"""Device identity: one-time enrollment codes, device tokens, revocation.

Codes and tokens are stored only as SHA-256 hashes: they are long random secrets, so a slow
password hash would add nothing but latency to every request.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sync.errors import EnrollmentInvalid, NotFound
from sync.store.base import Store
from sync.store.records import Device, Enrollment, Identity

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on a phone
TOKEN_PREFIX = "rdt_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_code() -> str:
    """A one-time code like ``K7QD-M2XA`` (40 bits, single use, short-lived)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def issue_enrollment(
    store: Store,
    officer_id: str,
    ttl_s: int,
    created_by: str,
    now_ms: int,
    code: str | None = None,
) -> tuple[str, int]:
    """Create a one-time code for an officer's new device; return it and its expiry.

    ``code``: one the caller derived itself (the admin page derives it from its session, so
    it can show it again without storing it); a fresh random one when None.
    """
    if await store.get_officer(officer_id) is None:
        raise NotFound("no such officer", {"officer_id": officer_id})
    code = code or new_code()
    expires = now_ms + ttl_s * 1000
    await store.add_enrollment(
        Enrollment(hash_secret(normalise_code(code)), officer_id, expires, created_by)
    )
    return code, expires


async def redeem_code(store: Store, code: str, device_name: str, now_ms: int) -> tuple[Device, str]:
    """Exchange a one-time code for a device and its token (shown once, stored hashed)."""
    if not code or len(code) > 20:
        raise EnrollmentInvalid("the enrollment code is unknown, used or expired")
    token = new_token()
    device = Device(f"dev-{uuid.uuid4().hex[:16]}", "", device_name, now_ms)
    made = await store.redeem_enrollment(
        hash_secret(normalise_code(code)), device, hash_secret(token), now_ms
    )
    return made, token


async def create_device_token(
    store: Store, officer_id: str, device_name: str, now_ms: int
) -> tuple[Device, str]:
    """Register a device with a token directly (the CLI's bootstrap, tests, the simulator)."""
    if await store.get_officer(officer_id) is None:
        raise NotFound("no such officer", {"officer_id": officer_id})
    token = new_token()
    device = Device(f"dev-{uuid.uuid4().hex[:16]}", officer_id, device_name, now_ms)
    await store.add_token(device, hash_secret(token))
    return device, token


async def identify(store: Store, token: str) -> Identity | None:
    """The identity behind a bearer token, or None (unknown, malformed or revoked)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    return await store.identity_for_token(hash_secret(token))
