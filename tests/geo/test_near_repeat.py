"""Knox test (near repeats): equal to plain O(n²) loops, and finds a planted pattern only."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fixtures.city import load_city
from fixtures.gen_near_repeat import with_near_repeats
from geo.analysis.near_repeat import KnoxBands, knox_test, lima_day
from geo.errors import BadParameterError
from geo.grid.cells import project


def _space_row(metres: int, d: int, n: int) -> int:
    """The NRC's labels, read literally: same location, 1..d, d+1..2d, ..., more than nd."""
    if metres == 0:
        return 0
    for k in range(1, n + 1):
        if (1 if k == 1 else (k - 1) * d + 1) <= metres <= k * d:
            return k
    return n + 1


def _time_column(days: int, t: int, m: int) -> int:
    for k in range(m):
        if (0 if k == 0 else k * t + 1) <= days <= (k + 1) * t:
            return k
    return m


def _reference(
    x: list[float], y: list[float], day: list[int], bands: KnoxBands, perms: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair, every permutation, in plain Python loops."""
    n = len(x)
    rows = [
        [_space_row(math.floor(math.hypot(x[i] - x[j], y[i] - y[j])), bands.distance_m,
                    bands.n_space) for j in range(n)]
        for i in range(n)
    ]  # fmt: skip

    def table(dates: list[int]) -> list[list[int]]:
        out = [[0] * (bands.n_time + 1) for _ in range(bands.n_space + 2)]
        for i in range(n):
            for j in range(i + 1, n):
                col = _time_column(abs(dates[i] - dates[j]), bands.days, bands.n_time)
                out[rows[i][j]][col] += 1
        return out

    observed = table(day)
    rng = np.random.default_rng(seed)
    sums = [[0] * (bands.n_time + 1) for _ in range(bands.n_space + 2)]
    at_least = [[0] * (bands.n_time + 1) for _ in range(bands.n_space + 2)]
    for _ in range(perms):
        perm = rng.permutation(n)
        permuted = table([day[int(perm[i])] for i in range(n)])
        for r, row in enumerate(permuted):
            for c, value in enumerate(row):
                sums[r][c] += value
                at_least[r][c] += value >= observed[r][c]
    p = [[(a + 1) / (perms + 1) for a in row] for row in at_least]
    mean = [[s / perms for s in row] for row in sums]
    return np.array(observed), np.array(mean), np.array(p)


def _clustered(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points in a 2 km square with some exact repeats and near repeats, over 120 days."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2000, n)
    y = rng.uniform(0, 2000, n)
    day = rng.integers(0, 120, n)
    for i in range(0, n // 3, 2):  # followers: near in space and time
        x[i + 1] = x[i] + rng.uniform(-60, 60)
        y[i + 1] = y[i] + rng.uniform(-60, 60)
        day[i + 1] = day[i] + rng.integers(0, 5)
    x[n - 5 :] = x[0]  # the same place five more times
    y[n - 5 :] = y[0]
    return x, y, day


@pytest.mark.parametrize(
    ("bands", "seed"),
    [(KnoxBands(100, 5, 7, 5), 7), (KnoxBands(150, 3, 3, 4), 11), (KnoxBands(40, 2, 14, 2), 3)],
)
def test_equals_plain_loops(bands: KnoxBands, seed: int) -> None:
    x, y, day = _clustered(240, seed)
    got = knox_test(x, y, day, bands, permutations=19, seed=seed)
    observed, mean, p = _reference(list(x), list(y), [int(d) for d in day], bands, 19, seed)
    assert got.observed.tolist() == observed.tolist()
    np.testing.assert_allclose(got.mean_permuted, mean, rtol=1e-12)
    np.testing.assert_allclose(got.p_value, p, rtol=1e-12)
    assert int(got.observed.sum()) == 240 * 239 // 2
    assert got.observed[0].sum() > 0  # the repeats are in the same-location row
    assert got.observed[1, 0] > 0


def test_band_edges_follow_the_labels() -> None:
    """Pairs exactly on the labelled edges, each pair 10 km from the others."""
    # (distance m, days apart, expected row, expected column) with bands 100 m x2, 7 days x2
    cases = [
        (0.0, 0, 0, 0),  # same location, same day
        (0.99, 7, 0, 0),  # under 1 m is the same location; 7 days is "0 to 7"
        (1.0, 8, 1, 1),  # 1 m: "1 to 100"; 8 days: "8 to 14"
        (100.99, 14, 1, 1),  # floors to 100 m; 14 days still "8 to 14"
        (101.0, 15, 2, 2),  # "101 to 200"; 15 days: "more than 14"
        (200.5, 3, 2, 0),
    ]
    x, y, day = [], [], []
    for k, (metres, days, _, _) in enumerate(cases):
        x += [10_000.0 * k, 10_000.0 * k + metres]
        y += [0.0, 0.0]
        day += [100, 100 + days]
    r = knox_test(np.array(x), np.array(y), np.array(day), KnoxBands(100, 2, 7, 2), 1)
    assert r.space_labels == ["same location", "1 to 100", "101 to 200", "more than 200"]
    assert r.time_labels == ["0 to 7", "8 to 14", "more than 14"]
    expected = np.zeros((4, 3), dtype=int)
    for _, _, row, col in cases:
        expected[row, col] += 1
    assert r.observed[:3].tolist() == expected[:3].tolist()
    assert r.observed.sum() == 12 * 11 // 2


def test_refuses_bad_parameters() -> None:
    x = np.zeros(3)
    with pytest.raises(BadParameterError):
        knox_test(x, x, x.astype(int), KnoxBands(0, 5, 7, 5))
    with pytest.raises(BadParameterError):
        knox_test(x, x, x.astype(int), permutations=0)


def _knox_of(frame: pd.DataFrame, district: str) -> tuple[float, float]:
    f = frame[(frame.district_code == district) & (frame.category == "robo") & frame.lon.notna()]
    x, y = project(f.lon.to_numpy(), f.lat.to_numpy(), 32718)
    when = pd.to_datetime(f.occurred_at, utc=True) - pd.Timestamp(0, tz="UTC")
    seconds = (when // pd.Timedelta(seconds=1)).to_numpy()
    r = knox_test(x, y, lima_day(seconds), KnoxBands(100, 5, 7, 5), permutations=99, seed=42)
    return float(r.knox_ratio[1, 0]), float(r.p_value[1, 0])


def test_planted_near_repeats_are_found_and_absent_ones_not() -> None:
    city = load_city()
    incidents, plant = with_near_repeats(city)
    ratio, p = _knox_of(incidents, plant.district_code)
    assert p <= 0.01 and ratio > 1.4  # 1-100 m, 0-7 days: the planted band
    ratio, p = _knox_of(city.incidents, plant.district_code)
    assert p > 0.05 and 0.8 < ratio < 1.2  # the city as committed: no near repeats


def test_lima_day_cuts_at_lima_midnight() -> None:
    # 2026-11-02 04:59:59 UTC is still 1 November in Lima; 05:00:00 is 2 November.
    assert lima_day(np.array([1_793_595_599]))[0] + 1 == lima_day(np.array([1_793_595_600]))[0]
