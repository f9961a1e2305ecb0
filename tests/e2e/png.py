"""Just enough PNG decoding to read screenshot pixels (8-bit RGB/RGBA, not interlaced)."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def decode(data: bytes) -> np.ndarray:
    """An (height, width, 3) uint8 array of a Chromium screenshot."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.int32)
    for y in range(height):
        out[y] = _unfilter(
            rows[y, 0], rows[y, 1:].astype(np.int32), out[y - 1] if y else None, channels
        )
    return out.reshape(height, width, channels)[:, :, :3].astype(np.uint8)


def _unfilter(kind: int, line: np.ndarray, prev: np.ndarray | None, bpp: int) -> np.ndarray:
    up = prev if prev is not None else np.zeros_like(line)
    if kind == 0:
        return line
    if kind == 2:
        added: np.ndarray = (line + up) % 256
        return added
    out = line.copy()
    for x in range(line.size):
        left = out[x - bpp] if x >= bpp else 0
        if kind == 1:
            out[x] = (line[x] + left) % 256
        elif kind == 3:
            out[x] = (line[x] + (left + up[x]) // 2) % 256
        else:
            upleft = up[x - bpp] if x >= bpp else 0
            p = left + up[x] - upleft
            pa, pb, pc = abs(p - left), abs(p - up[x]), abs(p - upleft)
            pred = left if pa <= pb and pa <= pc else (up[x] if pb <= pc else upleft)
            out[x] = (line[x] + pred) % 256
    return out
