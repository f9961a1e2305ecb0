"""Patrol hours and kilometres per sector and shift, from patrol-log positions, for CompStat.

Counting rules (docs/analysis.md, "Patrol hours and kilometres"):

- Positions are taken per officer (a phone changed mid-shift is still one patrol), in time
  order. Two consecutive positions of one officer make an *interval*; both must lie in the
  period (a position after the period's end is not read, so an interval never crosses it).
- An interval counts as patrol time when it lasts ``0 < dt <= gap_cap_s`` (default 300 s:
  longer is a phone off, out of signal or off duty, and is dropped whole, not capped).
- Its distance is the great-circle distance between the two positions (haversine, mean
  Earth radius), counted only when the speed ``distance / dt`` is at most ``speed_cap_kmh``
  (default 120 km/h): a faster hop is a GPS jump, its time still counts, its distance not.
- An interval belongs to the sector, shift and cell of its *first* position (as
  ``geo.analysis.dosage`` does); shifts are local-time windows starting at ``shift_starts`` hours
  (default 06-14, 14-22, 22-06), local time being UTC plus ``utc_offset_s``.
- Hot time is the part of that time whose first position lies in a hot cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.analysis.dosage import shift_of
from geo.errors import BadParameterError, InvalidInputError

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
GAP_CAP_S = 300
SPEED_CAP_KMH = 120.0
SHIFT_STARTS = (6, 14, 22)


def shift_names(starts: tuple[int, ...] = SHIFT_STARTS) -> tuple[str, ...]:
    ends = (*starts[1:], starts[0])
    return tuple(f"{a:02d}-{b:02d}" for a, b in zip(starts, ends, strict=True))


def haversine_m(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    result: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return result


@dataclass(frozen=True)
class PatrolTable:
    """One row per (sector, shift) with patrol time: sector index ``-1`` is outside every
    sector."""

    sector: np.ndarray  # int64 index into the caller's sectors, -1 none
    shift: np.ndarray  # int64 index into ``shifts``
    seconds: np.ndarray  # float64
    metres: np.ndarray  # float64
    hot_seconds: np.ndarray  # float64
    shifts: tuple[str, ...]
    intervals: int  # intervals counted
    dropped_gaps: int  # intervals longer than the gap cap
    dropped_jumps: int  # intervals whose distance was dropped for speed


def patrol_table(
    officer: np.ndarray,
    at_s: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    sector: np.ndarray,
    hot: np.ndarray,
    *,
    utc_offset_s: int,
    gap_cap_s: int = GAP_CAP_S,
    speed_cap_kmh: float = SPEED_CAP_KMH,
    shift_starts: tuple[int, ...] = SHIFT_STARTS,
) -> PatrolTable:
    """Seconds, metres and seconds in hot cells per (sector, shift) of the positions given
    (all inside the period; ``sector`` and ``hot`` are per position)."""
    at_s = np.asarray(at_s, dtype=np.int64)
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    officer, sector = np.asarray(officer), np.asarray(sector, dtype=np.int64)
    hot = np.asarray(hot, dtype=bool)
    if not at_s.size == lon.size == lat.size == officer.size == sector.size == hot.size:
        raise InvalidInputError("officer, at_s, lon, lat, sector and hot differ in length", {})
    if gap_cap_s <= 0 or speed_cap_kmh <= 0 or list(shift_starts) != sorted(shift_starts):
        raise BadParameterError(
            "gap_cap_s and speed_cap_kmh must be > 0, shift_starts ascending",
            {"gap_cap_s": gap_cap_s, "speed_cap_kmh": speed_cap_kmh},
        )
    order = np.lexsort((at_s, officer))
    same = officer[order][1:] == officer[order][:-1]
    first, second = order[:-1], order[1:]
    dt = (at_s[second] - at_s[first]).astype(np.float64)
    counted = same & (dt > 0) & (dt <= gap_cap_s)
    dropped_gaps = int((same & (dt > gap_cap_s)).sum())
    first, second, dt = first[counted], second[counted], dt[counted]
    metres = haversine_m(lon[first], lat[first], lon[second], lat[second])
    jump = metres > speed_cap_kmh / 3.6 * dt
    metres = np.where(jump, 0.0, metres)
    n_shifts = len(shift_starts)
    shift = shift_of(at_s[first], shift_starts, utc_offset_s).astype(np.int64)
    key = (sector[first] + 1) * n_shifts + shift  # sector -1 (none) is key 0..n_shifts-1
    keys, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.ravel()

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(inverse, weights=values, minlength=keys.size).astype(np.float64)

    return PatrolTable(
        sector=keys // n_shifts - 1,
        shift=keys % n_shifts,
        seconds=total(dt),
        metres=total(metres),
        hot_seconds=total(np.where(hot[first], dt, 0.0)),
        shifts=shift_names(shift_starts),
        intervals=int(dt.size),
        dropped_gaps=dropped_gaps,
        dropped_jumps=int(jump.sum()),
    )
