"""Publication rules: suppressed counts cannot be recovered from what is published."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from geo.public import (
    Rules,
    district_table,
    generalise_cells,
    month_bounds,
    month_index,
    month_label,
    parse_month,
    published_months,
    rates,
    suppress,
    with_margins,
)

K = 5


def intervals(counts: np.ndarray, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What an attacker can learn of each hidden count from every published number: the
    least and greatest value it can take (linear programming over all line equations)."""
    n_r, n_c = counts.shape
    unknown = np.flatnonzero(hidden.ravel())
    col = {cell: i for i, cell in enumerate(unknown)}
    rows_eq, rhs = [], []
    lines = [[(i, j) for j in range(n_c)] for i in range(n_r)]
    lines += [[(i, j) for i in range(n_r)] for j in range(n_c)]
    for line in lines:
        # interior sum - total = 0
        row = np.zeros(unknown.size)
        known = 0.0
        for pos, (i, j) in enumerate(line):
            sign = -1.0 if pos == len(line) - 1 else 1.0
            flat = i * n_c + j
            if flat in col:
                row[col[flat]] += sign
            else:
                known += sign * counts[i, j]
        if row.any():
            rows_eq.append(row)
            rhs.append(-known)
    lo, hi = np.zeros(unknown.size), np.zeros(unknown.size)
    a_eq, b_eq = np.array(rows_eq), np.array(rhs)
    for v in range(unknown.size):
        c = np.zeros(unknown.size)
        c[v] = 1.0
        lo[v] = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs").fun
        hi[v] = -linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs").fun
    return lo, hi


def random_table(seed: int, n_r: int = 12, n_c: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = rng.gamma(1.0, 6.0, size=(n_r, 1)) * rng.gamma(1.0, 2.0, size=(1, n_c))
    return with_margins(rng.poisson(scale))


@pytest.mark.parametrize("seed", range(25))
def test_no_hidden_count_can_be_pinned_down(seed: int) -> None:
    counts = random_table(seed)
    hidden, primary = suppress(counts, K)
    assert primary.sum() > 0
    assert not (((counts > 0) & (counts < K)) & ~hidden).any(), "a small count is shown"
    lo, hi = intervals(counts, hidden)
    flat_primary = primary.ravel()[np.flatnonzero(hidden.ravel())]
    assert (hi - lo > 0.5).all(), "a hidden count is determined exactly"
    # the attacker cannot even tell a hidden small count is small
    assert (hi[flat_primary] >= K).all()


def test_total_minus_the_other_categories_fails() -> None:
    counts = with_margins(np.array([[20, 3, 40], [30, 25, 11], [9, 14, 50]]))
    hidden, _ = suppress(counts, K)
    assert hidden[0, 1]
    # the row of the small count hides another cell of it, or its total
    assert hidden[0].sum() >= 2
    assert hidden[:, 1].sum() >= 2
    shown = np.where(hidden, 0, counts)
    if not hidden[0, -1]:
        assert counts[0, -1] - shown[0, :-1].sum() >= K


def test_lone_hidden_total_gets_company() -> None:
    counts = with_margins(np.array([[1, 30], [40, 50], [60, 70]]))
    hidden, _ = suppress(counts, K)
    for line in (*hidden, *hidden.T):
        assert line.sum() != 1


def test_district_table_and_rates() -> None:
    districts = np.array(["a"] * 12 + ["b"] * 2 + ["zz"])
    cats = np.array(["robo"] * 10 + ["hurto"] * 4 + ["robo"])
    table = district_table(districts, cats, ("a", "b", "c"), ("hurto", "robo"), K)
    assert table.counts[-1, -1] == 14  # "zz" is not a listed district
    assert np.isnan(table.published()[1, -1])  # b: 2 incidents
    r = rates(table.counts[:-1, -1], table.hidden[:-1, -1], np.array([1000, 1000, 0]), 10_000)
    assert np.isnan(r[1]) and np.isnan(r[2])


def test_months_are_local_calendar_months() -> None:
    offset = -5 * 3600
    start, end = month_bounds(parse_month("2025-01") or 0, offset)
    assert month_label(int(month_index(np.array([start]), offset)[0])) == "2025-01"
    assert month_label(int(month_index(np.array([start - 1]), offset)[0])) == "2024-12"
    assert month_label(int(month_index(np.array([end - 1]), offset)[0])) == "2025-01"
    assert parse_month("2025-13") is None and parse_month("25-01") is None


def test_recent_weeks_are_held_back() -> None:
    rules = Rules(delay_days=28, months=12)
    now = month_bounds(parse_month("2025-10") or 0, rules.utc_offset_s)[0] + 20 * 86_400
    months = [month_label(m) for m in published_months(now, 0, rules)]
    assert months[-1] == "2025-08"  # September ended only 20 days ago
    assert len(months) == 12
    first = month_bounds(parse_month("2025-03") or 0, rules.utc_offset_s)[0]
    assert month_label(published_months(now, first, rules)[0]) == "2025-03"


def test_cells_generalised() -> None:
    cells = np.array([1] * 3 + [2] * 5 + [3] * 14 + [4] * 26)
    uniq, counts = generalise_cells(cells, K, 10)
    assert uniq.tolist() == [2, 3, 4]
    assert counts.tolist() == [10, 10, 30]
