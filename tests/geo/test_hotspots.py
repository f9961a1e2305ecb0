"""Gi* against esda, FDR against a hand computation, bins, edge cases and scale choice."""

from __future__ import annotations

import warnings

import esda
import h3
import libpysal
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libpysal.weights import WSP
from scipy import sparse

from geo.analysis.density import rates
from geo.analysis.hotspots import (
    bh_adjust,
    build_weights,
    cell_xy,
    choose_band,
    compute_hotspots,
    gi_bins,
    gi_star,
    hotspots_from_cells,
    moran_bands,
    p_two_sided,
)
from geo.analysis.weights import band_weights, kring_weights
from geo.errors import BadParameterError, InvalidInputError
from geo.grid.cells import CellSpec


def _esda_zs(y: np.ndarray, w: sparse.spmatrix) -> np.ndarray:
    """esda's Gi* z on the same binary weights (esda puts the self weight of 1 itself)."""
    w = sparse.csr_matrix(w).copy()
    w.setdiag(0)
    w.eliminate_zeros()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pw = WSP(w).to_W(silence_warnings=True)
        g = esda.G_Local(np.asarray(y, float), pw, transform="B", star=True, permutations=0)
    zs: np.ndarray = g.Zs  # esda has no type hints
    return zs


def _same_as_esda(z: np.ndarray, esda_z: np.ndarray) -> bool:
    """Equal within 1e-12 where esda is defined; where esda gives NaN (a cell whose
    neighbourhood is the whole study area: 0/0), we give 0."""
    nan = ~np.isfinite(esda_z)
    return bool(np.abs(z[~nan] - esda_z[~nan]).max() < 1e-12 and np.all(z[nan] == 0))


def _points(seed: int = 42) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    lon = np.concatenate([rng.uniform(-77.10, -76.95, 6000), rng.normal(-77.02, 0.003, 600)])
    lat = np.concatenate([rng.uniform(-12.12, -11.98, 6000), rng.normal(-12.05, 0.003, 600)])
    t = rng.integers(0, 100, lon.size)
    return lon, lat, t, rng.integers(0, 3, lon.size)


def test_gi_star_equals_esda_on_columbus_queen_and_band() -> None:
    path = libpysal.examples.get_path("columbus.dbf")
    db = libpysal.io.open(path)
    crime = np.array(db.by_col("CRIME"), dtype=float)
    xy = np.column_stack([db.by_col("X"), db.by_col("Y")]).astype(float)
    db.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        queen = libpysal.weights.Queen.from_shapefile(libpysal.examples.get_path("columbus.shp"))
    queen.transform = "B"
    w = queen.sparse + sparse.identity(queen.n)
    z = gi_star(crime, w)
    assert np.abs(z - _esda_zs(crime, w)).max() < 1e-12
    wb = band_weights(xy[:, 0], xy[:, 1], 10.0)
    assert np.abs(gi_star(crime, wb) - _esda_zs(crime, wb)).max() < 1e-12
    # a known value: the highest-crime neighbourhoods are hot
    assert z[np.argmax(crime)] > 0


@pytest.mark.parametrize("grid", ["h3", "square"])
def test_compute_hotspots_equals_esda_on_synthetic_points(grid: str) -> None:
    lon, lat, t, cat = _points()
    kw = {"resolution": 9} if grid == "h3" else {"size_m": 300.0}
    res = compute_hotspots(lon, lat, t, cat, grid=grid, **kw)
    w = kring_weights(res.cells, res.spec, 1)
    assert np.abs(res.z - _esda_zs(res.counts, w)).max() < 1e-12
    assert res.counts.sum() == lon.size == res.n_incidents
    assert res.gi_bin.max() == 3
    # the planted cluster is hot at 99 %
    hot_centre = res.cells[np.argmax(res.z)]
    assert res.gi_bin[res.cells == hot_centre][0] == 3


def test_band_weights_and_window_and_categories() -> None:
    lon, lat, t, cat = _points()
    res = compute_hotspots(
        lon,
        lat,
        t,
        cat,
        window=(10, 60),
        categories=[0, 2],
        resolution=9,
        weights="band",
        band_m=600.0,
    )
    sel = (t >= 10) & (t < 60) & np.isin(cat, [0, 2])
    assert res.n_incidents == int(sel.sum()) == res.counts.sum()
    w = build_weights(res.cells, res.spec, "band", 1, 600.0)
    assert np.abs(res.z - _esda_zs(res.counts, w)).max() < 1e-12


