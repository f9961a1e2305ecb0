"""Space-time Gi* against esda, Mann-Kendall by hand, and the pattern categories."""

from __future__ import annotations

import warnings

import esda
import numpy as np
import pytest
from libpysal.weights import WSP
from scipy import sparse

from geo.analysis.emerging import (
    PATTERNS,
    WEEK_S,
    EmergingResult,
    categorise,
    compute_emerging,
    mann_kendall,
    space_time_gi,
)
from geo.analysis.weights import kring_weights
from geo.errors import BadParameterError

CENTRE = (-77.03, -12.05)


def _cluster(
    rng: np.random.Generator, n: int, slices: range, centre: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lon = rng.normal(centre[0], 0.0015, n)
    lat = rng.normal(centre[1], 0.0015, n)
    t = rng.choice(np.array(slices), n) * WEEK_S + rng.integers(0, WEEK_S, n)
    return lon, lat, t


def _city(seed: int = 42) -> tuple[np.ndarray, ...]:
    """20 weekly slices of background noise plus planted clusters."""
    rng = np.random.default_rng(seed)
    n_bg = 20 * 400
    parts = [
        (
            rng.uniform(-77.08, -76.98, n_bg),
            rng.uniform(-12.10, -12.00, n_bg),
            rng.integers(0, 20 * WEEK_S, n_bg),
        ),
        _cluster(rng, 20 * 40, range(0, 20), (-77.06, -12.08)),  # persistent
        _cluster(rng, 6 * 40, range(14, 20), (-77.00, -12.08)),  # emerging: last 6 weeks
        _cluster(rng, 8 * 40, range(0, 8), (-77.06, -12.02)),  # fading: first 8 weeks
        _cluster(rng, 60, range(19, 20), (-77.00, -12.02)),  # new: last week only
    ]
    lon, lat, t = (np.concatenate(a) for a in zip(*parts, strict=True))
    return lon, lat, t, np.zeros(lon.size, dtype=np.int64)


def _pattern_at(res: EmergingResult, lon: float, lat: float) -> str:
    import h3

    cell = h3.str_to_int(h3.latlng_to_cell(lat, lon, res.spec.resolution))
    return str(res.pattern_names()[np.searchsorted(res.cells, cell)])


def test_space_time_gi_equals_esda_on_the_cube() -> None:
    lon, lat, t, cat = _city()
    res = compute_emerging(lon, lat, t, cat, end=20 * WEEK_S, n_slices=20, resolution=8)
    w = kring_weights(res.cells, res.spec, 1)
    n_t = res.counts.shape[0]
    for time_k in (0, 1, 2):
        cube = sum(sparse.kron(sparse.eye(n_t, k=-lag), w) for lag in range(time_k + 1))
        cube = sparse.csr_matrix(cube)
        cube.setdiag(0)
        cube.eliminate_zeros()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pw = WSP(cube).to_W(silence_warnings=True)
            y = res.counts.ravel().astype(float)
            g = esda.G_Local(y, pw, transform="B", star=True, permutations=0)
        z = space_time_gi(res.counts, w, time_k)
        assert np.abs(z.ravel() - g.Zs).max() < 1e-12
    assert np.abs(space_time_gi(res.counts, w, 1) - res.z).max() == 0


def test_mann_kendall_by_hand() -> None:
    # x = 1..5: S = 10, var = 5·4·15/18 = 50/3, z = (10 − 1)/√(50/3) = 2.2045
    # x = 1,2,2,3,0: S = +1+1+1−1 +0+1−1 +1−1 −1 = 1; one tie of 2: var = (5·4·15 − 2·1·9)/18
    #   = 282/18, z = (1 − 1)/… = 0
    # x = 4,3,2,2: S = −5; tie of 2: var = (4·3·13 − 18)/18 = 138/18, z = (−5 + 1)/√(138/18)
    x = np.array([[1, 2, 3, 4, 5], [1, 2, 2, 3, 0], [4, 3, 2, 2, 2]], dtype=float)
    x[2, 4] = 1.0
    s, tau, z, p = mann_kendall(x[:2].T)
    assert s.tolist() == [10.0, 1.0]
    assert z[0] == pytest.approx(9 / np.sqrt(50 / 3)) and z[1] == 0.0
    assert p[0] == pytest.approx(0.027486, abs=1e-6) and tau[0] == 1.0
    s, tau, z, p = mann_kendall(np.array([[4.0, 3.0, 2.0, 2.0]]).T)
    assert s[0] == -5 and z[0] == pytest.approx(-4 / np.sqrt(138 / 18))
    flat = mann_kendall(np.zeros((6, 1)))
    assert flat[0][0] == 0 and flat[2][0] == 0 and flat[3][0] == 1.0


def _codes(hot_rows: list[str], trend: float = 0.0, extended: bool = True) -> str:
    """Pattern of one cell from a string per slice: h hot, c cold, . nothing."""
    z = np.array([[3.0 if c == "h" else (-3.0 if c == "c" else 0.0)] for c in hot_rows[0]])
    p = np.where(z != 0, 0.001, 0.5)
    mk_p = np.array([0.01 if trend else 0.5])
    return PATTERNS[categorise(z, p, np.array([trend]), mk_p, 0.05, extended=extended)[0]]


def test_categories_follow_arcgis_definitions() -> None:
    assert _codes(["..........h"]) == "new hot spot"
    assert _codes(["........hhh"]) == "consecutive hot spot"
    assert _codes(["hhhhhhhhhhh"]) == "persistent hot spot"
    assert _codes(["hhhhhhhhhhh"], 2.5) == "intensifying hot spot"
    assert _codes(["hhhhhhhhhhh"], -2.5) == "diminishing hot spot"
    assert _codes(["hhhhhhhhhh."]) == "historical hot spot"
    assert _codes(["..h..h...hh"]) == "sporadic hot spot"
    assert _codes(["..c..h...hh"]) == "oscillating hot spot"
    assert _codes(["hhhh......."]) == "no pattern"
    assert _codes(["..........c"]) == "new cold spot"
    assert _codes(["ccccccccccc"], -2.5) == "intensifying cold spot"
    assert _codes(["cccccccccc."]) == "historical cold spot"
    assert _codes(["..h..c...cc"]) == "oscillating cold spot"
    # our extension for what ArcGIS leaves as "no pattern"
    assert _codes(["hhhhh......"], -2.5) == "fading hot spot"
    assert _codes(["hhhhh......"], -2.5, extended=False) == "no pattern"
    assert _codes(["hhhhhhhhhh."], -2.5) == "historical hot spot"
    assert _codes(["ccccc......"], 2.5) == "fading cold spot"


def test_planted_patterns_come_out() -> None:
    lon, lat, t, cat = _city()
    res = compute_emerging(lon, lat, t, cat, end=20 * WEEK_S, n_slices=20, resolution=9)
    assert _pattern_at(res, -77.06, -12.08) in {"persistent hot spot", "intensifying hot spot"}
    assert _pattern_at(res, -77.00, -12.08) == "consecutive hot spot"
    assert _pattern_at(res, -77.00, -12.02) == "new hot spot"
    assert _pattern_at(res, -77.06, -12.02) == "fading hot spot"
    assert res.counts.sum() == res.n_incidents == lon.size
    assert res.slice_edges.size == 21 and res.slice_edges[-1] == 20 * WEEK_S


def test_empty_and_bad_parameters() -> None:
    lon, lat, t, cat = _city()
    res = compute_emerging(lon, lat, t, cat, end=-WEEK_S, n_slices=4, resolution=9)
    assert res.cells.size == 0 and res.counts.shape == (4, 0)
    with pytest.raises(BadParameterError):
        compute_emerging(lon, lat, t, cat, n_slices=1)
