"""Draw the app's icons (run once; the PNGs are committed): an amber shield on navy.

Pure Python (zlib + struct), so it needs nothing beyond the standard library:

    python3 server/static/app/icons/make_icons.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAVY = (11, 46, 79, 255)
AMBER = (255, 176, 0, 255)
CLEAR = (0, 0, 0, 0)


def inside(poly: list[tuple[float, float]], x: float, y: float) -> bool:
    hit = False
    j = len(poly) - 1
    for i, (xi, yi) in enumerate(poly):
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


def shield(size: int, pad: float) -> list[tuple[float, float]]:
    w = size - 2 * pad
    left, right = pad + w * 0.14, pad + w * 0.86
    top, bottom = pad + w * 0.06, pad + w * 0.96
    shoulder = top + (bottom - top) * 0.55
    return [(left, top), (right, top), (right, shoulder), (size / 2, bottom), (left, shoulder)]


def pixel(size: int, maskable: bool, x: float, y: float) -> tuple[int, int, int, int]:
    pad = size * (0.2 if maskable else 0.06)  # maskable: inside the central safe zone
    r = size * 0.18
    if not maskable:  # rounded square
        cx = min(max(x, r), size - r)
        cy = min(max(y, r), size - r)
        if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
            return CLEAR
    outer = shield(size, pad)
    if not inside(outer, x, y):
        return NAVY
    # A navy chevron across the shield: "ronda" (the patrol round) as a mark.
    w = size - 2 * pad
    band = w * 0.11
    cy = pad + w * 0.45 + abs(x - size / 2) * -0.5
    if cy - band < y < cy + band:
        return NAVY
    return AMBER


def png(size: int, maskable: bool) -> bytes:
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")
        for x in range(size):
            row.extend(pixel(size, maskable, x + 0.5, y + 0.5))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    body = zlib.compress(b"".join(rows), 9)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def main() -> None:
    (HERE / "icon-192.png").write_bytes(png(192, False))
    (HERE / "icon-512.png").write_bytes(png(512, False))
    (HERE / "maskable-512.png").write_bytes(png(512, True))


if __name__ == "__main__":
    main()
