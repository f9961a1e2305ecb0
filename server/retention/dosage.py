"""Monthly patrol dosage of the positions retention removes, for the archive.

The rules of ``geo.analysis.dosage`` (the time between two consecutive fixes of one officer counts
for the first fix's cell and shift; gaps over ``gap_cap_s`` count nothing), summed per local
calendar month, station, shift and H3 cell, streamed in time order so that any number of
positions fits in memory (one last fix per officer). Positions are read per station, so an
interval between fixes an officer took in two different stations is not counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from geo.analysis.dosage import shift_of
from geo.grid.cells import h3_cells


class MonthlyDosage:
    def __init__(
        self,
        resolution: int,
        utc_offset_s: int,
        shift_starts: tuple[int, ...] = (6, 14, 22),
        gap_cap_s: int = 300,
    ) -> None:
        self.resolution = resolution
        self.utc_offset_s = utc_offset_s
        self.shift_starts = shift_starts
        self.gap_cap_s = gap_cap_s
        ends = (*shift_starts[1:], shift_starts[0])
        self.shift_names = [f"{a:02d}-{b:02d}" for a, b in zip(shift_starts, ends, strict=True)]
        self._seconds: dict[tuple[str, str, int, int], int] = defaultdict(int)
        self._last: dict[str, tuple[int, str, int, int]] = {}  # officer -> t, month, shift, cell
        self._station = ""

    def add(self, rows: list[Any]) -> None:
        """One page of a station's positions in time order (entry_id, officer_id, station_id,
        at_s, lon, lat)."""
        if not rows:
            return
        if rows[0].station_id != self._station:
            self._station, self._last = rows[0].station_id, {}
        at = np.fromiter((r.at_s for r in rows), dtype=np.int64, count=len(rows))
        lon = np.fromiter((r.lon for r in rows), dtype=np.float64, count=len(rows))
        lat = np.fromiter((r.lat for r in rows), dtype=np.float64, count=len(rows))
        cells = h3_cells(lon, lat, self.resolution)
        shifts = shift_of(at, self.shift_starts, self.utc_offset_s)
        for row, t, cell, shift in zip(
            rows, at.tolist(), cells.tolist(), shifts.tolist(), strict=True
        ):
            before = self._last.get(row.officer_id)
            if before is not None and 0 < t - before[0] <= self.gap_cap_s:
                self._seconds[(before[1], self._station, before[2], before[3])] += t - before[0]
            self._last[row.officer_id] = (t, self._month(t), shift, cell)

    def _month(self, t: int) -> str:
        return datetime.fromtimestamp(t + self.utc_offset_s, UTC).strftime("%Y-%m")

    def rows(self) -> Iterator[dict[str, Any]]:
        for (month, station, shift, cell), seconds in sorted(self._seconds.items()):
            yield {
                "month": month,
                "station_id": station,
                "shift": self.shift_names[shift],
                "cell": format(cell, "x"),
                "minutes": round(seconds / 60, 3),
            }
