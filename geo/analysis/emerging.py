"""Emerging hot spots: space-time Gi*, Mann-Kendall trend, and ArcGIS's pattern categories.

Space-time cube: T slices of ``slice_s`` seconds ending at ``end`` (the last slice is the most
recent), cells of the study area. A bin's neighbours are its spatial k-ring (self included)
in the same slice and in the ``time_k`` previous slices, like ArcGIS's "neighborhood time
step". Gi* uses the mean and standard deviation of all T·n bins (see :mod:`geo.analysis.hotspots`).

A bin is a significant hot (cold) spot when z > 0 (z < 0) and its p-value — BH-adjusted over
all bins when ``fdr`` — is at most ``alpha``. The Mann-Kendall test runs on each cell's
series of Gi* z-scores. Categories (ArcGIS Emerging Hot Spot Analysis), per cell, with
"hot" read as "cold" for the mirrored ones; ``90 %`` means at least 90 % of the T slices:

- new: hot in the final slice and never hot before.
- consecutive: a single uninterrupted run of ≥ 2 hot slices ending at the final slice,
  never hot before the run, hot in < 90 % of slices.
- intensifying: hot in ≥ 90 % of slices including the final one; MK trend of z up (p ≤ alpha).
- persistent: hot in ≥ 90 % of slices including the final one; no significant trend.
- diminishing: hot in ≥ 90 % of slices including the final one; MK trend of z down.
- sporadic: hot in the final slice, on and off before, < 90 % hot, never cold.
- oscillating: hot in the final slice, < 90 % hot, cold in some earlier slice.
- historical: not hot in the final slice, hot in ≥ 90 % of slices.
- no pattern: none of the above, hot or cold.

Extension (not ArcGIS; off with ``extended=False``): ArcGIS has no category for a place that
was hot for a while and then stopped, when it was hot in fewer than 90 % of the slices — it
says "no pattern". We call it **fading hot spot**: not a category above, hot in at least 2
slices, none of them in the last 10 % of the slices (at least the final one), and the MK
trend of z significantly downward (mirrored: fading cold spot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, special

from geo.analysis.hotspots import ALGORITHM_VERSION, area_positions, bh_adjust, p_two_sided
from geo.analysis.weights import kring_weights, study_cells
from geo.errors import BadParameterError, InvalidInputError
from geo.grid.cells import CellSpec, bin_incidents

WEEK_S = 7 * 86400
PATTERNS = (
    "no pattern",
    "new hot spot",
    "consecutive hot spot",
    "intensifying hot spot",
    "persistent hot spot",
    "diminishing hot spot",
    "sporadic hot spot",
    "oscillating hot spot",
    "historical hot spot",
    "new cold spot",
    "consecutive cold spot",
    "intensifying cold spot",
    "persistent cold spot",
    "diminishing cold spot",
    "sporadic cold spot",
    "oscillating cold spot",
    "historical cold spot",
    "fading hot spot",
    "fading cold spot",
)
_COLD = 8  # code of a cold pattern = code of the hot one + 8
_FADING = 17  # fading hot spot; fading cold spot is 18


def space_time_gi(counts: np.ndarray, w: sparse.spmatrix, time_k: int = 1) -> np.ndarray:
    """Gi* z of every bin of a (T, n) count cube; neighbours are the spatial ``w`` (self
    included) in the same and the ``time_k`` previous slices. 0 where undefined."""
    y = np.asarray(counts, dtype=np.float64)
    n_t, n = y.shape
    big_n = n_t * n
    if big_n < 2:
        return np.zeros_like(y)
    w = sparse.csr_matrix(w)
    card_s = np.asarray(w.sum(axis=1)).ravel()
    spatial = np.asarray((w @ y.T).T)  # (T, n) spatial lag within each slice
    csum = np.cumsum(spatial, axis=0)
    lag = csum.copy()
    lag[time_k + 1 :] -= csum[: n_t - time_k - 1]
    depth = np.minimum(np.arange(n_t), time_k) + 1.0  # slices in the window at each t
    card = depth[:, None] * card_s[None, :]
    mean = y.mean()
    s = np.sqrt(max(float((y * y).mean()) - mean * mean, 0.0))
    den = s * np.sqrt(np.maximum(big_n * card - card * card, 0.0) / (big_n - 1))
    ok = den > 1e-12 * max(s, 1.0)
    result: np.ndarray = np.divide(lag - mean * card, den, out=np.zeros_like(y), where=ok)
    return result


def mann_kendall(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall test on each column of ``x`` (T, n): (S, tau, z, two-sided p).

    Variance with the tie correction; z with the continuity correction (S − sign S)."""
    x = np.asarray(x, dtype=np.float64)
    n_t, n = x.shape
    s = np.zeros(n)
    for d in range(1, n_t):
        s += np.sign(x[d:] - x[:-d]).sum(axis=0)
    var = np.full(n, n_t * (n_t - 1) * (2 * n_t + 5) / 18.0)
    if n_t > 1:
        xs = np.sort(x, axis=0)
        new_run = np.vstack([np.ones((1, n), bool), xs[1:] != xs[:-1]])
        run_id = np.cumsum(new_run, axis=0) - 1 + np.arange(n)[None, :] * n_t
        tl = np.bincount(run_id.ravel(), minlength=n * n_t).reshape(n, n_t).astype(np.float64)
        var -= (tl * (tl - 1) * (2 * tl + 5)).sum(axis=1) / 18.0
    z = np.divide(s - np.sign(s), np.sqrt(np.maximum(var, 0.0)), out=np.zeros(n), where=var > 0)
    pairs = n_t * (n_t - 1) / 2.0
    tau = s / pairs if pairs else np.zeros(n)
    return s, tau, z, 2.0 * special.ndtr(-np.abs(z))


