"""CompStat periods, cut in local (Lima) time: the last 7 days, the last 28 days and the
year to date, each against the period just before it (as many days) and the same dates a
year earlier.

A period is a run of whole local calendar days ending on the reference date (included).
Local time is UTC plus one fixed offset, the server's ``public.utc_offset_minutes`` (-300:
Lima keeps UTC-5 all year, no daylight saving since 1994), the same rule the web pages use
(``server.web.filters.day_start``): a Lima day runs from 05:00 UTC to 05:00 UTC the next day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

LIMA_UTC_OFFSET_S = -5 * 3600  # the default of public.utc_offset_minutes
DAY_S = 86_400
PERIODS = ("7d", "28d", "ytd")


@dataclass(frozen=True, slots=True)
class Span:
    """Local dates ``first``..``last`` (both included) and their epoch edges ``[start, end)``."""

    first: dt.date
    last: dt.date
    utc_offset_s: int = LIMA_UTC_OFFSET_S

    @property
    def start_s(self) -> int:
        return local_midnight(self.first, self.utc_offset_s)

    @property
    def end_s(self) -> int:
        return local_midnight(self.last, self.utc_offset_s) + DAY_S

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class Comparison:
    name: str
    current: Span
    previous: Span
    last_year: Span


def local_midnight(day: dt.date, utc_offset_s: int) -> int:
    """Epoch seconds of local 00:00 on ``day``."""
    return (day - dt.date(1970, 1, 1)).days * DAY_S - utc_offset_s


def local_today(now_s: float, utc_offset_s: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=(int(now_s) + utc_offset_s) // DAY_S)


def lima_midnight(day: dt.date) -> int:
    """Epoch seconds of 00:00 in Lima on ``day``."""
    return local_midnight(day, LIMA_UTC_OFFSET_S)


def year_before(day: dt.date) -> dt.date:
    """The same date a year earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def comparisons(reference: dt.date, utc_offset_s: int = LIMA_UTC_OFFSET_S) -> list[Comparison]:
    """The three CompStat periods ending on ``reference`` and what each is compared with."""
    out = []
    for name in PERIODS:
        if name == "ytd":
            first = reference.replace(month=1, day=1)
        else:
            first = reference - dt.timedelta(days=int(name[:-1]) - 1)
        current = Span(first, reference, utc_offset_s)
        length = dt.timedelta(days=current.days)
        previous = Span(first - length, first - dt.timedelta(days=1), utc_offset_s)
        last_year = Span(year_before(first), year_before(reference), utc_offset_s)
        out.append(Comparison(name, current, previous, last_year))
    return out


def change(current: int, before: int) -> tuple[int, float | None]:
    """Difference and percent change (None when there was nothing before)."""
    diff = current - before
    return diff, (round(100.0 * diff / before, 1) if before else None)
