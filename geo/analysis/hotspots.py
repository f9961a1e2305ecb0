"""Getis-Ord Gi* hotspots on cells, with FDR correction and the analysts' confidence bins.

Gi* (Getis & Ord 1992, Ord & Getis 1995) with binary weights that include the cell itself:

    z_i = (Σ_j w_ij y_j − ȳ Σ_j w_ij) / (S √((n Σ_j w_ij² − (Σ_j w_ij)²) / (n − 1)))

with ȳ and S = √(Σ y²/n − ȳ²) over all n cells of the study area. This is algebraically
the z-score of ``esda.G_Local(y, w, transform="B", star=True)`` and of ArcGIS's Hot Spot
Analysis. p-values are two-sided normal; ``p_fdr`` are Benjamini-Hochberg adjusted p-values.
Bins follow ArcGIS's Gi_Bin: ±3 at 99 %, ±2 at 95 %, ±1 at 90 % confidence, 0 otherwise,
using ``p_fdr`` when FDR is on (which is the same as running BH at each level).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse, special, stats
from scipy.spatial import cKDTree

from geo.analysis.weights import band_weights, kring_weights, study_cells
from geo.errors import BadParameterError, InvalidInputError
from geo.grid.cells import (
    CellSpec,
    bin_incidents,
    cell_centres,
    check_counts,
    project,
    select,
    utm_epsg,
)

ALGORITHM_VERSION = "hotspots-1"


def gi_star(y: np.ndarray, w: sparse.spmatrix) -> np.ndarray:
    """Gi* z-score of every cell; 0 where undefined (no variance, or every cell a neighbour)."""
    y = np.asarray(y, dtype=np.float64)
    if not np.isfinite(y).all():
        # one NaN makes every z NaN, which the bins would then read as "not significant"
        bad = ~np.isfinite(y)
        raise InvalidInputError(
            "values must be finite",
            {"count": int(bad.sum()), "first_index": int(np.flatnonzero(bad)[0])},
        )
    n = y.size
    if n < 2:
        return np.zeros(n)
    w = sparse.csr_matrix(w)
    s_w = np.asarray(w.sum(axis=1)).ravel()
    s_w2 = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    mean = y.mean()
    s = np.sqrt(max((y @ y) / n - mean * mean, 0.0))
    num = w @ y - mean * s_w
    den = s * np.sqrt(np.maximum(n * s_w2 - s_w * s_w, 0.0) / (n - 1))
    ok = den > 1e-12 * max(s, 1.0)
    result: np.ndarray = np.divide(num, den, out=np.zeros(n), where=ok)
    return result


def p_two_sided(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of each z-score."""
    result: np.ndarray = 2.0 * special.ndtr(-np.abs(np.asarray(z, dtype=np.float64)))
    return result


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``)."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    result: np.ndarray = stats.false_discovery_control(p, method="bh")
    return result


