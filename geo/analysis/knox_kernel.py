"""The compiled inner loops of the Knox test: close pairs, and their band counts under date
permutations.

A city's 100,000 incidents have tens of millions of pairs within 500 m; times 99
permutations that is billions of look-ups, and numpy spends several passes over memory per
permutation (seconds each).  So the loops are compiled with numba:

- pairs come from a grid of cells as wide as the largest distance band (each point meets
  its own cell and four forward neighbours), stored as CSR: the neighbours ``j > i`` of
  point ``i`` with their space band, points being sorted by cell so neighbours are near in
  memory;
- counting keeps each point's dates under all permutations side by side (a points x
  permutations table), so a pair is read once for every permutation; blocks of points run
  in parallel, each with its own tables (no locks);
- per pair, the counts are cumulative: for each time-band edge ``e`` (``t``, ``2t``, ...
  ``mt`` days) and each permutation, whether the day difference is ``<= e``. That is a
  compare and an add over a row of permutations, which the compiler turns into SIMD
  instructions, where a scatter into one counter per (permutation, band) could not be
  vectorised: 2.4x less CPU. The bands are the differences of successive edges, and
  ``more than mt`` is the pairs of the space band minus those within ``mt``.
- the close-pair scan runs its points in parallel too (each point writes only its own
  part of the CSR).
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

# One parallel count at a time: numba's fallback threading layer (workqueue, when neither
# OpenMP nor TBB is installed) aborts the process on concurrent launches, and one count
# already keeps every core busy. The server runs these in worker threads.
_LAUNCH = threading.Lock()
BLOCKS = 64  # blocks of points (of about equal pair counts) shared out among the threads


@njit(parallel=True, cache=True, nogil=True)
def _cell_scan(
    x: np.ndarray,
    y: np.ndarray,
    cell_start: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    nx: int,
    ny: int,
    limit: float,
    width: int,
    n_space: int,
    ptr: np.ndarray,
    nbr: np.ndarray,
    row: np.ndarray,
    fill: bool,
) -> None:  # pragma: no cover - compiled; checked against plain loops in the tests
    # Forward half-neighbourhood: same cell (j > i), east, and the three cells of the next row.
    # (arrays, not a tuple of tuples: a parallel loop cannot take the latter)
    off_x = np.array((0, 1, -1, 0, 1), dtype=np.int64)
    off_y = np.array((0, 0, 1, 1, 1), dtype=np.int64)
    n = x.shape[0]
    for i in prange(n):
        k = ptr[i] if fill else 0
        for q in range(5):
            ox, oy = off_x[q], off_y[q]
            gx, gy = cx[i] + ox, cy[i] + oy
            if gx < 0 or gx >= nx or gy >= ny:
                continue
            c = gy * nx + gx
            lo = i + 1 if (ox == 0 and oy == 0) else cell_start[c]
            for j in range(lo, cell_start[c + 1]):
                dx = x[i] - x[j]
                dy = y[i] - y[j]
                dist = np.sqrt(dx * dx + dy * dy)
                if dist < limit:
                    if fill:
                        metres = int(np.floor(dist))
                        nbr[k] = j
                        row[k] = min((metres + width - 1) // width, n_space + 1)
                    k += 1
        if not fill:
            ptr[i + 1] = k  # this point's count; the caller sums them into offsets


def close_pairs_csr(
    x: np.ndarray, y: np.ndarray, distance_m: int, n_space: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points sorted by grid cell, and the CSR of their close pairs.

    Returns ``order`` (sorted position -> input index), ``ptr``, ``nbr`` (sorted positions
    ``j > i``) and ``row`` (space band) of every pair whose whole-metre distance is at most
    ``n_space * distance_m``.
    """
    limit = float(n_space * distance_m + 1)  # floor(d) <= n*d  <=>  d < n*d + 1
    n = x.size
    x0, y0 = (float(x.min()), float(y.min())) if n else (0.0, 0.0)
    gx = ((x - x0) // limit).astype(np.int64)
    gy = ((y - y0) // limit).astype(np.int64)
    nx = int(gx.max()) + 1 if n else 1
    ny = int(gy.max()) + 1 if n else 1
    key = gy * nx + gx
    order = np.argsort(key, kind="stable")
    key = key[order]
    cell_start = np.searchsorted(key, np.arange(nx * ny + 1)).astype(np.int64)
    xs, ys = x[order], y[order]
    cx, cy = gx[order], gy[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    empty32, empty8 = np.zeros(0, np.int32), np.zeros(0, np.uint8)
    args = (xs, ys, cell_start, cx, cy, nx, ny, limit, int(distance_m), int(n_space))
    with _LAUNCH:
        _cell_scan(*args, ptr, empty32, empty8, False)
    np.cumsum(ptr, out=ptr)
    nbr = np.empty(int(ptr[-1]), dtype=np.int32)
    row = np.empty(int(ptr[-1]), dtype=np.uint8)
    with _LAUNCH:
        _cell_scan(*args, ptr, nbr, row, True)
    return order, ptr, nbr, row


@njit(parallel=True, cache=True, nogil=True)
def _count_within(
    blocks: np.ndarray,
    ptr: np.ndarray,
    nbr: np.ndarray,
    row: np.ndarray,
    dates_t: np.ndarray,
    edges: np.ndarray,
    n_rows: int,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled; checked against loops
    """within[row, e, k]: pairs of the space band ``row`` whose day difference under
    permutation ``k`` is at most ``edges[e]``; and the pairs of each space band."""
    n_perm = dates_t.shape[1]
    n_edges = edges.shape[0]
    n_blocks = blocks.shape[0] - 1
    out = np.zeros((n_blocks, n_rows, n_edges, n_perm), dtype=np.int64)
    pairs = np.zeros((n_blocks, n_rows), dtype=np.int64)
    for b in prange(n_blocks):
        # int32 is enough: a block holds about 1/BLOCKS of the pairs (200,000 points have
        # at most 2e10 pairs, 3e8 a block).
        acc = np.zeros((n_rows, n_edges, n_perm), dtype=np.int32)
        diff = np.empty(n_perm, dtype=np.int32)
        for i in range(blocks[b], blocks[b + 1]):
            di = dates_t[i]
            for p in range(ptr[i], ptr[i + 1]):
                # One point's dates under every permutation sit side by side: a pair costs
                # a few cache lines however many permutations there are, and each row of
                # permutations is one run of SIMD compares and adds.
                dj = dates_t[nbr[p]]
                r = row[p]
                pairs[b, r] += 1
                for k in range(n_perm):
                    diff[k] = abs(np.int32(di[k]) - np.int32(dj[k]))
                for e in range(n_edges):
                    limit = edges[e]
                    for k in range(n_perm):
                        acc[r, e, k] += np.int32(diff[k] <= limit)
        out[b] = acc
    return out.sum(axis=0), pairs.sum(axis=0)


def band_counts(
    ptr: np.ndarray,
    nbr: np.ndarray,
    row: np.ndarray,
    dates: np.ndarray,
    days: int,
    n_time: int,
    n_rows: int,
) -> np.ndarray:
    """Counts[k, row, column] of the CSR pairs under each date vector ``dates[k]``.

    ``dates`` (non-negative day numbers) are in the pairs' (sorted) point order. Column
    ``c < n_time`` holds day differences ``c*days+1 .. (c+1)*days`` (``0 .. days`` for the
    first), column ``n_time`` the larger ones.
    """
    n = ptr.size - 1
    # Blocks of points holding about equal numbers of pairs, several per thread.
    size = max(1, int(ptr[-1]) // BLOCKS + 1)
    edges = np.searchsorted(ptr, np.arange(0, int(ptr[-1]) + size, size), side="left")
    blocks = np.unique(np.clip(np.concatenate([[0], edges, [n]]), 0, n)).astype(np.int64)
    small = dates.size == 0 or int(dates.max()) < np.iinfo(np.int16).max
    dates_t = np.ascontiguousarray(dates.T, dtype=np.int16 if small else np.int32)
    limits = (np.arange(1, n_time + 1, dtype=np.int64) * int(days)).astype(np.int32)
    with _LAUNCH:
        within, pairs = _count_within(blocks, ptr, nbr, row, dates_t, limits, int(n_rows))
    within = within.transpose(2, 0, 1)  # permutation, space band, edge
    tables = np.empty((dates.shape[0], int(n_rows), n_time + 1), dtype=np.int64)
    tables[:, :, 0] = within[:, :, 0]
    tables[:, :, 1:n_time] = np.diff(within, axis=2)
    tables[:, :, n_time] = pairs[None, :] - within[:, :, -1]
    return tables