def _side_pattern(sig: np.ndarray, other: np.ndarray, trend: np.ndarray) -> np.ndarray:
    """Hot-side codes 0..8 from (T, n) significance of this side and of the other side;
    ``trend`` is +1/-1/0 for a significant MK trend in this side's direction."""
    n_t = sig.shape[0]
    final = sig[-1]
    n_sig = sig.sum(axis=0)
    ninety = n_sig >= 0.9 * n_t
    # length of the run of significant slices ending at the final slice
    not_sig_rev = ~sig[::-1]
    run = np.where(not_sig_rev.any(axis=0), np.argmax(not_sig_rev, axis=0), n_t)
    only_run = n_sig == run  # never significant before the final run
    any_other = other[:-1].any(axis=0)
    code = np.zeros(sig.shape[1], dtype=np.int8)
    code[final & ~ninety & (run >= 2) & only_run] = 2
    code[final & ~ninety & ~only_run & ~any_other] = 6
    code[final & ~ninety & ~only_run & any_other] = 7
    code[final & (n_sig == 1)] = 1
    code[final & ninety] = 4
    code[final & ninety & (trend > 0)] = 3
    code[final & ninety & (trend < 0)] = 5
    code[~final & ninety] = 8
    return code


def _fading(sig: np.ndarray, trend: np.ndarray) -> np.ndarray:
    n_t = sig.shape[0]
    recent = max(1, int(np.ceil(0.1 * n_t)))
    result: np.ndarray = (sig.sum(axis=0) >= 2) & ~sig[-recent:].any(axis=0) & (trend < 0)
    return result


def categorise(
    z: np.ndarray,
    p: np.ndarray,
    mk_z: np.ndarray,
    mk_p: np.ndarray,
    alpha: float,
    *,
    extended: bool = True,
) -> np.ndarray:
    """Pattern code per cell (index into :data:`PATTERNS`) from (T, n) z and p and MK results."""
    hot = (z > 0) & (p <= alpha)
    cold = (z < 0) & (p <= alpha)
    sig_trend = np.where(mk_p <= alpha, np.sign(mk_z), 0)
    hot_code = _side_pattern(hot, cold, sig_trend)
    cold_code = _side_pattern(cold, hot, -sig_trend)  # for cold, "intensifying" means down
    code = np.where(hot_code > 0, hot_code, np.where(cold_code > 0, cold_code + _COLD, 0))
    if extended:
        code = np.where((code == 0) & _fading(hot, sig_trend), _FADING, code)
        code = np.where((code == 0) & _fading(cold, -sig_trend), _FADING + 1, code)
    return code.astype(np.int8)


@dataclass(frozen=True)
class EmergingResult:
    """Emerging hot spot analysis per cell; (T, n) arrays are slice-major."""

    cells: np.ndarray  # int64, sorted
    slice_edges: np.ndarray  # int64 epoch seconds, T + 1 edges; slice t is [e[t], e[t+1])
    counts: np.ndarray  # (T, n) int32 incidents per slice and cell
    z: np.ndarray  # (T, n) space-time Gi* z
    p: np.ndarray  # (T, n) p used for significance (BH-adjusted when fdr)
    mk_tau: np.ndarray  # (n,) Mann-Kendall tau of the z series
    mk_z: np.ndarray
    mk_p: np.ndarray
    pattern: np.ndarray  # (n,) int8 index into ``patterns``
    patterns: tuple[str, ...]
    spec: CellSpec
    k: int
    time_k: int
    alpha: float
    fdr: bool
    extended: bool
    area_rule: str
    n_incidents: int
    version: str = ALGORITHM_VERSION

    def pattern_names(self) -> np.ndarray:
        """The category name of each cell."""
        result: np.ndarray = np.asarray(self.patterns, dtype=object)[self.pattern]
        return result


