"""Publication rules for the public summaries: pure functions over counts.

What the public sees is decided here, once, for the page and the API alike:

- **Fixed periods.** Calendar months (in the city's local time) and nothing else: no
  arbitrary windows, so two overlapping periods can never be differenced.
- **Delay.** A month is published only when it ended at least ``delay_days`` ago.
- **Fixed geographies.** Districts (counts and rates) and a coarse fixed H3 grid; never a
  point, never an arbitrary polygon.
- **k-threshold.** A count from 1 to k − 1 is suppressed (primary suppression).
- **Complementary suppression.** A month's district × category table is published with its
  row, column and grand totals; wherever a line of that table (a row or a column, totals
  included) would let a suppressed count be recovered by subtraction, more cells are
  suppressed until every line hides at least k between its suppressed cells.
- **Generalised cells.** Cell counts are rounded to a base and cells under k are dropped.

Every aggregate published for a month comes from the same suppressed table (the trend is
its totals row), so no two published numbers disagree about a hidden one.

- **Published once.** A month is computed when it first leaves the delay window and is
  frozen from then on (the server stores it and serves the stored copy): a late report, an
  edit or a deletion never changes a published number, so versions cannot be differenced.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

DAY_S = 86_400
# Version of the publication algorithm, stored with every frozen month: bump it whenever
# what a month's publication contains or how it is suppressed changes.
RULES_VERSION = 1


@dataclass(frozen=True, slots=True)
class Rules:
    """The publication rules (the server fills them from its settings)."""

    k: int = 5
    delay_days: int = 28
    months: int = 12
    utc_offset_s: int = -5 * 3600
    cell_resolution: int = 6
    cell_rounding: int = 10


# --- periods ---------------------------------------------------------------------------


def month_index(t_s: np.ndarray, utc_offset_s: int) -> np.ndarray:
    """The local calendar month of each epoch second as ``year * 12 + month - 1``."""
    days = (np.asarray(t_s, dtype=np.int64) + utc_offset_s) // DAY_S
    months = np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months + 1970 * 12


def month_label(index: int) -> str:
    """``2025-09`` for a month index."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def parse_month(label: str) -> int | None:
    """The month index of ``YYYY-MM``; None when it is not one."""
    if len(label) != 7 or label[4] != "-" or not (label[:4] + label[5:]).isdigit():
        return None
    year, month = int(label[:4]), int(label[5:])
    return year * 12 + month - 1 if 1 <= month <= 12 else None


