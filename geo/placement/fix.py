"""Checks on a phone's GPS fix before it is trusted as an incident location."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import shapely

DEFAULT_MAX_ACCURACY_M = 100.0


@dataclass
class FixAssessment:
    """``ok`` when no flag was raised; flags: missing, poor_accuracy, outside_city, null_island."""

    ok: bool
    flags: list[str] = field(default_factory=list)
    accuracy_m: float | None = None


def assess_fix(
    lon: float | None,
    lat: float | None,
    accuracy_m: float | None,
    city_bounds: Any,
    max_accuracy_m: float = DEFAULT_MAX_ACCURACY_M,
) -> FixAssessment:
    """Flag a fix that is missing, too imprecise, at (0, 0), or outside the city.

    ``city_bounds`` is (min lon, min lat, max lon, max lat) or a shapely geometry (the city
    outline, which is stricter than its box). An unknown accuracy is flagged as poor: a phone
    that does not report it cannot be trusted to be precise.
    """
    if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)):
        return FixAssessment(False, ["missing"], accuracy_m)
    flags = []
    if accuracy_m is None or not math.isfinite(accuracy_m) or accuracy_m > max_accuracy_m:
        flags.append("poor_accuracy")
    if abs(lon) < 1e-6 and abs(lat) < 1e-6:
        flags.append("null_island")
    if isinstance(city_bounds, tuple | list):
        x0, y0, x1, y1 = city_bounds
        inside = x0 <= lon <= x1 and y0 <= lat <= y1
    else:
        inside = bool(shapely.intersects_xy(city_bounds, lon, lat))
    if not inside:
        flags.append("outside_city")
    return FixAssessment(not flags, flags, accuracy_m)
