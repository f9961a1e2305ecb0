"""Time windows and categories: the one parser behind the layers, the analysis endpoints and
the chief's web pages (docs/layers.md, "Time windows").

The rule. Every window is ``[since_s, until_s)`` in UTC epoch seconds.

- A date alone (``2026-03-31``) is a whole local day (UTC plus ``public.utc_offset_minutes``,
  Lima by default). As a start it is that day's 00:00; as an end the day is included: the
  window stops at the next day's 00:00. "Del 1 al 31 de marzo" is ``2026-03-01`` to
  ``2026-03-31``, as people say it.
- A date-time (UTC when it has no zone) or epoch seconds is an instant, and an end instant is
  exclusive, except in OGC ``datetime`` intervals, which are closed (OGC API - Features): there
  the end instant itself is included, to the second.
- An end past the last second we can represent (``9999-12-31`` as a Lima day ends at
  10000-01-01T05:00:00Z; "everything up to 9999-12-31" is a common client habit) is clamped to
  ``END_MAX_S``, just after that second: every incident is in, and no 400.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sync.errors import InvalidRequest
from sync.protocol import CATEGORY_PATTERN
from sync.store.records import PointQuery

DAY_S = 86_400
# Epoch seconds from 1970 to the end of year 9999 UTC: what an ISO date can say, and far inside
# int64 (a bigger number reached the database, and numpy, as an overflow: a 500).
TIME_MIN_S = 0
TIME_MAX_S = 253_402_300_799  # 9999-12-31T23:59:59Z
# The exclusive end that holds every representable second: where a date or date-time end past
# TIME_MAX_S stops (epoch seconds keep their documented range, TIME_MIN_S..TIME_MAX_S).
END_MAX_S = TIME_MAX_S + 1
MAX_CATEGORIES = 50
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Window:
    """Which incidents: ``since_s <= occurred < until_s`` (None: open) and categories (None:
    all; an empty tuple matches nothing)."""

    since_s: int | None = None
    until_s: int | None = None
    categories: tuple[str, ...] | None = None

    def key(self) -> str:
        cats = ",".join(self.categories) if self.categories is not None else "*"
        return f"{self.since_s}/{self.until_s}/{cats}"

    def query(
        self, scope: tuple[str, ...] | None, bbox: tuple[float, float, float, float] | None = None
    ) -> PointQuery:
        return PointQuery(scope, self.since_s, self.until_s, self.categories, bbox)

    def mask(self, occurred: np.ndarray, category: np.ndarray) -> np.ndarray | None:
        """Which of these points pass (None: all of them)."""
        if self.since_s is None and self.until_s is None and self.categories is None:
            return None
        keep = np.ones(occurred.size, dtype=bool)
        if self.since_s is not None:
            keep &= occurred >= self.since_s
        if self.until_s is not None:
            keep &= occurred < self.until_s
        if self.categories is not None:
            keep &= np.isin(category, np.array(self.categories, dtype=object))
        return keep


def day_start(day: dt.date, offset_s: int) -> int:
    """Epoch seconds of a local day's 00:00 (``offset_s``: local time minus UTC)."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) - offset_s


def day_window(first: dt.date, last: dt.date, offset_s: int) -> tuple[int, int]:
    """``[first 00:00, the day after last 00:00)``: the local days first..last, both whole."""
    return day_start(first, offset_s), day_start(last, offset_s) + DAY_S


def bound(text: str, *, end: bool, offset_s: int, closed: bool = False) -> int:
    """A window edge from a date or an RFC 3339 / ISO 8601 date-time (the rule above).

    ``closed``: an end instant is included (OGC intervals). An end is at most ``END_MAX_S``.
    Raises ``ValueError``."""
    if _DATE.fullmatch(text):
        start = day_start(dt.date.fromisoformat(text), offset_s)
        return min(start + DAY_S, END_MAX_S) if end else start
    # Python 3.11 reads "Z" but not "z", which RFC 3339 allows.
    moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    # Whole seconds: "< floor + 1" keeps the fraction of the end's own second in a closed end.
    seconds = int(moment.timestamp() // 1)
    if not end:
        return seconds
    return min(seconds + 1 if closed else seconds, END_MAX_S)


def time_param(raw: str | None, name: str, *, end: bool, offset_s: int) -> int | None:
    """An analysis edge: a date, a date-time or epoch seconds (an instant); None when absent.

    Epoch seconds and starts must fall within ``TIME_MIN_S..TIME_MAX_S``, a date or date-time
    end within ``TIME_MIN_S..END_MAX_S`` (later ones are clamped by ``bound``); outside, 400
    ``invalid_request``."""
    if raw is None or raw == "":
        return None
    limits = {"parameter": name, "minimum": TIME_MIN_S, "maximum": TIME_MAX_S}
    if raw.isascii() and raw.isdigit():  # not "²" or other digits int() refuses
        seconds = int(raw) if len(raw) <= 20 else TIME_MAX_S + 1
        top = TIME_MAX_S
    else:
        top = END_MAX_S if end else TIME_MAX_S
        try:
            seconds = bound(raw, end=end, offset_s=offset_s)
        except (ValueError, OverflowError) as exc:
            raise InvalidRequest(
                f"{name} must be an ISO 8601 date or time, or epoch seconds", limits
            ) from exc
    if not TIME_MIN_S <= seconds <= top:
        raise InvalidRequest(f"{name} must be between 1970 and the end of year 9999", limits)
    return seconds


def interval(raw: str | None, offset_s: int) -> tuple[int | None, int | None]:
    """An OGC ``datetime``: an instant, or ``start/end`` (closed) with ``..`` or nothing for an
    open end; a date is its whole local day."""
    if not raw:
        return None, None
    try:
        if "/" not in raw:
            return bound(raw, end=False, offset_s=offset_s), bound(
                raw, end=True, offset_s=offset_s, closed=True
            )
        start, _, stop = raw.partition("/")
        # QGIS asks for "until <end>" as 0000-01-01T00:00:00Z/<end>: year 0 is no date
        # Python knows, and before every incident anyway, so an open start.
        open_start = start in ("", "..") or start.startswith("0000-")
        since = None if open_start else bound(start, end=False, offset_s=offset_s)
        until = (
            None if stop in ("", "..") else bound(stop, end=True, offset_s=offset_s, closed=True)
        )
    except (ValueError, OverflowError) as exc:
        raise InvalidRequest("datetime must be RFC 3339 (or a date)", {"value": raw[:80]}) from exc
    return since, until


def categories(values: Iterable[str]) -> tuple[str, ...] | None:
    """Category names from comma-separated values (repeated parameters are joined), sorted and
    unique; None (all) when none is named. Each must be a category name (400 otherwise)."""
    names = tuple(sorted({c.strip() for v in values for c in v.split(",") if c.strip()}))
    if not names:
        return None
    bad = [c for c in names if not re.match(CATEGORY_PATTERN, c)]
    if bad or len(names) > MAX_CATEGORIES:
        raise InvalidRequest(
            "category is a comma-separated list of names", {"parameter": "category", "bad": bad[:5]}
        )
    return names
