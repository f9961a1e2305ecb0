"""The tus 1.0.0 protocol's own parts: version check, headers on every answer (errors
included), and the parsing of its request headers. The handlers are server/routes/uploads.py.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from email.utils import formatdate

from starlette.requests import Request
from starlette.responses import Response

from server import errors
from server.attachment_service import service
from server.errors import ChecksumUnsupported, QuotaExceeded, TusVersionUnsupported
from sync.errors import InvalidRequest, PayloadTooLarge, SyncError

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_TYPE = "application/offset+octet-stream"
MAX_DIGITS = 18  # a byte count: 10**18 bytes is an exabyte


Handler = Callable[[Request], Awaitable[Response]]


def tus_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **(extra or {})}


def tus(handler: Handler) -> Handler:
    """Every answer, errors included, carries Tus-Resumable; errors keep our JSON shape."""

    async def wrapped(request: Request) -> Response:
        try:
            if request.method != "OPTIONS":
                version = request.headers.get("tus-resumable")
                if version != TUS_VERSION:
                    raise TusVersionUnsupported(
                        "Tus-Resumable: 1.0.0 is required", {"supported": [TUS_VERSION]}
                    )
            return await handler(request)
        except SyncError as exc:
            extra = {"Tus-Version": TUS_VERSION}
            if isinstance(exc, QuotaExceeded):
                extra["Retry-After"] = str(exc.details["retry_after_s"])
            if isinstance(exc, PayloadTooLarge):
                extra["Tus-Max-Size"] = str(service(request).settings.max_file_bytes)
            return errors.error_response(
                exc.code, exc.message, errors.status_for(exc), exc.details, tus_headers(extra)
            )

    return wrapped


def expires(ms: int) -> str:
    return formatdate(ms / 1000, usegmt=True)


def parse_metadata(raw: str) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (value optional)."""
    out: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidRequest("Upload-Metadata values must be base64", {"key": key}) from exc
    return out


def byte_count(raw: str, header: str) -> int:
    """A header's non-negative byte count. At most 18 digits, far beyond any file: a longer
    number is no size, and one past 64 bits could not even be written back in an error's
    details (a security review got a 500 for Upload-Length 2**64)."""
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidRequest(f"{header} must be a non-negative integer", {})
    if len(raw) > MAX_DIGITS:
        raise InvalidRequest(
            f"{header} has more digits than any file's size", {"max_digits": MAX_DIGITS}
        )
    return int(raw)


def upload_length(request: Request) -> int:
    raw = request.headers.get("upload-length")
    if raw is None:
        raise InvalidRequest("Upload-Length is required (Upload-Defer-Length is not supported)")
    return byte_count(raw, "Upload-Length")


def upload_checksum(request: Request) -> bytes | None:
    raw = request.headers.get("upload-checksum")
    if raw is None:
        return None
    algorithm, _, value = raw.partition(" ")
    if algorithm.lower() != "sha256":
        raise ChecksumUnsupported("Upload-Checksum takes sha256 only", {"supported": ["sha256"]})
    try:
        return base64.b64decode(value.strip(), validate=True)
    except binascii.Error as exc:
        raise InvalidRequest("Upload-Checksum must be base64", {}) from exc