def test_bh_matches_hand_computation() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.20])
    # sorted: .005 .01 .03 .04 .20 -> p*m/rank: .025 .025 .05 .05 .20, then cummin from the top
    expected = np.array([0.025, 0.05, 0.05, 0.025, 0.20])
    assert np.allclose(bh_adjust(p), expected)
    assert bh_adjust(np.empty(0)).size == 0


def test_bins_follow_arcgis_levels() -> None:
    z = np.array([3.0, 2.0, 1.7, 0.5, -1.7, -2.0, -3.0])
    p = p_two_sided(z)
    assert gi_bins(z, p).tolist() == [3, 2, 1, 0, -1, -2, -3]
    assert p_two_sided(np.array([1.959963984540054]))[0] == pytest.approx(0.05)


def test_empty_window() -> None:
    lon, lat, t, cat = _points()
    res = compute_hotspots(lon, lat, t, cat, window=(1000, 2000), resolution=9)
    assert res.cells.size == 0 and res.n_incidents == 0
    res = compute_hotspots(lon, lat, t, cat, window=(0, 100), resolution=9, area=res.cells)
    assert res.n_outside == lon.size
    spec = CellSpec("h3", resolution=9)
    zero = compute_hotspots(
        lon[:0], lat[:0], t[:0], cat[:0], resolution=9, area=np.unique(res.cells)
    )
    assert zero.cells.size == 0
    some = compute_hotspots(lon[:1], lat[:1], t[:1], cat[:1], resolution=9)
    given = compute_hotspots(lon[:0], lat[:0], t[:0], cat[:0], resolution=9, area=some.cells)
    assert given.counts.sum() == 0 and np.all(given.z == 0) and np.all(given.gi_bin == 0)
    assert given.notes and spec.resolution == 9


def test_single_incident() -> None:
    lon, lat, t, cat = _points()
    res = compute_hotspots(lon[:1], lat[:1], t[:1], cat[:1], resolution=9)
    assert res.cells.size == 7  # the cell and its ring of zero cells
    assert res.counts.sum() == 1
    w = kring_weights(res.cells, res.spec, 1)
    assert _same_as_esda(res.z, _esda_zs(res.counts, w))
    assert np.all(np.isfinite(res.z)) and np.all(res.gi_bin == 0)


def test_all_incidents_in_one_cell() -> None:
    n = 50
    lon, lat = np.full(n, -77.03), np.full(n, -12.05)
    res = compute_hotspots(lon, lat, np.zeros(n), np.zeros(n), resolution=9, area="hull")
    assert res.counts.max() == n and res.cells.size == 1  # hull of one cell: that cell
    assert np.all(res.z == 0) and np.all(res.gi_bin == 0)
    ring = compute_hotspots(lon, lat, np.zeros(n), np.zeros(n), resolution=9)
    w = kring_weights(ring.cells, ring.spec, 1)
    assert _same_as_esda(ring.z, _esda_zs(ring.counts, w))
    assert np.all(ring.gi_bin == 0)


def test_edge_cells_have_fewer_neighbours_and_match_esda() -> None:
    lon, lat, t, cat = _points()
    res = compute_hotspots(lon, lat, t, cat, resolution=9, area="hull")
    w = kring_weights(res.cells, res.spec, 1)
    card = np.asarray(w.sum(axis=1)).ravel()
    assert card.min() < 7 and card.max() == 7  # edge cells see only part of their ring
    assert np.abs(res.z - _esda_zs(res.counts, w)).max() < 1e-12
    # an incident-heavy edge cell can still be hot
    edge = card < 7
    assert res.counts[edge].sum() > 0


