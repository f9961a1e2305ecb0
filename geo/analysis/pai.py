"""How well one period's hotspots predict the next: PAI, RRI and PEI.

With the hotspot cells of period 1 (Gi_Bin ≥ ``min_bin``, 95 % hot by default), the study
area of the hotspot result, and the incidents of period 2:

- hit rate = n2 / N2 — share of period-2 incidents that fall in the hotspot cells;
- PAI (Predictive Accuracy Index, Chainey et al. 2008) = (n2 / N2) / (a / A), a = hotspot
  area, A = study area (km², exact H3 cell areas);
- RRI (Recapture Rate Index, Levine 2008) = (n2 / n1) / (N2 / N1): growth of incidents in the
  hotspots relative to the growth in the whole area (> 1: the hotspots recapture more);
- PEI (Predictive Efficiency Index, Hunt 2016) = n2 / n2*, with n2* the most period-2
  incidents an area of the same size a could have held: cells taken densest first (period-2
  count per km²) until their area reaches a, the last one counted pro rata. On a grid of
  equal cells this is Hunt's "top k cells by count"; H3 cells differ in area by a few per
  cent, and the pro-rata last cell makes n2* an upper bound of every set of cells of area
  ≤ a, the hotspot cells included, so PEI stays within [0, 1].

n1, N1 come from the hotspot result's counts. Incidents of period 2 outside the study area
are not counted in N2 (they are reported in ``n_outside``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.analysis.hotspots import HotspotResult, cell_counts, compute_hotspots
from geo.errors import BadParameterError
from geo.grid.cells import bin_points, cell_areas_km2, select


@dataclass(frozen=True)
class PredictionScore:
    """Scores of period-1 hotspots against period-2 incidents (NaN when undefined)."""

    min_bin: int
    hot_cells: np.ndarray  # int64 cells predicted hot
    area_hot_km2: float
    area_total_km2: float
    n1_hot: int
    n1_total: int
    n2_hot: int
    n2_total: int
    n_outside: int
    hit_rate: float
    pai: float
    rri: float
    pei: float


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def score_prediction(
    hotspots: HotspotResult, lon2: np.ndarray, lat2: np.ndarray, *, min_bin: int = 2
) -> PredictionScore:
    """PAI, RRI and PEI of ``hotspots`` (period 1) against incidents at ``lon2, lat2``."""
    if not 1 <= min_bin <= 3:
        raise BadParameterError("min_bin must be 1, 2 or 3", {"min_bin": min_bin})
    cells = hotspots.cells
    hot = hotspots.gi_bin >= min_bin
    counts2, n_out = cell_counts(*bin_points(lon2, lat2, hotspots.spec), cells)
    area = cell_areas_km2(cells, hotspots.spec)
    a, big_a = float(area[hot].sum()), float(area.sum())
    n1, big_n1 = int(hotspots.counts[hot].sum()), int(hotspots.counts.sum())
    n2, big_n2 = int(counts2[hot].sum()), int(counts2.sum())
    best = best_capture(counts2, area, a)
    return PredictionScore(
        min_bin=min_bin,
        hot_cells=cells[hot],
        area_hot_km2=a,
        area_total_km2=big_a,
        n1_hot=n1,
        n1_total=big_n1,
        n2_hot=n2,
        n2_total=big_n2,
        n_outside=n_out,
        hit_rate=_ratio(n2, big_n2),
        pai=_ratio(_ratio(n2, big_n2), _ratio(a, big_a)),
        rri=_ratio(_ratio(n2, n1), _ratio(big_n2, big_n1)),
        # n2* >= n2 exactly; min() only absorbs the last bit of float rounding in n2*
        pei=min(_ratio(n2, best), 1.0) if best else float("nan"),
    )


def best_capture(counts: np.ndarray, area: np.ndarray, budget: float) -> float:
    """Most incidents an area of size ``budget`` could hold: the fractional-knapsack bound.

    Cells go densest first; the one that crosses the budget counts in proportion to the
    share of its area that fits. An earlier version stopped at the first cell that did not
    fit whole, so with unequal H3 areas the "best" could fall below the hotspots' own
    capture and PEI exceeded 1 (1.9 in a three-cell case).
    """
    if budget <= 0 or counts.size == 0:
        return 0.0
    density = counts / np.maximum(area, 1e-12)
    order = np.argsort(-density, kind="stable")
    used = np.cumsum(area[order])
    whole = used <= budget
    best = float(counts[order][whole].sum())
    k = int(whole.sum())
    if k < order.size:
        room = budget - (float(used[k - 1]) if k else 0.0)
        best += float(density[order[k]]) * max(room, 0.0)
    return best


def compute_pai(
    lon: np.ndarray,
    lat: np.ndarray,
    t: np.ndarray,
    category: np.ndarray,
    *,
    train: tuple[int, int],
    test: tuple[int, int],
    categories: list[int] | np.ndarray | None = None,
    min_bin: int = 2,
    **hotspot_options: object,
) -> tuple[HotspotResult, PredictionScore]:
    """Hotspots of the ``train`` window scored against the incidents of the ``test`` window
    (same categories, same cells and study area)."""
    res = compute_hotspots(
        lon,
        lat,
        t,
        category,
        window=train,
        categories=categories,
        **hotspot_options,  # type: ignore[arg-type]
    )
    m2 = select(t, category, window=test, categories=categories)
    score = score_prediction(res, np.asarray(lon)[m2], np.asarray(lat)[m2], min_bin=min_bin)
    return res, score