def compute_emerging(
    lon: np.ndarray,
    lat: np.ndarray,
    t: np.ndarray,
    category: np.ndarray,
    *,
    end: int | None = None,
    n_slices: int = 52,
    slice_s: int = WEEK_S,
    categories: list[int] | np.ndarray | None = None,
    grid: str = "h3",
    resolution: int | None = None,
    size_m: float | None = None,
    epsg: int | None = None,
    k: int = 1,
    time_k: int = 1,
    area: str | np.ndarray = "ring",
    alpha: float = 0.05,
    fdr: bool = True,
    extended: bool = True,
) -> EmergingResult:
    """Emerging hot spots over ``n_slices`` slices of ``slice_s`` seconds ending at ``end``
    (exclusive; default: one second after the last incident)."""
    t = np.asarray(t, dtype=np.int64)
    lon, lat = np.asarray(lon, np.float64), np.asarray(lat, np.float64)
    if not (lon.size == lat.size == t.size == np.asarray(category).size):
        raise InvalidInputError("lon, lat, t and category differ in length", {})
    if n_slices < 2 or slice_s <= 0 or time_k < 0 or not 0 < alpha < 1:
        raise BadParameterError(
            "need n_slices >= 2, slice_s > 0, time_k >= 0, 0 < alpha < 1",
            {"n_slices": n_slices, "slice_s": slice_s, "time_k": time_k, "alpha": alpha},
        )
    end = int(end) if end is not None else (int(t.max()) + 1 if t.size else 0)
    edges = end - slice_s * np.arange(n_slices, -1, -1, dtype=np.int64)
    mask = (t >= edges[0]) & (t < edges[-1])
    if categories is not None:
        mask &= np.isin(np.asarray(category), np.asarray(list(categories)))
    lon, lat, t = lon[mask], lat[mask], t[mask]
    spec, observed, inverse = bin_incidents(
        lon, lat, grid=grid, resolution=resolution, size_m=size_m, epsg=epsg
    )
    slot = (t - edges[0]) // slice_s
    return emerging_from_cells(
        observed[inverse],
        slot,
        np.ones(t.size, dtype=np.int64),
        spec,
        edges,
        k=k,
        time_k=time_k,
        area=area,
        alpha=alpha,
        fdr=fdr,
        extended=extended,
    )


def emerging_from_cells(
    cells_of: np.ndarray,
    slot_of: np.ndarray,
    count_of: np.ndarray,
    spec: CellSpec,
    edges: np.ndarray,
    *,
    k: int = 1,
    time_k: int = 1,
    area: str | np.ndarray = "ring",
    alpha: float = 0.05,
    fdr: bool = True,
    extended: bool = True,
) -> EmergingResult:
    """Emerging hot spots from counts already grouped by (cell, time slot).

    ``cells_of[i]``, ``slot_of[i]`` (0-based slice index within ``edges``) and
    ``count_of[i]`` describe row ``i``; rows outside the slices are ignored.
    """
    cells_of = np.asarray(cells_of, dtype=np.int64)
    slot_of = np.asarray(slot_of, dtype=np.int64)
    count_of = np.asarray(count_of, dtype=np.int64)
    n_t = edges.size - 1
    keep = (slot_of >= 0) & (slot_of < n_t)
    cells_of, slot_of, count_of = cells_of[keep], slot_of[keep], count_of[keep]
    cells, area_rule = study_cells(np.unique(cells_of), spec, area, k)
    pos, found = area_positions(cells_of, cells)
    flat = slot_of[found] * cells.size + pos[found]
    cube = np.bincount(flat, weights=count_of[found], minlength=n_t * cells.size)
    cube = cube.reshape(n_t, cells.size).astype(np.int32)
    z = space_time_gi(cube, kring_weights(cells, spec, k), time_k)
    p = p_two_sided(z)
    if fdr:
        p = bh_adjust(p.ravel()).reshape(p.shape)
    _, tau, mk_z, mk_p = mann_kendall(z)
    pattern = categorise(z, p, mk_z, mk_p, alpha, extended=extended)
    return EmergingResult(
        cells=cells,
        slice_edges=edges,
        counts=cube,
        z=z,
        p=p,
        mk_tau=tau,
        mk_z=mk_z,
        mk_p=mk_p,
        pattern=pattern,
        patterns=PATTERNS,
        spec=spec,
        k=k,
        time_k=time_k,
        alpha=alpha,
        fdr=fdr,
        extended=extended,
        area_rule=area_rule,
        n_incidents=int(cube.sum()),
    )