def gi_bins(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ArcGIS Gi_Bin: sign(z) × 3/2/1 for p ≤ 0.01/0.05/0.10, else 0 (int8)."""
    level = np.where(p <= 0.01, 3, np.where(p <= 0.05, 2, np.where(p <= 0.10, 1, 0)))
    result: np.ndarray = (np.sign(z) * level).astype(np.int8)
    return result


@dataclass(frozen=True)
class HotspotResult:
    """Gi* per cell of the study area; arrays are aligned and sorted by cell id."""

    cells: np.ndarray  # int64 H3 index or square-grid key
    counts: np.ndarray  # int64 incidents per cell in the window/category set
    z: np.ndarray  # Gi* z-score
    p: np.ndarray  # two-sided normal p-value
    p_fdr: np.ndarray  # Benjamini-Hochberg adjusted p-value
    gi_bin: np.ndarray  # int8, +3..-3 (uses p_fdr when fdr is on)
    spec: CellSpec
    weights: str  # "kring" or "band"
    k: int | None
    band_m: float | None
    area_rule: str
    fdr: bool
    n_incidents: int  # incidents selected by window and categories
    n_outside: int  # of those, outside the given study area cells (dropped)
    version: str = ALGORITHM_VERSION
    notes: tuple[str, ...] = field(default_factory=tuple)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat of each cell's centre."""
        return cell_centres(self.cells, self.spec)


def area_positions(observed: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each observed cell in the sorted study ``area`` and whether it is there."""
    pos = np.minimum(np.searchsorted(area, observed), max(area.size - 1, 0))
    found = area[pos] == observed if area.size else np.zeros(observed.size, dtype=bool)
    return pos, found


def cell_counts(
    observed: np.ndarray, inverse: np.ndarray, area: np.ndarray
) -> tuple[np.ndarray, int]:
    """Incidents per study-area cell from binned points (``observed[inverse]`` is each
    point's cell), and how many fell outside the area."""
    per_obs = np.bincount(inverse, minlength=observed.size)
    pos, found = area_positions(observed, area)
    counts = np.zeros(area.size, dtype=np.int64)
    counts[pos[found]] = per_obs[found]
    return counts, int(per_obs[~found].sum())


def cell_xy(cells: np.ndarray, spec: CellSpec) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres in metres (the grid's CRS, or the UTM zone of the centres for H3)."""
    lon, lat = cell_centres(cells, spec)
    if lon.size == 0:
        return lon, lat
    return project(lon, lat, spec.epsg or utm_epsg(lon, lat))


def build_weights(
    cells: np.ndarray, spec: CellSpec, weights: str, k: int, band_m: float | None
) -> sparse.csr_matrix:
    """Binary self-including weights of kind ``weights`` ("kring" or "band") over ``cells``."""
    if weights == "kring":
        return kring_weights(cells, spec, k)
    if weights == "band":
        if band_m is None:
            raise BadParameterError("band weights need band_m", {})
        x, y = cell_xy(cells, spec)
        return band_weights(x, y, float(band_m))
    raise BadParameterError("weights must be 'kring' or 'band'", {"weights": weights})


def gi_from_counts(
    counts: np.ndarray, w: sparse.spmatrix, *, fdr: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(z, p, p_fdr, gi_bin) from counts and weights."""
    z = gi_star(counts, w)
    p = p_two_sided(z)
    p_fdr = bh_adjust(p)
    return z, p, p_fdr, gi_bins(z, p_fdr if fdr else p)


def compute_hotspots(
    lon: np.ndarray,
    lat: np.ndarray,
    t: np.ndarray,
    category: np.ndarray,
    *,
    window: tuple[int, int] | None = None,
    categories: list[int] | np.ndarray | None = None,
    grid: str = "h3",
    resolution: int | None = None,
    size_m: float | None = None,
    epsg: int | None = None,
    weights: str = "kring",
    k: int = 1,
    band_m: float | None = None,
    area: str | np.ndarray = "ring",
    fdr: bool = True,
) -> HotspotResult:
    """Gi* hotspots of the incidents in ``window`` (epoch seconds, [start, end)) and
    ``categories``, on H3 cells (``resolution`` or chosen) or ``size_m`` squares.

    ``weights="band"`` with ``band_m=None`` picks the band by incremental spatial
    autocorrelation (first peak of global Moran's I z-score, :func:`choose_band`).
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if not (lon.size == lat.size == np.asarray(t).size == np.asarray(category).size):
        raise InvalidInputError("lon, lat, t and category differ in length", {})
    mask = select(t, category, window=window, categories=categories)
    lon, lat = lon[mask], lat[mask]
    spec, observed, inverse = bin_incidents(
        lon, lat, grid=grid, resolution=resolution, size_m=size_m, epsg=epsg
    )
    per_cell = np.bincount(inverse, minlength=observed.size)
    return hotspots_from_cells(
        observed, per_cell, spec, weights=weights, k=k, band_m=band_m, area=area, fdr=fdr
    )


def hotspots_from_cells(
    observed: np.ndarray,
    observed_counts: np.ndarray,
    spec: CellSpec,
    *,
    weights: str = "kring",
    k: int = 1,
    band_m: float | None = None,
    area: str | np.ndarray = "ring",
    fdr: bool = True,
) -> HotspotResult:
    """Gi* from incidents already counted per cell (e.g. grouped by the database).

    ``observed`` are distinct cells of ``spec`` and ``observed_counts`` their counts; the
    study area, weights and classes follow the same rules as :func:`compute_hotspots`.
    """
    observed = np.asarray(observed, dtype=np.int64)
    observed_counts = check_counts(observed_counts, "observed_counts")
    if observed_counts.size != observed.size:
        raise InvalidInputError(
            "observed and observed_counts differ in length",
            {"observed": observed.size, "observed_counts": observed_counts.size},
        )
    cells, area_rule = study_cells(observed, spec, area, k)
    pos, found = area_positions(observed, cells)
    counts = np.zeros(cells.size, dtype=np.int64)
    counts[pos[found]] = observed_counts[found]
    n_out = int(observed_counts[~found].sum())
    notes: list[str] = []
    if weights == "band" and band_m is None:
        band_m = choose_band(cells, counts, spec).band_m
        notes.append(f"band {band_m:.0f} m from incremental spatial autocorrelation")
    w = build_weights(cells, spec, weights, k, band_m)
    z, p, p_fdr, gbin = gi_from_counts(counts, w, fdr=fdr)
    if counts.sum() == 0:
        notes.append("no incidents in the window: every cell is not significant")
    return HotspotResult(
        cells=cells,
        counts=counts,
        z=z,
        p=p,
        p_fdr=p_fdr,
        gi_bin=gbin,
        spec=spec,
        weights=weights,
        k=k if weights == "kring" else None,
        band_m=band_m,
        area_rule=area_rule,
        fdr=fdr,
        n_incidents=int(observed_counts.sum()),
        n_outside=n_out,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class ScaleChoice:
    """Incremental spatial autocorrelation: global Moran's I over increasing distance bands."""

    bands_m: np.ndarray
    moran_i: np.ndarray
    z: np.ndarray  # z-score under randomisation (esda's ``z_rand``)
    first_peak_m: float | None  # first band whose z is a local maximum (and > 1.96)
    max_peak_m: float | None  # band with the largest significant z (reported, not chosen)
    band_m: float  # the choice: first peak, else the K-nearest-neighbour distance
    rule: str


def moran_bands(
    x: np.ndarray, y: np.ndarray, values: np.ndarray, bands: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Global Moran's I and its randomisation z-score for binary distance-band weights
    (no self weight) at each band. Memory stays O(n) at any band: the cross-products come
    from the KD-tree's weighted pair counts, the degrees from ball-query lengths."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    out_i, out_z = np.zeros(len(bands)), np.zeros(len(bands))
    zc = v - v.mean()
    m2 = (zc @ zc) / n
    if n < 4 or m2 == 0:
        return out_i, out_z
    kurt = ((zc**4).sum() / n) / (m2 * m2)
    pts = np.column_stack([x, y])
    tree = cKDTree(pts)
    radii = np.asarray(bands, dtype=np.float64)
    # ordered pairs within r, self pairs (distance 0) included: remove them
    cross = tree.count_neighbors(tree, radii, weights=(zc, zc)) - zc @ zc
    for b, band in enumerate(radii):
        deg = tree.query_ball_point(pts, band, return_length=True) - 1
        s0 = float(deg.sum())
        if s0 == 0:
            continue
        s1, s2 = 2.0 * s0, 4.0 * float(deg.astype(np.float64) @ deg)
        moran = n / s0 * cross[b] / (m2 * n)
        ei = -1.0 / (n - 1)
        a = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
        bb = kurt * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
        var = (a - bb) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - ei * ei
        out_i[b], out_z[b] = moran, (moran - ei) / np.sqrt(var) if var > 0 else 0.0
    return out_i, out_z


def choose_band(
    cells: np.ndarray,
    counts: np.ndarray,
    spec: CellSpec,
    *,
    n_bands: int = 10,
    start_m: float | None = None,
    step_m: float | None = None,
) -> ScaleChoice:
    """ArcGIS-style incremental spatial autocorrelation. Defaults: start at the distance
    that gives every cell a neighbour (largest nearest-neighbour distance), step by the mean
    nearest-neighbour distance. Choice: the first peak of the z-score (a band whose z is
    above both neighbours and 1.96); when the z-scores have no peak (often: they keep
    rising), ArcGIS Optimized Hot Spot Analysis's fallback, the mean distance to the K-th
    nearest cell with K = 5 % of the cells, clipped to 3..30."""
    x, y = cell_xy(cells, spec)
    if cells.size < 4:
        raise BadParameterError("scale choice needs at least 4 cells", {"cells": cells.size})
    pts = np.column_stack([x, y])
    tree = cKDTree(pts)
    kk = int(np.clip(round(0.05 * cells.size), 3, min(30, cells.size - 1)))
    dist = tree.query(pts, k=kk + 1)[0]
    start_m = float(dist[:, 1].max()) * (1 + 1e-9) if start_m is None else start_m
    step_m = float(dist[:, 1].mean()) if step_m is None else step_m
    bands = start_m + step_m * np.arange(n_bands)
    moran, z = moran_bands(x, y, counts, bands)
    peaks = [b for b in range(1, n_bands - 1) if z[b - 1] < z[b] >= z[b + 1] and z[b] > 1.96]
    first = float(bands[peaks[0]]) if peaks else None
    best = float(bands[int(np.argmax(z))]) if np.any(z > 1.96) else None
    knn = float(dist[:, kk].mean()) * (1 + 1e-9)
    chosen = first if first is not None else knn
    rule = (
        f"{n_bands} bands from {start_m:.0f} m by {step_m:.0f} m; first peak of Moran's I "
        f"z (randomisation); no peak: mean distance to the {kk}th nearest cell"
    )
    return ScaleChoice(bands, moran, z, first, best, chosen, rule)
