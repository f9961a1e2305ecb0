"""CompStat periods, cut in Lima time: the last 7 days, the last 28 days and the year to
date, each against the period just before it (as many days) and the same dates a year
earlier.

A period is a run of whole Lima calendar days ending on the reference date (included).
Lima is UTC-5 all year (no daylight saving since 1994), so a Lima day runs from 05:00 UTC
to 05:00 UTC the next day; the epoch edges are computed through ``zoneinfo`` all the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

LIMA = ZoneInfo("America/Lima")
PERIODS = ("7d", "28d", "ytd")


@dataclass(frozen=True, slots=True)
class Span:
    """Lima dates ``first``..``last`` (both included) and their epoch edges ``[start, end)``."""

    first: dt.date
    last: dt.date

    @property
    def start_s(self) -> int:
        return lima_midnight(self.first)

    @property
    def end_s(self) -> int:
        return lima_midnight(self.last + dt.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class Comparison:
    name: str
    current: Span
    previous: Span
    last_year: Span


def lima_midnight(day: dt.date) -> int:
    """Epoch seconds of 00:00 in Lima on ``day``."""
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=LIMA).timestamp())


def lima_today(now_s: float) -> dt.date:
    return dt.datetime.fromtimestamp(now_s, LIMA).date()


def year_before(day: dt.date) -> dt.date:
    """The same date a year earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def comparisons(reference: dt.date) -> list[Comparison]:
    """The three CompStat periods ending on ``reference`` and what each is compared with."""
    out = []
    for name in PERIODS:
        if name == "ytd":
            first = reference.replace(month=1, day=1)
        else:
            first = reference - dt.timedelta(days=int(name[:-1]) - 1)
        current = Span(first, reference)
        length = dt.timedelta(days=current.days)
        previous = Span(first - length, first - dt.timedelta(days=1))
        last_year = Span(year_before(first), year_before(reference))
        out.append(Comparison(name, current, previous, last_year))
    return out


def change(current: int, before: int) -> tuple[int, float | None]:
    """Difference and percent change (None when there was nothing before)."""
    diff = current - before
    return diff, (round(100.0 * diff / before, 1) if before else None)
