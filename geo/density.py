"""Kernel density surfaces (quartic kernel) and rates per 10,000 residents.

Kernel: the quartic (biweight) kernel of Silverman (1986, eq. 4.5), as in ArcGIS Kernel
Density and CrimeStat: K(d) = 3 / (π h²) · (1 − d²/h²)² for d < h, else 0.

Bandwidth ``h`` when not given (ArcGIS's spatial variant of Silverman's rule of thumb):
h = 0.9 · min(SD, √(1/ln 2) · D_m) · n^(−0.2), with SD the standard distance of the points
and D_m the median distance to their mean centre, in metres.

The surface is computed on a square grid in a projected CRS (the local UTM zone unless
given): incidents are binned to grid cells, then convolved with the kernel sampled at the
cell centres and rescaled so that each incident contributes exactly 1 (so the surface
integrates to the number of incidents). Binning moves an incident by at most half a cell;
choose ``cell_m`` well below ``h``. Densities are incidents per km².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal, stats

from geo.cells import check_lonlat, project, select, unproject, utm_epsg
from geo.hotspot_errors import BadParameterError, InvalidInputError, TooManyCellsError

ALGORITHM_VERSION = "density-1"
BANDWIDTH_RULE = "0.9 * min(SD, sqrt(1/ln 2) * Dm) * n^-0.2 (ArcGIS/Silverman)"


def quartic(d: np.ndarray, h: float) -> np.ndarray:
    """Quartic kernel value (per m²) at distances ``d`` for bandwidth ``h``."""
    u2 = (np.asarray(d, dtype=np.float64) / h) ** 2
    return np.where(u2 < 1.0, 3.0 / (np.pi * h * h) * (1.0 - u2) ** 2, 0.0)


def default_bandwidth(x: np.ndarray, y: np.ndarray) -> float:
    """Rule-of-thumb bandwidth in metres (see the module docstring); 0 for < 2 points."""
    n = x.size
    if n < 2:
        return 0.0
    dx, dy = x - x.mean(), y - y.mean()
    sd = float(np.sqrt((dx * dx).mean() + (dy * dy).mean()))
    dm = float(np.median(np.hypot(dx, dy)))
    return 0.9 * min(sd, np.sqrt(1.0 / np.log(2.0)) * dm) * n**-0.2


@dataclass(frozen=True)
class DensityGrid:
    """A north-up raster: ``density[row, col]``, row 0 at the top (largest y)."""

    density: np.ndarray  # float64 incidents per km²
    transform: tuple[float, float, float, float, float, float]  # GDAL geotransform (metres)
    bounds: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in ``epsg`` metres
    bounds_lonlat: tuple[float, float, float, float]  # west, south, east, north
    epsg: int
    cell_m: float
    bandwidth_m: float
    bandwidth_rule: str  # "given" or BANDWIDTH_RULE
    n_incidents: int
    kernel: str = "quartic"
    version: str = ALGORITHM_VERSION


def _stencil(h: float, cell: float) -> np.ndarray:
    r = int(np.ceil(h / cell))
    off = np.arange(-r, r + 1) * cell
    k = quartic(np.hypot(off[:, None], off[None, :]), h)
    return k / k.sum()  # each incident contributes exactly 1 over the grid


def kde_grid(
    x: np.ndarray,
    y: np.ndarray,
    *,
    cell_m: float,
    bandwidth_m: float,
    bounds: tuple[float, float, float, float] | None = None,
    max_cells: int = 4_000_000,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Quartic KDE of projected points as a north-up array (per km²) and its bounds."""
    if not cell_m > 0 or not bandwidth_m > 0:
        raise BadParameterError(
            "cell_m and bandwidth_m must be > 0", {"cell_m": cell_m, "bandwidth_m": bandwidth_m}
        )
    if bounds is None:
        pad = bandwidth_m + cell_m
        bounds = (x.min() - pad, y.min() - pad, x.max() + pad, y.max() + pad)
    xmin = np.floor(bounds[0] / cell_m) * cell_m
    ymin = np.floor(bounds[1] / cell_m) * cell_m
    ncol = int(np.ceil((bounds[2] - xmin) / cell_m))
    nrow = int(np.ceil((bounds[3] - ymin) / cell_m))
    if ncol * nrow > max_cells:
        raise TooManyCellsError(
            "density grid too large; use a larger cell_m", {"cells": ncol * nrow, "max": max_cells}
        )
    col = np.floor((x - xmin) / cell_m).astype(np.int64)
    row = np.floor((y - ymin) / cell_m).astype(np.int64)
    ok = (col >= 0) & (col < ncol) & (row >= 0) & (row < nrow)
    hist = np.bincount(row[ok] * ncol + col[ok], minlength=nrow * ncol).reshape(nrow, ncol)
    dens = signal.fftconvolve(hist.astype(np.float64), _stencil(bandwidth_m, cell_m), mode="same")
    dens = np.clip(dens, 0.0, None) / (cell_m * cell_m / 1e6)
    return dens[::-1].copy(), (xmin, ymin, xmin + ncol * cell_m, ymin + nrow * cell_m)


