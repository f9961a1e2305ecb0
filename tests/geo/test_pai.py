"""PAI, RRI and PEI against hand-computed values."""

from __future__ import annotations

import h3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.analysis.hotspots import HotspotResult, compute_hotspots
from geo.analysis.pai import best_capture, compute_pai, score_prediction
from geo.errors import BadParameterError
from geo.grid.cells import CellSpec, cell_areas_km2, cell_centres, square_keys


def _square_result(counts: list[int], bins: list[int]) -> HotspotResult:
    """Four 1-km squares in a row with given period-1 counts and classes."""
    cells = square_keys(np.array([300, 301, 302, 303]), np.array([8600, 8600, 8600, 8600]))
    n = len(counts)
    return HotspotResult(
        cells=cells,
        counts=np.array(counts),
        z=np.zeros(n),
        p=np.ones(n),
        p_fdr=np.ones(n),
        gi_bin=np.array(bins, dtype=np.int8),
        spec=CellSpec("square", size_m=1000.0, epsg=32718),
        weights="kring",
        k=1,
        band_m=None,
        area_rule="given",
        fdr=True,
        n_incidents=sum(counts),
        n_outside=0,
    )


def test_scores_by_hand() -> None:
    res = _square_result([10, 5, 3, 2], [3, 0, 0, -1])
    lon, lat = cell_centres(res.cells, res.spec)
    # period 2: 6 in the hot cell, 1, 1, 2 elsewhere; 1 outside the area
    idx = np.repeat(np.arange(4), [6, 1, 1, 2])
    lon2 = np.append(lon[idx], -70.0)
    lat2 = np.append(lat[idx], -12.0)
    s = score_prediction(res, lon2, lat2)
    assert s.n2_hot == 6 and s.n2_total == 10 and s.n_outside == 1
    assert s.hit_rate == pytest.approx(0.6)
    assert s.pai == pytest.approx(0.6 / 0.25)  # a/A = 1/4
    assert s.rri == pytest.approx((6 / 10) / (10 / 20))  # (n2/n1)/(N2/N1)
    assert s.pei == pytest.approx(1.0)  # the hot cell is also the best single cell
    assert s.area_hot_km2 == pytest.approx(1.0) and s.area_total_km2 == pytest.approx(4.0)


def test_pei_below_one_and_nan_when_nothing_hot() -> None:
    res = _square_result([10, 5, 3, 2], [2, 0, 0, 0])
    lon, lat = cell_centres(res.cells, res.spec)
    idx = np.repeat(np.arange(4), [1, 5, 0, 0])
    s = score_prediction(res, lon[idx], lat[idx])
    assert s.pei == pytest.approx(1 / 5) and s.pai == pytest.approx((1 / 6) / 0.25)
    none = score_prediction(_square_result([1, 1, 1, 1], [0, 0, 0, 0]), lon[idx], lat[idx])
    assert np.isnan(none.pai) and np.isnan(none.rri) and none.n2_hot == 0
    with pytest.raises(BadParameterError):
        score_prediction(res, lon, lat, min_bin=4)


def test_compute_pai_on_a_stable_cluster() -> None:
    rng = np.random.default_rng(42)
    n = 4000
    lon = np.concatenate([rng.uniform(-77.1, -77.0, n), rng.normal(-77.05, 0.002, 800)])
    lat = np.concatenate([rng.uniform(-12.1, -12.0, n), rng.normal(-12.05, 0.002, 800)])
    t = rng.integers(0, 200, lon.size)
    res, s = compute_pai(
        lon, lat, t, np.zeros(lon.size), train=(0, 100), test=(100, 200), resolution=9
    )
    assert s.pai > 5 and 0.5 < s.rri < 2 and 0 < s.pei <= 1
    area = cell_areas_km2(s.hot_cells, res.spec).sum()
    assert area == pytest.approx(s.area_hot_km2)
    again = compute_hotspots(lon, lat, t, np.zeros(lon.size), window=(0, 100), resolution=9)
    assert np.array_equal(again.cells, res.cells)


def _h3_result(cells: list[str], bins: list[int]) -> HotspotResult:
    ids = np.array(sorted(h3.str_to_int(c) for c in cells), dtype=np.int64)
    order = [sorted(h3.str_to_int(c) for c in cells).index(h3.str_to_int(c)) for c in cells]
    gi_bin = np.zeros(len(cells), dtype=np.int8)
    gi_bin[order] = bins
    n = len(cells)
    return HotspotResult(
        cells=ids,
        counts=np.ones(n, dtype=np.int64),
        z=np.zeros(n),
        p=np.ones(n),
        p_fdr=np.ones(n),
        gi_bin=gi_bin,
        spec=CellSpec("h3", resolution=5),
        weights="kring",
        k=1,
        band_m=None,
        area_rule="given",
        fdr=True,
        n_incidents=n,
        n_outside=0,
    )


def test_pei_stays_at_most_one_when_h3_cells_differ_in_area() -> None:
    # Two hot cells of ~180 and ~188 km² and a ~298 km² cell slightly denser than either:
    # the old "best" took the big cell whole and stopped (17 < the hot cells' own 20), PEI 1.18.
    small_a, small_b, big = "850999bbfffffff", "85754e67fffffff", "858e62c3fffffff"
    res = _h3_result([small_a, small_b, big], [3, 3, 0])
    areas = {c: h3.cell_area(c, "km^2") for c in (small_a, small_b, big)}
    assert areas[big] < areas[small_a] + areas[small_b]
    per_cell = {small_a: 10, small_b: 10, big: 17}
    assert 17 / areas[big] > max(10 / areas[small_a], 10 / areas[small_b])
    points = [h3.cell_to_latlng(c) for c, k in per_cell.items() for _ in range(k)]
    lat, lon = np.array(points).T
    s = score_prediction(res, np.array(lon), np.array(lat))
    assert s.n2_hot == 20 and s.n2_total == 37
    # By hand: the big cell whole (17) plus the rest of the hot area at the next density.
    room = areas[small_a] + areas[small_b] - areas[big]
    best = 17 + room * max(10 / areas[small_a], 10 / areas[small_b])
    assert s.pei == pytest.approx(20 / best) and s.pei < 1


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=500),
            st.floats(min_value=0.05, max_value=5.0, allow_nan=False),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    )
)
@settings(max_examples=300, deadline=None)
def test_pei_bound_holds_for_any_cells(cells: list[tuple[int, float, bool]]) -> None:
    """n2* bounds the capture of every set of cells of the same area, the hot set included."""
    counts = np.array([c for c, _, _ in cells], dtype=np.int64)
    area = np.array([a for _, a, _ in cells])
    hot = np.array([h for _, _, h in cells])
    budget = float(area[hot].sum())
    best = best_capture(counts, area, budget)
    n2 = int(counts[hot].sum())
    assert best >= n2 * (1 - 1e-12)
    if best > 0:
        assert 0.0 <= n2 / best <= 1.0 + 1e-12
    # and it is no looser than the whole budget at the densest density
    if budget > 0 and counts.size:
        assert best <= budget * float((counts / area).max()) * (1 + 1e-12) + 1e-9
