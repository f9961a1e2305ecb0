"""House-number interpolation along a cuadra and reverse geocoding (point -> address)."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from geo.geocode.gazetteer import Gazetteer

SIDE_OFFSET_M = 10.0  # houses stand beside the street, not on its centre line


def _side_range(gaz: Gazetteer, seg: int, even: bool) -> tuple[int, int, bool]:
    lo, hi = (gaz.from_r[seg], gaz.to_r[seg]) if even else (gaz.from_l[seg], gaz.to_l[seg])
    if lo < 0 or hi < 0:  # no ranges per side: use whatever the segment has
        vals = [
            v for v in (gaz.from_l[seg], gaz.to_l[seg], gaz.from_r[seg], gaz.to_r[seg]) if v >= 0
        ]
        return (min(vals), max(vals), False) if vals else (-1, -1, False)
    return int(lo), int(hi), True


def interpolate(gaz: Gazetteer, seg: int, number: int) -> tuple[float, float]:
    """Point (metres) of house ``number`` on segment ``seg``.

    Numbers grow from the segment's first vertex to its last; even numbers are on the right
    of that direction, odd on the left (when the data has ranges per side).
    """
    even = number % 2 == 0
    lo, hi, sided = _side_range(gaz, seg, even)
    t = 0.5 if hi <= lo else min(max((number - lo) / (hi - lo), 0.0), 1.0)  # np.clip's value
    point = shapely.line_interpolate_point(gaz.seg_geom[seg], t, normalized=True)
    dx, dy = gaz.x1[seg] - gaz.x0[seg], gaz.y1[seg] - gaz.y0[seg]
    length = float(np.hypot(dx, dy)) or 1.0
    off = (SIDE_OFFSET_M if even else -SIDE_OFFSET_M) if sided else 0.0
    return (point.x + off * dy / length, point.y - off * dx / length)


def reverse_lookup(
    gaz: Gazetteer, lon: float, lat: float, max_distance_m: float
) -> dict[str, Any] | None:
    """Nearest segment within ``max_distance_m``: street, house number, district, distance."""
    x, y = gaz.metric.forward(lon, lat)
    pt = shapely.points(float(x), float(y))
    idx, dist = gaz.seg_tree.query_nearest(pt, max_distance=max_distance_m, return_distance=True)
    if len(idx) == 0:
        return None
    seg = int(idx[0])
    geom = gaz.seg_geom[seg]
    t = float(shapely.line_locate_point(geom, pt, normalized=True))
    dx, dy = gaz.x1[seg] - gaz.x0[seg], gaz.y1[seg] - gaz.y0[seg]
    right = (float(x) - gaz.x0[seg]) * dy - (float(y) - gaz.y0[seg]) * dx > 0
    lo, hi, _ = _side_range(gaz, seg, right)
    number = None
    if lo >= 0:
        n = round(lo + t * (hi - lo))
        number = n - n % 2 + (0 if (lo % 2 == 0) else 1)
        number = int(min(max(number, lo), hi))
    street = gaz.streets[int(gaz.seg_street[seg])]
    d = gaz.districts.get(street.district or "", {})
    return {
        "street": street.label,
        "number": number,
        "district_code": street.district,
        "district": d.get("name"),
        "segment": gaz.seg_code[seg],
        "distance_m": round(float(dist[0]), 1),
    }
