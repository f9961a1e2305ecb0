"""Near-repeat analysis: the Knox test with space bands × time bands, as Ratcliffe's Near
Repeat Calculator (NRC) lays it out, with Monte Carlo permutations of the event times.

Bands follow the NRC manual's labels, in whole metres and whole days:

- space: ``same location`` (distance floored to whole metres is 0, i.e. under 1 m), then
  ``1 to d``, ``d+1 to 2d``, ... ``(n-1)d+1 to nd`` and ``more than nd`` metres;
- time: ``0 to t``, ``t+1 to 2t``, ... ``(m-1)t+1 to mt`` and ``more than mt`` days, days
  being the difference of the events' calendar dates (the NRC takes dates, not times).

Steenbeek (R package ``NearRepeat``, vignette "NRC") found that the NRC program itself counts
each band one unit lower than its label (``[a-1, b)``); we count what the labels say.

Every unordered pair of events is counted once in one (space, time) band.  The null
distribution keeps every event's place and gives it the date of another: permutation ``k``
is the ``k``-th ``rng.permutation(n)`` of ``numpy.random.default_rng(seed)``, and event ``i``
then takes the date of event ``perm[i]``.  The Knox ratio is observed / mean of the
permuted counts; the p-value is the observed count's rank among the permutations,
``(number of permutations with a count >= observed + 1) / (permutations + 1)``.

Speed: the pairs within the largest space band are found once (a grid of cells as wide as
that band, compiled: :mod:`geo.analysis.knox_kernel`); permuting dates does not move them, so one
pass over those pairs, with every point's dates under all permutations side by side, counts
all permutations.  The ``more than nd`` row needs no pairs: permuting dates leaves the
multiset of all pairwise date differences unchanged, so that row is the all-pairs count per
time band (computed once, from sorted dates) minus the rows within ``nd``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.analysis.knox_kernel import band_counts, close_pairs_csr
from geo.errors import BadParameterError, InvalidInputError

MAX_BANDS = 20
MAX_PERMUTATIONS = 9999


@dataclass(frozen=True, slots=True)
class KnoxBands:
    """Band widths and counts: ``n_space`` bands of ``distance_m``, ``n_time`` of ``days``."""

    distance_m: int = 100
    n_space: int = 5
    days: int = 7
    n_time: int = 5

    def check(self) -> None:
        for name, value, low, high in (
            ("distance_m", self.distance_m, 1, 100_000),
            ("n_space", self.n_space, 1, MAX_BANDS),
            ("days", self.days, 1, 3650),
            ("n_time", self.n_time, 1, MAX_BANDS),
        ):
            if not low <= int(value) <= high:
                raise BadParameterError(
                    f"{name} must be within {low}..{high}", {name: value, "min": low, "max": high}
                )

    def space_labels(self) -> list[str]:
        d, n = self.distance_m, self.n_space
        inner = [f"{1 if k == 0 else k * d + 1} to {(k + 1) * d}" for k in range(n)]
        return ["same location", *inner, f"more than {n * d}"]

    def time_labels(self) -> list[str]:
        t, n = self.days, self.n_time
        inner = [f"{0 if k == 0 else k * t + 1} to {(k + 1) * t}" for k in range(n)]
        return [*inner, f"more than {n * t}"]


@dataclass(frozen=True, slots=True)
class KnoxResult:
    """Tables are rows = space bands (``space_labels``), columns = time bands."""

    bands: KnoxBands
    space_labels: list[str]
    time_labels: list[str]
    observed: np.ndarray  # int64
    mean_permuted: np.ndarray  # float64
    knox_ratio: np.ndarray  # float64, NaN where the permuted mean is 0
    p_value: np.ndarray  # float64
    permutations: int
    seed: int
    n_events: int
    n_close_pairs: int  # pairs within the largest space band


def space_band(distance_m: np.ndarray, bands: KnoxBands) -> np.ndarray:
    """Row of each distance: 0 same location, 1..n the bands, n + 1 beyond them."""
    metres = np.floor(distance_m).astype(np.int64)
    row = (metres + bands.distance_m - 1) // bands.distance_m
    result: np.ndarray = np.minimum(row, bands.n_space + 1)
    return result


def time_band_table(max_days: int, bands: KnoxBands) -> np.ndarray:
    """Column of each day difference 0..max_days (0..t is 0, t+1..2t is 1, ...)."""
    diff = np.arange(max_days + 1, dtype=np.int64)
    column = np.maximum(diff - 1, 0) // bands.days
    result: np.ndarray = np.minimum(column, bands.n_time).astype(np.intp)
    return result


def knox_test(
    x: np.ndarray,
    y: np.ndarray,
    day: np.ndarray,
    bands: KnoxBands | None = None,
    permutations: int = 99,
    seed: int = 42,
) -> KnoxResult:
    """The Knox table of events at ``x``, ``y`` (metres) on calendar day numbers ``day``."""
    bands = bands or KnoxBands()
    bands.check()
    if not 1 <= permutations <= MAX_PERMUTATIONS:
        raise BadParameterError(
            f"permutations must be within 1..{MAX_PERMUTATIONS}", {"permutations": permutations}
        )
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    day = np.asarray(day, dtype=np.int64)
    if not x.shape == y.shape == day.shape or x.ndim != 1:
        raise InvalidInputError("x, y and day must be 1-d arrays of one length")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InvalidInputError("x and y must be finite")
    order, ptr, nbr, row = close_pairs_csr(x, y, bands.distance_m, bands.n_space)
    rel = (day - (day.min() if day.size else 0)).astype(np.int32)
    rng = np.random.default_rng(seed)
    dates = np.empty((permutations + 1, rel.size), dtype=np.int32)
    dates[0] = rel[order]
    for k in range(1, permutations + 1):
        # Event i takes the date of event perm[i] (input order), then into the grid's order.
        dates[k] = rel[rng.permutation(rel.size)][order]
    n_rows = bands.n_space + 2
    tables = band_counts(ptr, nbr, row, dates, bands.days, bands.n_time, n_rows)
    # Beyond the last space band: all pairs of that time band minus those within.
    tables[:, -1] = all_pairs_by_time(rel, bands) - tables[:, :-1].sum(axis=1)
    observed, permuted = tables[0], tables[1:]
    total = permuted.sum(axis=0, dtype=np.float64)
    at_least = (permuted >= observed).sum(axis=0)
    mean = total / permutations
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mean > 0, observed / mean, np.nan)
    return KnoxResult(
        bands,
        bands.space_labels(),
        bands.time_labels(),
        observed,
        mean,
        ratio,
        (at_least + 1) / (permutations + 1),
        permutations,
        seed,
        int(x.size),
        int(nbr.size),
    )


def all_pairs_by_time(day: np.ndarray, bands: KnoxBands) -> np.ndarray:
    """Pairs of all events per time band (whatever their distance), from sorted dates."""
    ordered = np.sort(day.astype(np.int64))
    n = ordered.size
    index = np.arange(n)

    def within(days: int) -> int:  # pairs i < j with date difference <= days
        return int((np.searchsorted(ordered, ordered + days, side="right") - index - 1).sum())

    edges = [within((k + 1) * bands.days) for k in range(bands.n_time)]
    cumulative = np.array([*edges, n * (n - 1) // 2], dtype=np.int64)
    return np.diff(cumulative, prepend=0)


def local_day(occurred_s: np.ndarray, utc_offset_s: int) -> np.ndarray:
    """Local calendar day number (local time = UTC + ``utc_offset_s``, the server's
    ``public.utc_offset_minutes``: the rule CompStat and the pages use)."""
    return (np.asarray(occurred_s, dtype=np.int64) + int(utc_offset_s)) // 86_400


def lima_day(occurred_s: np.ndarray) -> np.ndarray:
    """Calendar day number in Lima (UTC-5 all year, no daylight saving since 1994)."""
    return local_day(occurred_s, -5 * 3600)