def compute_density(
    lon: np.ndarray,
    lat: np.ndarray,
    t: np.ndarray,
    category: np.ndarray,
    *,
    window: tuple[int, int] | None = None,
    categories: list[int] | np.ndarray | None = None,
    cell_m: float = 100.0,
    bandwidth_m: float | None = None,
    epsg: int | None = None,
    bounds_lonlat: tuple[float, float, float, float] | None = None,
) -> DensityGrid:
    """Quartic kernel density of the selected incidents as a grid map layers can draw.

    ``bounds_lonlat`` (west, south, east, north) fixes the extent; otherwise the points'
    extent padded by the bandwidth."""
    lon, lat = check_lonlat(lon, lat)
    if not (lon.size == np.asarray(t).size == np.asarray(category).size):
        raise InvalidInputError("lon, lat, t and category differ in length", {})
    mask = select(t, category, window=window, categories=categories)
    lon, lat = lon[mask], lat[mask]
    if lon.size == 0 and bounds_lonlat is None:
        raise InvalidInputError("no incidents and no bounds: nothing to draw", {})
    if epsg is not None:
        code = int(epsg)
    elif lon.size or bounds_lonlat is None:
        code = utm_epsg(lon, lat)
    else:
        code = utm_epsg(np.array(bounds_lonlat[::2]), np.array(bounds_lonlat[1::2]))
    x, y = project(lon, lat, code)
    rule = "given"
    if bandwidth_m is None:
        bandwidth_m, rule = default_bandwidth(x, y), BANDWIDTH_RULE
        if bandwidth_m <= 0:
            bandwidth_m, rule = 10 * cell_m, f"{BANDWIDTH_RULE}; fewer than 2 points: 10 cells"
    bounds = None
    if bounds_lonlat is not None:
        w, s, e, n = bounds_lonlat
        bx, by = project(np.array([w, e, w, e]), np.array([s, s, n, n]), code)
        bounds = (bx.min(), by.min(), bx.max(), by.max())
    dens, (x0, y0, x1, y1) = kde_grid(x, y, cell_m=cell_m, bandwidth_m=bandwidth_m, bounds=bounds)
    clon, clat = unproject(np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]), code)
    return DensityGrid(
        density=dens,
        transform=(x0, cell_m, 0.0, y1, 0.0, -cell_m),
        bounds=(x0, y0, x1, y1),
        bounds_lonlat=(clon.min(), clat.min(), clon.max(), clat.max()),
        epsg=code,
        cell_m=float(cell_m),
        bandwidth_m=float(bandwidth_m),
        bandwidth_rule=rule,
        n_incidents=int(lon.size),
    )


@dataclass(frozen=True)
class RateTable:
    """Incidents per ``per`` residents by area, with exact Poisson confidence limits."""

    codes: np.ndarray
    counts: np.ndarray
    population: np.ndarray
    rate: np.ndarray  # NaN where the population is 0
    lower: np.ndarray
    upper: np.ndarray
    per: int
    confidence: float


def rates(
    codes: np.ndarray,
    counts: np.ndarray,
    population: np.ndarray,
    *,
    per: int = 10_000,
    confidence: float = 0.95,
) -> RateTable:
    """Rate per ``per`` residents (default 10,000) of each area (e.g. district UBIGEO), with
    exact (Garwood) Poisson limits on the count."""
    counts = np.asarray(counts, dtype=np.float64)
    pop = np.asarray(population, dtype=np.float64)
    codes = np.asarray(codes)
    if not (codes.size == counts.size == pop.size):
        raise InvalidInputError("codes, counts and population differ in length", {})
    if np.any(counts < 0) or np.any(pop < 0):
        raise InvalidInputError("counts and population must be >= 0", {})
    a = 1.0 - confidence
    lo = np.where(counts > 0, stats.chi2.ppf(a / 2, 2 * counts) / 2, 0.0)
    hi = stats.chi2.ppf(1 - a / 2, 2 * counts + 2) / 2
    scale = np.divide(per, pop, out=np.full(pop.size, np.nan), where=pop > 0)
    return RateTable(
        codes, counts.astype(np.int64), pop, counts * scale, lo * scale, hi * scale, per, confidence
    )


def counts_by_code(incident_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Number of incidents carrying each of ``codes`` (e.g. the district of each incident)."""
    codes = np.asarray(codes)
    order = np.argsort(codes)
    pos = np.searchsorted(codes, np.asarray(incident_codes), sorter=order)
    pos = np.minimum(pos, max(codes.size - 1, 0))
    hit = codes[order[pos]] == np.asarray(incident_codes) if codes.size else pos < 0
    out = np.zeros(codes.size, dtype=np.int64)
    np.add.at(out, order[pos[hit]], 1)
    return out