def test_moran_bands_equal_esda_and_scale_choice() -> None:
    lon, lat, t, cat = _points()
    res = compute_hotspots(lon, lat, t, cat, resolution=9)
    choice = choose_band(res.cells, res.counts, res.spec, n_bands=6)
    x, y = cell_xy(res.cells, res.spec)
    band = float(choice.bands_m[2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = libpysal.weights.DistanceBand(np.column_stack([x, y]), threshold=band, binary=True)
        m = esda.Moran(res.counts.astype(float), wb, transformation="B", permutations=0)
    mi, mz = moran_bands(x, y, res.counts, np.array([band]))
    assert mi[0] == pytest.approx(m.I, abs=1e-12) and mz[0] == pytest.approx(m.z_rand, abs=1e-9)
    assert choice.band_m in choice.bands_m and "first peak" in choice.rule
    auto = compute_hotspots(lon, lat, t, cat, resolution=9, weights="band")
    assert auto.band_m == choice.band_m and auto.notes
    with pytest.raises(BadParameterError):
        compute_hotspots(lon, lat, t, cat, resolution=9, weights="queen")


def test_square_grid_hull_area_matches_esda() -> None:
    lon, lat, t, cat = _points()
    res = compute_hotspots(lon, lat, t, cat, grid="square", size_m=400.0, area="hull")
    assert "convex hull" in res.area_rule and res.spec.epsg == 32718
    w = kring_weights(res.cells, res.spec, 1)
    card = np.asarray(w.sum(axis=1)).ravel()
    assert card.min() < 9 and card.max() == 9  # queen neighbourhood of a square, with self
    assert np.abs(res.z - _esda_zs(res.counts, w)).max() < 1e-12


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), min_size=4, max_size=40),
    a=st.floats(0.1, 100.0),
    b=st.floats(-50.0, 50.0),
    seed=st.integers(0, 2**31),
)
def test_gi_star_affine_invariant_and_permutation_equivariant(
    counts: list[int], a: float, b: float, seed: int
) -> None:
    y = np.array(counts, dtype=float)
    n = y.size
    rng = np.random.default_rng(seed)
    m = sparse.random(n, n, density=0.3, random_state=int(rng.integers(1 << 30)))
    w = ((m + m.T) > 0).astype(float).tolil()
    w.setdiag(1.0)
    w = w.tocsr()
    z = gi_star(y, w)
    assert np.allclose(gi_star(a * y + b, w), z, atol=1e-8)
    perm = rng.permutation(n)
    wp = w[perm][:, perm]
    assert np.allclose(gi_star(y[perm], wp), z[perm], atol=1e-9)


def test_scale_choice_without_a_peak_falls_back_to_k_nearest() -> None:
    # counts rising smoothly west to east: Moran's z keeps rising with the band, no peak
    from geo.grid.cells import square_keys

    col, row = np.meshgrid(np.arange(300, 340), np.arange(8600, 8640), indexing="ij")
    cells = np.sort(square_keys(col.ravel(), row.ravel()))
    spec = CellSpec("square", size_m=200.0, epsg=32718)
    counts = (np.argsort(np.argsort(cells)) // 40).astype(float)  # = column index
    choice = choose_band(cells, counts, spec, n_bands=6)
    assert np.all(np.diff(choice.z) > 0) and choice.first_peak_m is None
    assert "no peak" in choice.rule
    # 5 % of 1600 cells = 80 -> clipped to 30 nearest: about 3 cells of 200 m away
    assert 500 < choice.band_m < 700 and choice.max_peak_m == choice.bands_m[-1]


@pytest.mark.parametrize(
    "bad",
    [[3.0, float("nan"), 1.0], [3, -1, 1], [3.0, 2.5, 1.0], [3.0, float("inf"), 1.0]],
)
def test_bad_counts_are_refused_not_cast(bad: list[float]) -> None:
    # np.asarray(..., dtype=int64) turned NaN into -9223372036854775808 without a word
    spec = CellSpec("h3", resolution=9)
    cells = np.array(
        sorted(h3.str_to_int(h3.latlng_to_cell(-12.05, -77.03 + i * 0.003, 9)) for i in range(3)),
        dtype=np.int64,
    )
    with pytest.raises(InvalidInputError) as err:
        hotspots_from_cells(cells, np.array(bad), spec, area="ring")
    assert err.value.code == "invalid_input" and err.value.details["first_index"] == 1


def test_gi_star_refuses_values_that_are_not_finite() -> None:
    w = sparse.identity(3, format="csr")
    with pytest.raises(InvalidInputError) as err:
        gi_star(np.array([1.0, float("nan"), 2.0]), w)
    assert err.value.code == "invalid_input" and err.value.details == {
        "count": 1,
        "first_index": 1,
    }


@pytest.mark.parametrize("bad", [[5, 2.5], [5, -1], [5, float("nan")], [True, False]])
def test_rates_refuse_counts_that_are_not_counts(bad: list[float]) -> None:
    with pytest.raises(InvalidInputError):
        rates(np.array(["150101", "150102"]), np.array(bad), np.array([1000, 1000]))
