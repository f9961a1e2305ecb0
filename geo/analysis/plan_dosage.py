"""Dosage against a patrol plan: minutes each officer spent in the cells a plan assigned.

How minutes are counted (docs/protocol.md, "Patrol plans", says the same):

- An officer's positions (patrol-log entries with coordinates, from all their devices) are put
  in time order. Each pair of consecutive positions is an interval.
- An interval counts only when it is 1 to ``gap_cap_s`` seconds long (default 300: a longer
  silence is a phone off or out of signal, and nobody knows where the officer was; it is
  dropped, not cut to the cap) and the straight-line speed between its two positions is at
  most ``max_speed_mps`` (default 25 m/s = 90 km/h: faster is a GPS jump, not patrol).
  Repeated timestamps count 0.
- A counted interval belongs wholly to its *first* position: to the H3 cell holding it (at the
  resolution of the assigned cell) and to its time. It counts for an assignment when that
  cell is one of the assignment's cells and that time is inside the assignment's shift
  window ``[start_s, end_s)``.

The same rules as ``geo.analysis.dosage`` (first fix, gaps dropped), plus the speed cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.errors import BadParameterError, InvalidInputError
from geo.grid.cells import check_lonlat, h3_cells

ALGORITHM_VERSION = "plan-dosage-1"
GAP_CAP_S = 300
MAX_SPEED_MPS = 25.0
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class PlannedCells:
    """One assignment: its H3 cells (int64, one resolution or several) and shift window."""

    cells: np.ndarray
    resolutions: np.ndarray  # the resolution of each cell
    start_s: int
    end_s: int


@dataclass(frozen=True, slots=True)
class PlanDosage:
    """Seconds per (assignment, officer, cell) row; only rows with time in them."""

    assignment: np.ndarray  # int64 index into the assignments given
    officer: np.ndarray  # officer id of each row
    cell: np.ndarray  # int64 H3 cell
    seconds: np.ndarray  # int64
    gap_cap_s: int
    max_speed_mps: float
    version: str = ALGORITHM_VERSION


def haversine_m(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    result: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return result


def counted_intervals(
    officer: np.ndarray,
    t: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    gap_cap_s: int = GAP_CAP_S,
    max_speed_mps: float = MAX_SPEED_MPS,
) -> tuple[np.ndarray, np.ndarray]:
    """(index of the first position, seconds) of every interval that counts."""
    if gap_cap_s <= 0 or not max_speed_mps > 0:
        raise BadParameterError(
            "gap_cap_s and max_speed_mps must be > 0",
            {"gap_cap_s": gap_cap_s, "max_speed_mps": max_speed_mps},
        )
    order = np.lexsort((t, officer))
    ts, os_ = t[order], officer[order]
    dt = np.diff(ts)
    metres = haversine_m(lon[order][:-1], lat[order][:-1], lon[order][1:], lat[order][1:])
    ok = (os_[1:] == os_[:-1]) & (dt > 0) & (dt <= gap_cap_s)
    ok &= metres <= max_speed_mps * np.maximum(dt, 1)
    return order[:-1][ok], dt[ok]


def plan_dosage(
    officer: np.ndarray,
    t: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    assignments: list[PlannedCells],
    *,
    gap_cap_s: int = GAP_CAP_S,
    max_speed_mps: float = MAX_SPEED_MPS,
) -> PlanDosage:
    """Seconds each officer spent in each assignment's cells during its shift."""
    lon, lat = check_lonlat(lon, lat)
    t = np.asarray(t, dtype=np.int64)
    officer = np.asarray(officer, dtype=object)
    if not (t.size == lon.size == officer.size):
        raise InvalidInputError("officer, t, lon and lat differ in length", {})
    first, secs = counted_intervals(officer, t, lon, lat, gap_cap_s, max_speed_mps)
    resolutions = sorted({int(r) for a in assignments for r in a.resolutions})
    cell_at = {r: h3_cells(lon[first], lat[first], r) for r in resolutions} if first.size else {}
    rows: list[tuple[int, str, int, int]] = []
    for index, a in enumerate(assignments):
        when = (t[first] >= a.start_s) & (t[first] < a.end_s)
        if not when.any():
            continue
        for r in sorted({int(x) for x in a.resolutions}):
            cells = a.cells[a.resolutions == r]
            hit = when & np.isin(cell_at[r], cells)
            for i in np.flatnonzero(hit):
                rows.append((index, str(officer[first[i]]), int(cell_at[r][i]), int(secs[i])))
    return _grouped(rows, gap_cap_s, max_speed_mps)


def _grouped(rows: list[tuple[int, str, int, int]], gap_cap_s: int, speed: float) -> PlanDosage:
    sums: dict[tuple[int, str, int], int] = {}
    for index, who, cell, secs in rows:
        sums[(index, who, cell)] = sums.get((index, who, cell), 0) + secs
    keys = sorted(sums)
    return PlanDosage(
        assignment=np.array([k[0] for k in keys], dtype=np.int64),
        officer=np.array([k[1] for k in keys], dtype=object),
        cell=np.array([k[2] for k in keys], dtype=np.int64),
        seconds=np.array([sums[k] for k in keys], dtype=np.int64),
        gap_cap_s=gap_cap_s,
        max_speed_mps=speed,
    )
