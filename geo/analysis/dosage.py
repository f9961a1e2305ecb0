"""Patrol dosage: minutes of patrol presence per cell from GPS tracks, by station and shift.

Rules:

- Fixes are ordered by (officer, time). The time between two consecutive fixes of the same
  officer is attributed to the cell, station and shift of the *first* fix.
- Gaps longer than ``gap_cap_s`` (default 5 minutes: phone off, no signal) are ignored, not
  capped; repeated timestamps count 0.
- Shifts are local-time windows: by default 06-14, 14-22 and 22-06 in Lima (UTC−5, no DST).
  An interval is attributed to the shift of its first fix.
- Each cell is joined with the Gi_Bin of a hotspot result (same cells); cells outside its
  study area get class 0 and ``in_area`` False.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.analysis.hotspots import HotspotResult
from geo.errors import BadParameterError, InvalidInputError
from geo.grid.cells import CellSpec, check_lonlat, point_cells

ALGORITHM_VERSION = "dosage-1"
LIMA_UTC_OFFSET_S = -5 * 3600


@dataclass(frozen=True)
class DosageResult:
    """Rows aggregated by (cell, station, shift), and per (station, shift) summaries."""

    cells: np.ndarray  # int64
    station: np.ndarray  # station label of each row
    shift: np.ndarray  # int8 index into ``shift_names``
    minutes: np.ndarray  # float64 patrol minutes
    gi_bin: np.ndarray  # int8 hotspot class of the cell (0 outside the study area)
    in_area: np.ndarray  # bool: the cell is in the hotspot result's study area
    shift_names: tuple[str, ...]
    # summary per (station, shift): minutes by Gi_Bin class -3..+3 (columns)
    summary_station: np.ndarray
    summary_shift: np.ndarray
    summary_minutes_by_bin: np.ndarray  # (groups, 7) float64
    gap_cap_s: int
    utc_offset_s: int
    spec: CellSpec
    version: str = ALGORITHM_VERSION

    def hot_share(self, min_bin: int = 2) -> np.ndarray:
        """Share of each summary group's minutes spent in cells with Gi_Bin ≥ ``min_bin``."""
        total = self.summary_minutes_by_bin.sum(axis=1)
        hot = self.summary_minutes_by_bin[:, 3 + min_bin :].sum(axis=1)
        result: np.ndarray = np.divide(hot, total, out=np.full(total.size, np.nan), where=total > 0)
        return result


def shift_of(t: np.ndarray, starts: tuple[int, ...], utc_offset_s: int) -> np.ndarray:
    """Index of the shift (by local start hour, ascending) holding each epoch second."""
    hour = ((np.asarray(t, dtype=np.int64) + utc_offset_s) // 3600) % 24
    return ((np.searchsorted(np.asarray(starts), hour, side="right") - 1) % len(starts)).astype(
        np.int8
    )


def _intervals(officer: np.ndarray, t: np.ndarray, gap_cap_s: int) -> tuple[np.ndarray, ...]:
    """(index of the first fix, seconds) of every counted interval."""
    order = np.lexsort((t, officer))
    ts, os_ = t[order], officer[order]
    dt = np.diff(ts)
    ok = (os_[1:] == os_[:-1]) & (dt <= gap_cap_s)
    return order[:-1][ok], dt[ok]


def compute_dosage(
    officer: np.ndarray,
    t: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    station: np.ndarray,
    *,
    hotspots: HotspotResult,
    gap_cap_s: int = 300,
    utc_offset_s: int = LIMA_UTC_OFFSET_S,
    shift_starts: tuple[int, ...] = (6, 14, 22),
    window: tuple[int, int] | None = None,
) -> DosageResult:
    """Patrol minutes per (cell, station, shift) from GPS fixes, joined with hotspot classes."""
    lon, lat = check_lonlat(lon, lat)
    t = np.asarray(t, dtype=np.int64)
    officer, station = np.asarray(officer), np.asarray(station)
    if not (t.size == lon.size == officer.size == station.size):
        raise InvalidInputError("officer, t, lon, lat and station differ in length", {})
    if gap_cap_s <= 0 or sorted(shift_starts) != list(shift_starts) or not shift_starts:
        raise BadParameterError(
            "gap_cap_s must be > 0 and shift_starts ascending",
            {"gap_cap_s": gap_cap_s, "shift_starts": list(shift_starts)},
        )
    if window is not None:
        keep = (t >= window[0]) & (t < window[1])
        officer, t, lon, lat, station = officer[keep], t[keep], lon[keep], lat[keep], station[keep]
    first, secs = _intervals(officer, t, gap_cap_s)
    cell = point_cells(lon[first], lat[first], hotspots.spec)
    st_names, st_idx = np.unique(station[first], return_inverse=True)
    sh = shift_of(t[first], shift_starts, utc_offset_s)
    n_sh = len(shift_starts)
    group = st_idx.astype(np.int64) * n_sh + sh
    keys, inv = np.unique(np.column_stack([cell, group]), axis=0, return_inverse=True)
    inv = inv.ravel()
    minutes = np.bincount(inv, weights=secs / 60.0, minlength=keys.shape[0])
    pos = np.minimum(np.searchsorted(hotspots.cells, keys[:, 0]), max(hotspots.cells.size - 1, 0))
    in_area = hotspots.cells[pos] == keys[:, 0] if hotspots.cells.size else np.zeros(0, bool)
    gbin = np.where(in_area, hotspots.gi_bin[pos] if hotspots.cells.size else 0, 0)
    gbin = gbin.astype(np.int8)
    groups, g_inv = np.unique(keys[:, 1], return_inverse=True)
    by_bin = np.zeros((groups.size, 7))
    np.add.at(by_bin, (g_inv.ravel(), gbin.astype(np.int64) + 3), minutes)
    names = tuple(
        f"{a:02d}-{b:02d}"
        for a, b in zip(shift_starts, (*shift_starts[1:], shift_starts[0]), strict=True)
    )
    return DosageResult(
        cells=keys[:, 0],
        station=st_names[keys[:, 1] // n_sh],
        shift=(keys[:, 1] % n_sh).astype(np.int8),
        minutes=minutes,
        gi_bin=gbin,
        in_area=in_area,
        shift_names=names,
        summary_station=st_names[groups // n_sh],
        summary_shift=(groups % n_sh).astype(np.int8),
        summary_minutes_by_bin=by_bin,
        gap_cap_s=gap_cap_s,
        utc_offset_s=utc_offset_s,
        spec=hotspots.spec,
    )
