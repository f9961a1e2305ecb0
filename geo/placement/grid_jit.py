"""The grid step of :class:`geo.placement.polygons.PolygonIndex`, compiled: one pass over the points
reads each point's answer from the two-level lookup grid (numpy took some fifteen passes
over temporary arrays per layer, most of a push's placement time once the grid was fine
enough that few points need an exact test).

The arithmetic is numpy's (the same float division, truncation and index formulas), so a
point lands in exactly the grid cell that ``PolygonIndex`` built its answer for.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# The same values as geo.placement.polygons' constants (tests/geo/test_placement_grid.py checks)
MIXED = -2  # the grid cell (and sub-cell) is crossed by a boundary: test the point exactly
OFF_GRID = -4  # finite, outside the grid: the caller checks the edge
INSIDE, OUT, MISSING = 0, 2, 3  # flags as in geo.placement.polygons (NEAREST = 1 is decided later)


@njit(cache=True, nogil=True)
def grid_lookup(
    lon: np.ndarray,
    lat: np.ndarray,
    x0: float,
    y0: float,
    fstep: float,
    nx: int,
    ny: int,
    sub: int,
    grid: np.ndarray,
    slot: np.ndarray,
    fine: np.ndarray,
    far: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(value, flag) per point. Value: the grid's answer (polygon index, OUTSIDE, FAR or
    MIXED), ``far`` for non-finite coordinates (flag MISSING), OFF_GRID beyond the grid."""
    n = lon.size
    value = np.empty(n, dtype=np.int64)
    flag = np.empty(n, dtype=np.int8)
    width, height = nx * sub, ny * sub
    per_block = sub * sub
    for i in range(n):
        x, y = lon[i], lat[i]
        if not (np.isfinite(x) and np.isfinite(y)):
            value[i] = far
            flag[i] = MISSING
            continue
        fx = (x - x0) / fstep
        fy = (y - y0) / fstep
        if not (fx >= 0 and fx < width and fy >= 0 and fy < height):
            value[i] = OFF_GRID
            flag[i] = OUT
            continue
        ix, iy = int(fx), int(fy)
        cx, cy = ix // sub, iy // sub
        c = cy * nx + cx
        v = grid[c]
        if v == MIXED:
            v = fine[slot[c] * per_block + (iy - cy * sub) * sub + (ix - cx * sub)]
        value[i] = v
        flag[i] = INSIDE if v >= 0 else OUT
    return value, flag
