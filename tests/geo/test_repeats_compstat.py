"""Places, concentration and CompStat periods, against expectations worked out by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from geo.analysis.compstat import change, comparisons, lima_midnight, year_before
from geo.analysis.repeats import concentration, group_places
from geo.errors import BadParameterError

D = dt.date


def test_places_join_chains_within_the_tolerance() -> None:
    x = np.array([0.0, 3.0, 6.0, 100.0, 100.0, 500.0])
    y = np.zeros(6)
    places = group_places(x, y, 4.0)
    # 0-3-6 is one chain (each step 3 m), the two at 100 m one place, 500 m alone
    assert places.label[0] == places.label[1] == places.label[2]
    assert places.label[3] == places.label[4] != places.label[0]
    assert sorted(places.counts.tolist()) == [1, 2, 3]
    assert [int(places.counts[p]) for p in places.repeated()] == [3, 2]
    assert group_places(x, y, 0.0).counts.max() == 2  # exact repeats only
    with pytest.raises(BadParameterError):
        group_places(x, y, 51.0)


def test_concentration_top_shares_and_holding() -> None:
    counts = np.array([50, 20, 10, 5, 5, 4, 3, 2, 1, 0, 0])  # 9 units with incidents, 100 in all
    result = concentration(counts, top_percents=(10.0, 20.0, 25.0), shares=(0.5, 0.8))
    assert (result.units, result.incidents) == (9, 100)
    assert result.top == [(10.0, 1, 0.5), (20.0, 2, 0.7), (25.0, 3, 0.8)]
    holding: list[tuple[float, int, object]] = [
        (0.5, 1, pytest.approx(100 / 9)),
        (0.8, 3, pytest.approx(300 / 9)),
    ]
    assert result.holding == holding
    empty = concentration(np.zeros(3, dtype=int))
    assert empty.units == 0 and all(share == 0.0 for _, _, share in empty.top)


def test_compstat_periods() -> None:
    got = {c.name: c for c in comparisons(D(2028, 3, 1))}  # 2028 is a leap year
    assert (got["7d"].current.first, got["7d"].current.last) == (D(2028, 2, 24), D(2028, 3, 1))
    assert (got["7d"].previous.first, got["7d"].previous.last) == (D(2028, 2, 17), D(2028, 2, 23))
    assert (got["7d"].last_year.first, got["7d"].last_year.last) == (D(2027, 2, 24), D(2027, 3, 1))
    assert got["28d"].current.first == D(2028, 2, 3)
    assert (got["ytd"].current.first, got["ytd"].current.days) == (D(2028, 1, 1), 61)
    assert (got["ytd"].previous.first, got["ytd"].previous.last) == (
        D(2027, 11, 1),
        D(2027, 12, 31),
    )
    assert year_before(D(2028, 2, 29)) == D(2027, 2, 28)
    # Lima midnight is 05:00 UTC
    assert lima_midnight(D(2026, 11, 30)) == 1_796_014_800
    assert got["7d"].current.end_s - got["7d"].current.start_s == 7 * 86_400
    assert change(3, 0) == (3, None) and change(1, 4) == (-3, -75.0)
