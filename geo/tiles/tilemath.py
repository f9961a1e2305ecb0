"""Web Mercator tile arithmetic on numpy arrays.

World coordinates are Web Mercator scaled to the unit square, x to the east and y to the
south (so tile (z, x, y) is ``[x, x + 1] / 2**z`` by ``[y, y + 1] / 2**z``). Points are also
given a Morton (Z-order) key on a 2**24 grid: every tile of zoom ≤ 24 is then one contiguous
range of keys, so selecting a tile's points from a key-sorted array is two binary searches.
"""

from __future__ import annotations

import math

import numpy as np

KEY_ZOOM = 24
MAX_LAT = 85.0511287798066


def lonlat_to_world(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-square Web Mercator coordinates (y down) of lon/lat degrees."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.clip(np.asarray(lat, dtype=np.float64), -MAX_LAT, MAX_LAT)
    x = (lon + 180.0) / 360.0
    y = 0.5 - np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) / (2 * np.pi)
    return x, y


def world_to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`lonlat_to_world`."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lon = x * 360.0 - 180.0
    lat = np.degrees(2 * np.arctan(np.exp((0.5 - y) * 2 * np.pi)) - np.pi / 2)
    return lon, lat


def tile_bounds_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north of a tile in degrees."""
    n = 2.0**z
    lon, lat = world_to_lonlat(np.array([x / n, (x + 1) / n]), np.array([(y + 1) / n, y / n]))
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The tile of zoom ``z`` that holds a point."""
    wx, wy = lonlat_to_world(np.array([lon]), np.array([lat]))
    n = 2**z
    return min(int(wx[0] * n), n - 1), min(int(wy[0] * n), n - 1)


def _spread(v: np.ndarray) -> np.ndarray:
    """Bits of 32-bit integers moved to the even positions of 64-bit ones."""
    v = v.astype(np.uint64) & np.uint64(0xFFFFFFFF)
    for shift, mask in (
        (16, 0x0000FFFF0000FFFF),
        (8, 0x00FF00FF00FF00FF),
        (4, 0x0F0F0F0F0F0F0F0F),
        (2, 0x3333333333333333),
        (1, 0x5555555555555555),
    ):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def morton(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Z-order keys (int64) of integer grid positions (x in the even bits, y in the odd)."""
    result: np.ndarray = (
        _spread(np.asarray(ix)) | (_spread(np.asarray(iy)) << np.uint64(1))
    ).astype(np.int64)
    return result


def world_keys(wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """Morton keys of world coordinates on the 2**KEY_ZOOM grid."""
    n = 2**KEY_ZOOM
    ix = np.clip((np.asarray(wx) * n).astype(np.int64), 0, n - 1)
    iy = np.clip((np.asarray(wy) * n).astype(np.int64), 0, n - 1)
    return morton(ix, iy)


def buffered_ranges(z: int, x: int, y: int, buffer_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Key ranges ``[lo, hi)`` of a tile and of the strips around it that are
    ``2**-buffer_bits`` of a tile wide (the tiles of zoom ``z + buffer_bits`` along its
    edges and corners). The tile itself comes first."""
    level = z + buffer_bits
    if level > KEY_ZOOM:
        raise ValueError(f"zoom {z} with a buffer of 2**-{buffer_bits} exceeds the key grid")
    n, side = 2**level, 2**buffer_bits
    inner = np.arange(side)
    x0, y0 = x * side, y * side
    sx = np.concatenate([np.full(side, x0 - 1), np.full(side, x0 + side), x0 + inner, x0 + inner])
    sy = np.concatenate([y0 + inner, y0 + inner, np.full(side, y0 - 1), np.full(side, y0 + side)])
    cx = np.array([x0 - 1, x0 + side, x0 - 1, x0 + side])
    cy = np.array([y0 - 1, y0 - 1, y0 + side, y0 + side])
    sx, sy = np.concatenate([sx, cx]), np.concatenate([sy, cy])
    ok = (sx >= 0) & (sx < n) & (sy >= 0) & (sy < n)
    shift = 2 * (KEY_ZOOM - level)
    strips = morton(sx[ok], sy[ok]) << shift
    tile_shift = 2 * (KEY_ZOOM - z)
    lo = np.concatenate([[int(morton(np.array([x]), np.array([y]))[0]) << tile_shift], strips])
    hi = lo + np.concatenate([[1 << tile_shift], np.full(strips.size, 1 << shift)])
    return lo.astype(np.int64), hi.astype(np.int64)


def gather(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, e)`` for every pair (one vectorised pass)."""
    counts = np.maximum(ends - starts, 0)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    result: np.ndarray = np.arange(total, dtype=np.int64) + offsets
    return result


def center_zoom(bounds: tuple[float, float, float, float], lo: int, hi: int) -> int:
    """A zoom at which the bounds fill a 512-pixel view (clamped to [lo, hi])."""
    wx, wy = lonlat_to_world(np.array(bounds[::2]), np.array(bounds[1::2]))
    span = max(float(np.ptp(wx)), float(np.ptp(wy)), 1e-9)
    return max(lo, min(hi, math.floor(math.log2(2.0 / span))))
