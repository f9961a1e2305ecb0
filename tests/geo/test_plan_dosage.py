"""Dosage against a plan (geo.analysis.plan_dosage): the counting rule of docs/protocol.md, "Dosage
against a plan", on positions whose worth is worked out by hand."""

from __future__ import annotations

import h3
import numpy as np
import pytest

from geo.analysis.plan_dosage import PlannedCells, plan_dosage
from geo.errors import BadParameterError

CELL = h3.latlng_to_cell(-12.05, -77.03, 9)
NEAR = h3.grid_ring(CELL, 1)[0]  # centre ~300 m away at resolution 9
FAR = h3.grid_ring(CELL, 4)[0]  # ~1.2 km away
T0 = 1_764_792_000  # 2025-12-03T20:00:00Z, 15:00 in Lima


def _fixes(
    rows: list[tuple[str, int, str]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    officer = np.array([r[0] for r in rows], dtype=object)
    t = np.array([T0 + r[1] for r in rows], dtype=np.int64)
    centres = [h3.cell_to_latlng(r[2]) for r in rows]
    lat = np.array([c[0] for c in centres])
    lon = np.array([c[1] for c in centres])
    return officer, t, lon, lat


def _plan(cells: list[str], start: int = T0 - 3600, end: int = T0 + 3600) -> PlannedCells:
    return PlannedCells(
        cells=np.array([h3.str_to_int(c) for c in cells], dtype=np.int64),
        resolutions=np.array([h3.get_resolution(c) for c in cells]),
        start_s=start,
        end_s=end,
    )


def test_the_worked_example_of_the_protocol() -> None:
    # 0 -> 60 in (60 s), 60 -> 150 in (90 s), 150 -> 180 starts in (30 s; ~300 m in 30 s is
    # 10 m/s), 180 -> 780 is a 10-minute gap (dropped): 180 s.
    fixes = _fixes(
        [("a", 0, CELL), ("a", 60, CELL), ("a", 150, CELL), ("a", 180, NEAR), ("a", 780, CELL)]
    )
    got = plan_dosage(*fixes, [_plan([CELL])])
    assert list(got.officer) == ["a"] and list(got.seconds) == [180]
    assert [h3.int_to_str(int(c)) for c in got.cell] == [CELL]


def test_jumps_repeats_other_officers_and_the_window() -> None:
    fixes = _fixes(
        [
            ("a", 0, CELL),
            ("a", 10, FAR),  # ~1.2 km in 10 s: a jump, 0
            ("a", 100, CELL),
            ("a", 100, CELL),
            ("a", 160, CELL),  # 0, then 60 s
            ("b", 50, CELL),
            ("b", 110, NEAR),  # b: 60 s in CELL
            ("a", 7200, CELL),
            ("a", 7260, CELL),  # after the window's end: 0
        ]
    )
    got = plan_dosage(*fixes, [_plan([CELL]), _plan([NEAR])])
    rows = {
        (int(i), str(o)): int(s)
        for i, o, s in zip(got.assignment, got.officer, got.seconds, strict=True)
    }
    assert rows == {(0, "a"): 60, (0, "b"): 60}


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(BadParameterError):
        plan_dosage(*_fixes([("a", 0, CELL)]), [_plan([CELL])], gap_cap_s=0)
