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
    error to say, not something to parse as JSON by chance. The one parameter allowed is a
    UTF-8 ``charset``: another one would ask for something the server does not do."""
    media, _, params = (content_type or "").partition(";")
    charset = "utf-8"
    known = True
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
        elif param.strip():  # an empty one ("application/json;") is allowed by RFC 9110
            known = False
    if media.strip().lower() != "application/json" or charset not in _CHARSETS or not known:
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


# A gzip body is a series of members (RFC 1952, 2.2), each starting with these two bytes.
GZIP_MAGIC = b"\x1f\x8b"
# Members after the first are fed in pieces growing from MIN_PIECE: zlib copies the bytes
# after a member's end, so feeding the whole rest would make many tiny members quadratic.
MIN_PIECE, MAX_PIECE = 64, 1 << 20


def _decompress(raw: bytes, wbits: int, limit: int) -> bytes:
    """Every member of the body inflated, at most ``limit`` bytes in all (a bomb is refused
    without ever being inflated); anything after the last member is corrupt."""
    inflater = zlib.decompressobj(wbits)
    out = _inflate(inflater, raw, 0, limit)
    if not inflater.eof:
        raise InvalidRequest("the compressed body is truncated")
    if not inflater.unused_data:
        return out  # the usual body: one member, inflated in one call
    if wbits != _WBITS["gzip"]:  # zlib (deflate) has one stream and nothing after it
        raise InvalidRequest("the compressed body has bytes after its end")
    return out + _more_members(memoryview(inflater.unused_data), len(out), limit)


def _more_members(rest: memoryview, used: int, limit: int) -> bytes:
    """The gzip members in ``rest``, inflated (``used`` bytes of ``limit`` already are)."""
    parts: list[bytes] = []
    start = 0
    while start < len(rest):
        if rest[start : start + 2] != GZIP_MAGIC:
            raise InvalidRequest("the compressed body has bytes after its last gzip member")
        inflater, piece = zlib.decompressobj(_WBITS["gzip"]), MIN_PIECE
        while not inflater.eof:
            if start >= len(rest):
                raise InvalidRequest("the compressed body is truncated")
            chunk = rest[start : start + piece]
            parts.append(_inflate(inflater, chunk, used, limit))
            used += len(parts[-1])
            start += len(chunk) - len(inflater.unused_data)
            piece = min(piece * 2, MAX_PIECE)
    return b"".join(parts)


def _inflate(inflater: Any, data: bytes | memoryview, used: int, limit: int) -> bytes:
    """What ``data`` inflates to, refused once the body's ``used`` bytes would pass ``limit``."""
    room = limit - used
    try:
        out: bytes = inflater.decompress(data, room + 1)
    except zlib.error as exc:
        raise InvalidRequest("the compressed body is corrupt", {"reason": str(exc)[:80]}) from exc
    if len(out) > room or inflater.unconsumed_tail:
        raise PayloadTooLarge(
            "the body is too large once decompressed", {"max_decompressed_bytes": limit}
        )
    return out
