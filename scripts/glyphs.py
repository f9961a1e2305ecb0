"""Refresh the map's label glyphs: server/static/glyphs/<font>/<range>.pbf.

MapLibre draws text from glyph PBFs (signed distance fields of each character, 24 px, a
3 px buffer, MapLibre's "glyphs" format) that it asks the server for; nothing may come from
another host, and no registry we can reach ships them. So they are made here from a font
of the machine: DejaVu Sans (Debian's fonts-dejavu-core, which scripts/system-deps
installs), rendered with Pillow's FreeType and turned into distance fields with scipy.

The result is committed; run this only to change the font or the ranges:

    .venv/bin/python scripts/glyphs.py

Each glyph follows node-fontnik, the reference generator: the outline's box rounded to
whole pixels at 24 px (``left``, ``top`` above the baseline, ``width``, ``height``), a
bitmap of (width + 6) x (height + 6) bytes whose value is 255 - clamp(d * 256 / 8 + 64),
d the distance in pixels from the pixel's centre to the outline (negative inside), so the
outline sits at 191 as MapLibre's shader expects.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import distance_transform_edt

REPO = Path(__file__).resolve().parent.parent
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LICENCE = Path("/usr/share/doc/fonts-dejavu-core/copyright")
STACK = "DejaVuSans"  # the name styles use in "text-font"
OUT = REPO / "server" / "static" / "glyphs" / STACK
SIZE, BUFFER, RADIUS, CUTOFF = 24, 3, 8, 0.25
SCALE = 8  # drawn 8 times larger, then sampled at each pixel's centre
# Latin (Spanish and every other Latin-script name), its extensions and punctuation; other
# ranges are answered empty by the server (server/web/glyphs.py).
RANGES = [(0, 255), (256, 511), (7680, 7935), (8192, 8447)]


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint((field << 3) | wire)


def uint(field: int, n: int) -> bytes:
    return key(field, 0) + varint(n)


def sint(field: int, n: int) -> bytes:
    return key(field, 0) + varint((n << 1) ^ (n >> 63))  # zigzag


def blob(field: int, data: bytes) -> bytes:
    return key(field, 2) + varint(len(data)) + data


def glyph(code: int, big: ImageFont.FreeTypeFont, small: ImageFont.FreeTypeFont) -> bytes:
    char = chr(code)
    advance = round(small.getlength(char))
    x0, y0, x1, y1 = big.getbbox(char, anchor="ls")  # y down, 0 on the baseline
    left, right = round(x0 / SCALE), round(x1 / SCALE)
    top, bottom = round(-y0 / SCALE), round(-y1 / SCALE)
    width, height = right - left, top - bottom
    fields = uint(1, code)
    if width > 0 and height > 0:
        fields += blob(2, sdf(char, big, left, top, width, height))
    else:
        width = height = 0
    return (
        fields + uint(3, width) + uint(4, height) + sint(5, left) + sint(6, top) + uint(7, advance)
    )


def sdf(char: str, big: ImageFont.FreeTypeFont, left: int, top: int, w: int, h: int) -> bytes:
    """The distance field of ``char`` on its (w + 6) x (h + 6) pixel box, top row first."""
    cols, rows = w + 2 * BUFFER, h + 2 * BUFFER
    image = Image.new("L", (cols * SCALE, rows * SCALE), 0)
    origin = ((BUFFER - left) * SCALE, (top + BUFFER) * SCALE)  # the baseline's start
    ImageDraw.Draw(image).text(origin, char, font=big, fill=255, anchor="ls")
    inside = np.asarray(image) >= 128
    outside_d = distance_transform_edt(~inside)  # to the nearest inside pixel
    inside_d = distance_transform_edt(inside)
    signed = (outside_d - inside_d) / SCALE  # pixels at 24 px, negative inside
    centre = SCALE // 2
    d = signed[centre::SCALE, centre::SCALE][:rows, :cols]
    value = 255 - np.clip(d * 256 / RADIUS + CUTOFF * 256, 0, 255)
    return np.floor(value).astype(np.uint8).tobytes()


def drawn(char: str, small: ImageFont.FreeTypeFont) -> bytes:
    image = Image.new("L", (3 * SIZE, 2 * SIZE), 0)
    ImageDraw.Draw(image).text((SIZE, SIZE), char, font=small, fill=255, anchor="ls")
    return image.tobytes()


def covered(code: int, small: ImageFont.FreeTypeFont, missing: bytes) -> bool:
    """Whether the font has its own glyph for ``code`` (not the .notdef box)."""
    if code < 32 or 127 <= code < 160:
        return False
    return code == 32 or drawn(chr(code), small) != missing


def build_range(start: int, end: int) -> bytes:
    big = ImageFont.truetype(str(FONT), SIZE * SCALE, layout_engine=ImageFont.Layout.BASIC)
    small = ImageFont.truetype(str(FONT), SIZE, layout_engine=ImageFont.Layout.BASIC)
    missing = drawn("\U000f0000", small)  # a private-use code: the .notdef box
    glyphs = b"".join(
        blob(3, glyph(code, big, small))
        for code in range(start, end + 1)
        if covered(code, small, missing)
    )
    stack = blob(1, STACK.encode()) + blob(2, f"{start}-{end}".encode()) + glyphs
    return blob(1, stack)


def package_version() -> str:
    found = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "fonts-dejavu-core"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or "unknown"


def main() -> None:
    if not FONT.exists():
        sys.exit(f"{FONT} is missing: scripts/system-deps installs fonts-dejavu-core")
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.pbf"):
        old.unlink()
    lines = []
    for start, end in RANGES:
        path = OUT / f"{start}-{end}.pbf"
        path.write_bytes(build_range(start, end))
        lines.append(f"{path.name}: {hashlib.sha256(path.read_bytes()).hexdigest()}")
        print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes)")
    shutil.copyfile(LICENCE, OUT / "LICENSE")
    font_hash = hashlib.sha256(FONT.read_bytes()).hexdigest()
    (OUT / "VERSION").write_text(
        "\n".join(
            [
                f"font: DejaVu Sans ({FONT.name}), Debian fonts-dejavu-core {package_version()}",
                f"font_sha256: {font_hash}",
                f"glyphs: signed distance fields, {SIZE} px, buffer {BUFFER}, radius {RADIUS}, "
                f"cutoff {CUTOFF}",
                "license: Bitstream Vera Fonts licence (DejaVu changes public domain), LICENSE",
                "refresh: .venv/bin/python scripts/glyphs.py",
                *lines,
                "",
            ]
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
