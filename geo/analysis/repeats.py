"""Repeat locations and the concentration of incidents (the "80/20" law of crime).

A *place* is a group of incidents within ``tolerance_m`` of each other: points joined by
any chain of pairs closer than the tolerance (single linkage, so with a tolerance much
larger than the spacing of a busy street a chain can join neighbours; keep it small, a
few metres: the same address geocoded, the same GPS fix).  Concentration ranks units
(places or grid cells) by their count and gives the share of incidents in the top X % of
them, over the units that had at least one incident (Weisburd's crime-specific measure;
units without incidents are not known to this module).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.errors import BadParameterError, InvalidInputError

MAX_TOLERANCE_M = 50.0


@dataclass(frozen=True, slots=True)
class Places:
    """``label[i]``: the place of incident ``i``; ``counts[p]``: incidents at place ``p``."""

    label: np.ndarray
    counts: np.ndarray

    def repeated(self) -> np.ndarray:
        """Places with two or more incidents, most incidents first (ties: lowest label)."""
        ids = np.flatnonzero(self.counts >= 2)
        return ids[np.lexsort((ids, -self.counts[ids]))]


def group_places(x: np.ndarray, y: np.ndarray, tolerance_m: float) -> Places:
    """Places of incidents at ``x``, ``y`` (metres): chains of pairs within the tolerance."""
    if not 0 <= tolerance_m <= MAX_TOLERANCE_M:
        raise BadParameterError(
            f"tolerance_m must be within 0..{MAX_TOLERANCE_M:g}", {"tolerance_m": tolerance_m}
        )
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidInputError("x and y must be 1-d arrays of one length")
    n = x.size
    if n == 0:
        return Places(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(tolerance_m, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    label = label.astype(np.int64)
    return Places(label, np.bincount(label).astype(np.int64))


@dataclass(frozen=True, slots=True)
class Concentration:
    """Shares of incidents in the busiest units, and how few units hold a given share."""

    units: int  # units with at least one incident
    incidents: int
    top: list[tuple[float, int, float]]  # (top percent of units, how many units, share)
    holding: list[tuple[float, int, float]]  # (share of incidents, units needed, percent)


def concentration(
    counts: np.ndarray,
    top_percents: tuple[float, ...] = (1.0, 5.0, 10.0, 20.0, 50.0),
    shares: tuple[float, ...] = (0.5, 0.8),
) -> Concentration:
    """Share of incidents in the top X % of units; the fewest units holding a share.

    The top X % of ``u`` units is the ``ceil(X/100 * u)`` busiest ones.
    """
    counts = np.asarray(counts, dtype=np.int64)
    counts = np.sort(counts[counts > 0])[::-1]
    total, units = int(counts.sum()), int(counts.size)
    cumulative = np.cumsum(counts)
    top = []
    for percent in top_percents:
        k = min(units, int(np.ceil(percent / 100.0 * units - 1e-9)))
        share = float(cumulative[k - 1] / total) if k > 0 and total else 0.0
        top.append((float(percent), k, share))
    holding = []
    for share in shares:
        k = int(np.searchsorted(cumulative, share * total - 1e-9) + 1) if total else 0
        holding.append((float(share), k, 100.0 * k / units if units else 0.0))
    return Concentration(units, total, top, holding)
