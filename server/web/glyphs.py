"""Label glyphs for the chief's map: ``/glyphs/{fontstack}/{start}-{end}.pbf``.

MapLibre draws street names from glyph PBFs (signed distance fields, 256 characters a
file) that it asks for by font and range. They are made from DejaVu Sans by
``scripts/glyphs.py`` and kept under ``server/static/glyphs`` with the font's licence; no
request leaves this server. A range we do not ship (a script DejaVu Sans has no letters
for) is answered with an empty glyph set, so MapLibre leaves those characters out instead
of failing the label; an unknown font is 404.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync.errors import NotFound

GLYPHS = Path(__file__).resolve().parent.parent / "static" / "glyphs"
RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
MEDIA = "application/x-protobuf"


@cache
def fonts() -> frozenset[str]:
    return (
        frozenset(p.name for p in GLYPHS.iterdir() if p.is_dir())
        if GLYPHS.is_dir()
        else frozenset()
    )


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _text(field: int, value: str) -> bytes:
    data = value.encode()
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def empty_range(font: str, start: int, end: int) -> bytes:
    """A glyph set with no glyphs: ``glyphs { stacks { name, range } }``."""
    stack = _text(1, font) + _text(2, f"{start}-{end}")
    return _varint(1 << 3 | 2) + _varint(len(stack)) + stack


@cache
def glyph_range(font: str, start: int, end: int) -> bytes:
    path = GLYPHS / font / f"{start}-{end}.pbf"
    return path.read_bytes() if path.is_file() else empty_range(font, start, end)


async def glyphs(request: Request) -> Response:
    # A comma-separated stack asks for fallbacks: the first font we have answers.
    stack = [name.strip() for name in request.path_params["fontstack"].split(",")]
    font = next((name for name in stack if name in fonts()), None)
    m = RANGE.match(request.path_params["range"])
    if font is None or m is None:
        raise NotFound("no such glyphs", {"fontstack": request.path_params["fontstack"][:80]})
    start, end = int(m.group(1)), int(m.group(2))
    if start % 256 or end != start + 255 or end > 65535:
        raise NotFound("glyph ranges are 256 characters: 0-255, 256-511, ...", {})
    # Glyphs change only with a new release of the server (a new scripts/glyphs.py run).
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(glyph_range(font, start, end), media_type=MEDIA, headers=headers)


routes = [Route("/glyphs/{fontstack}/{range}.pbf", glyphs, methods=["GET"])]
