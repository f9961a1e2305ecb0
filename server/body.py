"""Reading request bodies within limits: media type, size as sent, encoding, size after
decompression (the JSON nesting depth is checked where the JSON is parsed, ``load_json``)."""

from __future__ import annotations

import zlib
from typing import Any

from starlette.requests import Request

from sync.errors import (
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedEncoding,
    UnsupportedMediaType,
)
from sync.wire_json import load_json

_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
_CHARSETS = ("utf-8", "utf8")


async def read_json(request: Request, max_bytes: int, max_decompressed: int) -> Any:
    """The JSON value of the body; refuses oversized, badly encoded and bomb bodies."""
    return load_json(await read_body(request, max_bytes, max_decompressed))


async def read_body(request: Request, max_bytes: int, max_decompressed: int) -> bytes:
    """The body, decompressed; refuses oversized, badly encoded and bomb bodies."""
    check_media_type(request.headers.get("content-type"))
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in _WBITS and encoding not in ("", "identity"):
        raise UnsupportedEncoding(
            "unsupported Content-Encoding",
            {"encoding": encoding[:40], "supported": ["gzip", "deflate"]},
        )
    raw = await read_capped(request, max_bytes)
    if encoding in _WBITS:
        raw = _decompress(raw, _WBITS[encoding], max_decompressed)
    elif len(raw) > max_decompressed:
        raise PayloadTooLarge("the body is too large", {"max_bytes": max_decompressed})
    return raw


def check_media_type(content_type: str | None) -> None:
    """Only ``application/json`` (UTF-8) bodies are read: a form or text body is a client
    error to say, not something to parse as JSON by chance."""
    media, _, params = (content_type or "").partition(";")
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media.strip().lower() != "application/json" or charset not in _CHARSETS:
        raise UnsupportedMediaType(
            "the body must be JSON sent as Content-Type: application/json",
            {"content_type": (content_type or "")[:80], "supported": ["application/json"]},
        )


async def read_capped(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge("the body is too large", {"max_bytes": max_bytes})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge("the body is too large", {"max_bytes": max_bytes})
        chunks.append(chunk)
    return b"".join(chunks)


def _decompress(raw: bytes, wbits: int, limit: int) -> bytes:
    # Decompress at most limit+1 bytes: a bomb is refused without ever being inflated.
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise InvalidRequest("the compressed body is corrupt", {"reason": str(exc)[:80]}) from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(
            "the body is too large once decompressed", {"max_decompressed_bytes": limit}
        )
    if not inflater.eof:
        raise InvalidRequest("the compressed body is truncated")
    return out
