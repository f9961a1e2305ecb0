"""House numbers from address points: the exact point, or between its neighbours.

Used where a street has address points (OpenStreetMap ``addr:housenumber``) instead of
number ranges. A number between two known numbers on the same side (same parity) is placed
on the straight line between those two points, in proportion: the houses stand where their
neighbours stand, beside the street, not on its centre line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.geocode.gazetteer import Gazetteer

CLOSE_SPAN_M = 200.0  # neighbours farther apart than this leave room for a bend or a gap
CLOSE_NUMBERS = 40  # ... and so do numbers far apart
NEAR_NUMBER = 4  # one neighbour only: trusted when its number is this close


@dataclass
class AddressHit:
    """Where a number is, how it was found and how much that way of finding it is worth."""

    xy: tuple[float, float]
    how: str  # "address_point" or "interpolation"
    factor: float  # multiplies the name confidence
    neighbours: tuple[int, ...]


def exact(gaz: Gazetteer, entry: int, number: int, suffix: str) -> tuple[float, float] | None:
    """The address point of ``number`` (+ letter) on street ``entry``, if the data has it."""
    if suffix:
        hit = gaz.addr_exact.get((entry, f"{number}{suffix}"))
        if hit is not None:
            return hit
    return gaz.addr_exact.get((entry, str(number)))


def between(gaz: Gazetteer, entry: int, number: int) -> AddressHit | None:
    """``number`` placed from the street's address points (see the module docstring)."""
    model = gaz.addr_model.get(entry)
    if model is None:
        return None
    nums, xs, ys = model
    for same_side, side_factor in ((True, 1.0), (False, 0.8)):
        mask = (nums % 2 == number % 2) if same_side else np.ones(len(nums), dtype=bool)
        n, x, y = nums[mask], xs[mask], ys[mask]
        lo = np.flatnonzero(n < number)
        hi = np.flatnonzero(n > number)
        if len(lo) and len(hi):
            a, b = lo[-1], hi[0]
            t = (number - n[a]) / (n[b] - n[a])
            span = float(np.hypot(x[b] - x[a], y[b] - y[a]))
            close = span <= CLOSE_SPAN_M and n[b] - n[a] <= CLOSE_NUMBERS
            xy = (float(x[a] + t * (x[b] - x[a])), float(y[a] + t * (y[b] - y[a])))
            return AddressHit(
                xy, "interpolation", (0.97 if close else 0.7) * side_factor, (n[a], n[b])
            )
        near = [int(k) for k in lo[-1:]] + [int(k) for k in hi[:1]]
        near = [k for k in near if abs(int(n[k]) - number) <= NEAR_NUMBER]
        if near:
            k = min(near, key=lambda k: abs(int(n[k]) - number))
            return AddressHit(
                (float(x[k]), float(y[k])), "interpolation", 0.8 * side_factor, (int(n[k]),)
            )
    return None
