"""Quartic KDE grid and rates per 10,000 residents."""

from __future__ import annotations

import numpy as np
import pytest

from geo.analysis.density import (
    BANDWIDTH_RULE,
    compute_density,
    counts_by_code,
    default_bandwidth,
    kde_grid,
    quartic,
    rates,
)
from geo.errors import BadParameterError, InvalidInputError
from geo.grid.cells import project


def test_quartic_kernel_integrates_to_one() -> None:
    h = 500.0
    xs = np.arange(-h, h, 2.0) + 1.0
    d = np.hypot(xs[:, None], xs[None, :])
    assert quartic(d, h).sum() * 4.0 == pytest.approx(1.0, rel=1e-3)
    assert quartic(np.array([0.0]), h)[0] == pytest.approx(3 / (np.pi * h * h))
    assert quartic(np.array([h, 2 * h]), h).tolist() == [0.0, 0.0]


def test_grid_matches_direct_evaluation_and_conserves_mass() -> None:
    rng = np.random.default_rng(42)
    cell, h = 50.0, 400.0
    # points on cell centres, so binning moves nothing
    x = (rng.integers(0, 40, 300) + 0.5) * cell + 300_000
    y = (rng.integers(0, 40, 300) + 0.5) * cell + 8_600_000
    dens, (x0, _y0, _x1, y1) = kde_grid(x, y, cell_m=cell, bandwidth_m=h)
    assert dens.sum() * (cell / 1000) ** 2 == pytest.approx(300, rel=1e-9)
    rows, cols = dens.shape
    for r, c in [(rows // 2, cols // 2), (rows // 3, cols // 4), (10, 12)]:
        gx, gy = x0 + (c + 0.5) * cell, y1 - (r + 0.5) * cell  # row 0 is north
        direct = quartic(np.hypot(x - gx, y - gy), h).sum() * 1e6
        assert dens[r, c] == pytest.approx(direct, rel=0.01, abs=1e-6)


def test_compute_density_bounds_transform_and_rule() -> None:
    rng = np.random.default_rng(42)
    lon = rng.normal(-77.03, 0.01, 2000)
    lat = rng.normal(-12.05, 0.01, 2000)
    g = compute_density(lon, lat, np.zeros(2000), np.zeros(2000), cell_m=100)
    assert g.epsg == 32718 and g.bandwidth_rule == BANDWIDTH_RULE and g.kernel == "quartic"
    x, y = project(lon, lat, 32718)
    assert g.bandwidth_m == pytest.approx(default_bandwidth(x, y))
    x0, dx, _, y1, _, dy = g.transform
    assert (
        dx == 100
        and dy == -100
        and g.density.shape
        == (round((g.bounds[3] - g.bounds[1]) / 100), round((g.bounds[2] - g.bounds[0]) / 100))
    )
    # the peak is near the centre of the normal cloud
    r, c = np.unravel_index(np.argmax(g.density), g.density.shape)
    px, py = x0 + (c + 0.5) * dx, y1 + (r + 0.5) * dy
    cx, cy = project(np.array([-77.03]), np.array([-12.05]), 32718)
    assert np.hypot(px - cx[0], py - cy[0]) < 3 * g.bandwidth_m
    w, s, e, n = g.bounds_lonlat
    assert w < lon.min() and e > lon.max() and s < lat.min() and n > lat.max()
    fixed = compute_density(
        lon,
        lat,
        np.zeros(2000),
        np.zeros(2000),
        bandwidth_m=300,
        bounds_lonlat=(-77.1, -12.1, -77.0, -12.0),
    )
    assert fixed.bandwidth_rule == "given" and fixed.bandwidth_m == 300


def test_density_edge_cases() -> None:
    one = compute_density(np.array([-77.03]), np.array([-12.05]), np.zeros(1), np.zeros(1))
    assert one.density.sum() * (one.cell_m / 1000) ** 2 == pytest.approx(1.0)
    with pytest.raises(InvalidInputError):
        compute_density(np.empty(0), np.empty(0), np.empty(0), np.empty(0))
    empty = compute_density(
        np.empty(0),
        np.empty(0),
        np.empty(0),
        np.empty(0),
        bounds_lonlat=(-77.1, -12.1, -77.0, -12.0),
        bandwidth_m=300,
    )
    assert empty.density.max() == 0 and empty.n_incidents == 0
    with pytest.raises(BadParameterError):
        kde_grid(np.zeros(1), np.zeros(1), cell_m=0, bandwidth_m=10)


def test_rates_per_10k_with_poisson_limits() -> None:
    t = rates(
        np.array(["150101", "150102", "150103"]),
        np.array([50, 0, 7]),
        np.array([100_000, 20_000, 0]),
    )
    assert t.rate[0] == pytest.approx(5.0) and t.rate[1] == 0.0 and np.isnan(t.rate[2])
    # exact Poisson 95 % limits for 50 events: 37.11 .. 65.92
    assert t.lower[0] == pytest.approx(3.711, abs=1e-3) and t.upper[0] == pytest.approx(
        6.592, abs=1e-3
    )
    assert t.lower[1] == 0 and t.upper[1] == pytest.approx(3.689 / 2, abs=1e-3)
    with pytest.raises(InvalidInputError):
        rates(np.array(["a"]), np.array([1, 2]), np.array([1]))


def test_counts_by_code() -> None:
    codes = np.array(["150103", "150101", "150102"])
    got = counts_by_code(np.array(["150101", "150101", "150103", "999999"]), codes)
    assert got.tolist() == [1, 2, 0]


def _direct(x: np.ndarray, y: np.ndarray, gx: float, gy: float, h: float) -> float:
    """The kernel sum evaluated point by point (per km²): what the grid approximates."""
    return float(quartic(np.hypot(x - gx, y - gy), h).sum() * 1e6)


def _worst_relative_error(
    dens: np.ndarray,
    bounds: tuple[float, float, float, float],
    x: np.ndarray,
    y: np.ndarray,
    cell: float,
    h: float,
) -> float:
    x0, _y0, _x1, y1 = bounds
    rows, cols = dens.shape
    worst = 0.0
    peak = max(dens.max(), 1e-12)
    for r in range(0, rows, 3):
        for c in range(0, cols, 3):
            gx, gy = x0 + (c + 0.5) * cell, y1 - (r + 0.5) * cell
            worst = max(worst, abs(dens[r, c] - _direct(x, y, gx, gy, h)) / peak)
    return worst


def test_coincident_points_stay_within_one_percent_at_ten_cells_per_bandwidth() -> None:
    # 600 reports geocoded to one landmark, off every cell centre, and 400 around it: nearest-
    # cell binning moved all 600 the same way (about 4 % of the peak off at h = 10 cells).
    rng = np.random.default_rng(42)
    cell, h = 20.0, 200.0
    x = np.concatenate([np.full(600, 300_013.7), rng.normal(300_000, 300, 400)])
    y = np.concatenate([np.full(600, 8_600_006.1), rng.normal(8_600_000, 300, 400)])
    dens, bounds = kde_grid(x, y, cell_m=cell, bandwidth_m=h)
    assert _worst_relative_error(dens, bounds, x, y, cell, h) < 0.01


def test_default_cell_follows_the_bandwidth_and_a_coarse_cell_is_reported() -> None:
    rng = np.random.default_rng(42)
    # a tight cluster: the rule's bandwidth is well under the old fixed 100 m cell
    lon = rng.normal(-77.03, 0.0004, 3000)
    lat = rng.normal(-12.05, 0.0004, 3000)
    g = compute_density(lon, lat, np.zeros(3000), np.zeros(3000))
    assert g.bandwidth_m < 100
    assert g.cell_m <= g.bandwidth_m / 10 + 1e-9 and g.notes == ()
    coarse = compute_density(lon, lat, np.zeros(3000), np.zeros(3000), cell_m=100)
    assert coarse.notes and "coarse" in coarse.notes[0]
    # the default surface is the kernel, not a histogram: within 1 % of the direct sum
    x, y = project(lon, lat, g.epsg)
    assert _worst_relative_error(g.density, g.bounds, x, y, g.cell_m, g.bandwidth_m) < 0.01


def test_coincident_points_get_a_usable_bandwidth() -> None:
    # over half the points on one spot: D_m = 0 and the rule alone gives h = 0
    lon = np.concatenate([np.full(60, -77.03), np.linspace(-77.04, -77.02, 40)])
    lat = np.concatenate([np.full(60, -12.05), np.linspace(-12.06, -12.04, 40)])
    g = compute_density(lon, lat, np.zeros(100), np.zeros(100))
    assert g.bandwidth_m == pytest.approx(50.0) and "raised" in g.bandwidth_rule
    assert g.density.sum() * (g.cell_m / 1000) ** 2 == pytest.approx(100, rel=1e-6)


def test_bounds_smaller_than_the_data_report_what_lies_inside() -> None:
    rng = np.random.default_rng(42)
    lon = rng.uniform(-77.10, -77.00, 2000)
    lat = rng.uniform(-12.10, -12.00, 2000)
    box = (-77.06, -12.06, -77.04, -12.04)
    g = compute_density(
        lon, lat, np.zeros(2000), np.zeros(2000), bandwidth_m=400, bounds_lonlat=box
    )
    x, y = project(lon, lat, g.epsg)
    bx0, by0, bx1, by1 = g.bounds
    w, s, e, n = box
    inside = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
    assert g.n_incidents + g.n_outside == 2000
    assert abs(g.n_incidents - int(inside.sum())) <= 2  # the box's edges in UTM vs degrees
    assert g.n_incidents < 200
    # incidents just outside the box still add their share near its edges
    assert _worst_relative_error(g.density, g.bounds, x, y, g.cell_m, g.bandwidth_m) < 0.01
    assert bx0 < bx1 and by0 < by1