def month_bounds(index: int, utc_offset_s: int) -> tuple[int, int]:
    """[start, end) of a local calendar month in epoch seconds."""
    year, month = index // 12, index % 12 + 1
    start = calendar.timegm((year, month, 1, 0, 0, 0)) - utc_offset_s
    nxt = index + 1
    end = calendar.timegm((nxt // 12, nxt % 12 + 1, 1, 0, 0, 0)) - utc_offset_s
    return start, end


def published_months(
    now_s: int, first_s: int | None, rules: Rules, last_s: int | None = None
) -> list[int]:
    """The months the public may see, oldest first.

    Each ended at least ``delay_days`` before the cut-off: ``now_s``, or the newest data
    (``last_s``) when that is earlier, so the freshest weeks of data are always held back.
    None starts before the first data; at most ``rules.months`` of them.
    """
    if first_s is None:
        return []
    cutoff = min(now_s, last_s) if last_s is not None else now_s
    last = int(month_index(np.array([cutoff - rules.delay_days * DAY_S]), rules.utc_offset_s)[0])
    last -= 1  # the month holding the cut-off has not fully ended before it
    first = int(month_index(np.array([first_s]), rules.utc_offset_s)[0])
    start = max(first, last - rules.months + 1)
    return list(range(start, last + 1))


def months_to_freeze(publishable: list[int], frozen: list[int]) -> list[int]:
    """The publishable months to publish now: those after the newest month already published.

    Publication only ever moves forward: a month older than the newest published one that
    was never published (e.g. the first report of an old month arrives late) stays
    unpublished, so no month first appears with nothing but fresh late reports in it.
    """
    newest = max(frozen, default=None)
    return [m for m in publishable if newest is None or m > newest]


# --- the district x category table ------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """Counts with margins: ``counts[r, c]`` for row ``rows[r]`` and column ``cols[c]``,
    ``counts[-1, :]`` the column totals, ``counts[:, -1]`` the row totals, ``counts[-1, -1]``
    the grand total. ``hidden`` marks what must not be published; ``primary`` the counts
    under k themselves (the rest of ``hidden`` is complementary suppression)."""

    rows: tuple[str, ...]
    cols: tuple[str, ...]
    counts: np.ndarray
    hidden: np.ndarray
    primary: np.ndarray

    def published(self) -> np.ndarray:
        """The counts as published: float, NaN where hidden."""
        return np.where(self.hidden, np.nan, self.counts.astype(np.float64))


def cross_table(
    row_of: np.ndarray, col_of: np.ndarray, rows: tuple[str, ...], cols: tuple[str, ...]
) -> np.ndarray:
    """Counts of (row, column) pairs with margins, shape (len(rows) + 1, len(cols) + 1).

    Pairs whose row or column is not listed are left out (and out of the totals)."""
    r_pos = _positions(np.asarray(row_of, dtype=object), rows)
    c_pos = _positions(np.asarray(col_of, dtype=object), cols)
    ok = (r_pos >= 0) & (c_pos >= 0)
    n_r, n_c = len(rows), len(cols)
    inner = np.bincount(r_pos[ok] * n_c + c_pos[ok], minlength=n_r * n_c).reshape(n_r, n_c)
    return with_margins(inner)


def with_margins(inner: np.ndarray) -> np.ndarray:
    """An (R, C) count array with its totals row and column appended."""
    inner = np.asarray(inner, dtype=np.int64)
    out = np.zeros((inner.shape[0] + 1, inner.shape[1] + 1), dtype=np.int64)
    out[:-1, :-1] = inner
    out[:-1, -1] = inner.sum(axis=1)
    out[-1, :-1] = inner.sum(axis=0)
    out[-1, -1] = inner.sum()
    return out


def _positions(values: np.ndarray, keys: tuple[str, ...]) -> np.ndarray:
    lookup = {key: i for i, key in enumerate(keys)}
    return np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int64, count=values.size)


def suppress(counts: np.ndarray, k: int, audit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Primary and complementary suppression of a table with margins.

    Returns (hidden, primary). Primary: counts from 1 to k − 1. Then, until nothing changes,
    every line (row or column, its total last) is checked: a line with hidden cells leaks
    when its total is shown and the hidden cells of its interior add up to less than k (one
    hidden cell alone is always recovered by subtraction). A leaking line hides one more
    cell: the smallest positive shown interior cell, else the smallest shown one, else its
    total. With ``audit``, lines are not trusted alone: the largest value every hidden small
    count could take given ALL published numbers is found by linear programming, and while
    one could not reach k (so an attacker would know it is small), a neighbour is hidden too.
    """
    counts = np.asarray(counts, dtype=np.int64)
    primary = (counts > 0) & (counts < k)
    hidden = primary.copy()
    for _ in range(counts.size):
        _protect_lines(counts, hidden, k)
        weak = exposed(counts, hidden, primary, k) if audit else []
        if not weak:
            break
        extra = _widening_cell(counts, hidden, weak[0])
        if extra is None:
            break
        hidden[extra] = True
    return hidden, primary


def _widening_cell(
    counts: np.ndarray, hidden: np.ndarray, weak: tuple[int, int]
) -> tuple[int, int] | None:
    """A shown cell to hide so that an exposed count gains room: in its row, else in its
    column, else anywhere that closes a new cycle of hidden cells (its row and its column
    both hold hidden cells); the smallest positive such count."""
    i, j = weak
    shown = ~hidden
    shown[-1, :] = False  # margins are hidden only by the line rule
    shown[:, -1] = False
    options = [np.zeros_like(shown) for _ in range(3)]
    options[0][i, :] = shown[i, :]
    options[1][:, j] = shown[:, j]
    rows_hidden = np.asarray(hidden.any(axis=1), dtype=bool)
    cols_hidden = np.asarray(hidden.any(axis=0), dtype=bool)
    options[2] = shown & rows_hidden[:, None] & cols_hidden[None, :]
    for pool in options:
        positive = pool & (counts > 0)
        pool = positive if positive.any() else pool
        if pool.any():
            flat = np.flatnonzero(pool.ravel())
            best = int(flat[np.argmin(counts.ravel()[flat])])
            return best // counts.shape[1], best % counts.shape[1]
    return None


def _protect_lines(counts: np.ndarray, hidden: np.ndarray, k: int) -> None:
    changed = True
    while changed:
        changed = False
        for i in range(counts.shape[0]):
            changed |= _protect(counts[i, :], hidden[i, :], k)
        for j in range(counts.shape[1]):
            changed |= _protect(counts[:, j], hidden[:, j], k)


def exposed(
    counts: np.ndarray, hidden: np.ndarray, primary: np.ndarray, k: int
) -> list[tuple[int, int]]:
    """Hidden small counts whose largest value consistent with every published number of
    the table (all line equations, counts ≥ 0) is under k."""
    n_c = counts.shape[1]
    unknown = np.flatnonzero(hidden.ravel())
    if unknown.size == 0:
        return []
    column = {int(cell): i for i, cell in enumerate(unknown)}
    a_eq, b_eq = _line_equations(counts, column)
    out = []
    for cell in np.flatnonzero(primary.ravel()):
        c = np.zeros(unknown.size)
        c[column[int(cell)]] = -1.0
        found = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if found.status == 0 and -found.fun < k - 1e-6:
            out.append((int(cell) // n_c, int(cell) % n_c))
    return out


def _line_equations(counts: np.ndarray, column: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Every line's "interior − total = 0" over the unknown cells, known ones moved right."""
    n_r, n_c = counts.shape
    flat = np.arange(counts.size).reshape(n_r, n_c)
    lines = [flat[i, :] for i in range(n_r)] + [flat[:, j] for j in range(n_c)]
    rows, rhs = [], []
    for line in lines:
        sign = np.ones(line.size)
        sign[-1] = -1.0
        row = np.zeros(len(column))
        known = 0.0
        for cell, s in zip(line.tolist(), sign, strict=True):
            if cell in column:
                row[column[cell]] += s
            else:
                known += s * counts.ravel()[cell]
        if row.any():
            rows.append(row)
            rhs.append(-known)
    return np.array(rows), np.array(rhs)


def _protect(line: np.ndarray, hidden: np.ndarray, k: int) -> bool:
    """Hide cells of one line (a view into the mask) until it leaks nothing; True if any."""
    changed = False
    while _leaks(line, hidden, k):
        hidden[_next_to_hide(line, hidden)] = True
        changed = True
    return changed


def _leaks(line: np.ndarray, hidden: np.ndarray, k: int) -> bool:
    n_hidden = int(hidden.sum())
    if n_hidden == 0:
        return False
    if n_hidden == 1:
        return True  # one unknown in one equation
    if hidden[-1]:
        return False  # the total and an interior cell unknown: the line alone tells nothing
    return int(line[:-1][hidden[:-1]].sum()) < k


def _next_to_hide(line: np.ndarray, hidden: np.ndarray) -> int:
    interior = np.flatnonzero(~hidden[:-1])
    if interior.size == 0:
        return line.size - 1
    values = line[:-1][interior]
    positive = interior[values > 0]
    pool = positive if positive.size else interior
    return int(pool[np.argmin(line[pool])])


def district_table(
    districts: np.ndarray,
    categories: np.ndarray,
    rows: tuple[str, ...],
    cols: tuple[str, ...],
    k: int,
    memo: dict[Any, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Table:
    """One month's district × category table of incidents, suppressed.

    ``memo`` (optional) remembers suppression patterns by table, so months whose counts did
    not change are not audited again."""
    counts = cross_table(districts, categories, rows, cols)
    key = (counts.shape, counts.tobytes(), k)
    if memo is not None and key in memo:
        hidden, primary = memo[key]
    else:
        hidden, primary = suppress(counts, k)
        if memo is not None:
            memo[key] = (hidden, primary)
    return Table(rows, cols, counts, hidden, primary)


def rates(totals: np.ndarray, hidden: np.ndarray, population: np.ndarray, per: int) -> np.ndarray:
    """Rate per ``per`` residents; NaN where the count is hidden (a rate would give it away)
    or the population is unknown."""
    pop = np.asarray(population, dtype=np.float64)
    ok = ~np.asarray(hidden) & (pop > 0)
    out = np.full(pop.shape, np.nan)
    np.divide(np.asarray(totals, dtype=np.float64) * per, pop, out=out, where=ok)
    return out


# --- coarse cells ------------------------------------------------------------------------


def generalise_cells(cells: np.ndarray, k: int, rounding: int) -> tuple[np.ndarray, np.ndarray]:
    """Count incidents per coarse cell; drop cells under k; round the rest to ``rounding``
    (half up, never below ``rounding``). Returns (cells, published counts), cells sorted."""
    uniq, counts = np.unique(np.asarray(cells, dtype=np.int64), return_counts=True)
    keep = counts >= k
    uniq, counts = uniq[keep], counts[keep]
    base = max(int(rounding), 1)
    rounded = ((counts + base // 2) // base) * base
    return uniq, np.maximum(rounded, base)
