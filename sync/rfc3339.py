"""RFC 3339 date-times as the wire carries them (docs/protocol.md, "Changes").

A device's date-time (an incident's ``occurred_at``, a patrol-log entry's ``at``, an
attachment's ``captured_at``, an acknowledgement's ``at``) is checked against the grammar of
RFC 3339 section 5.6 and then kept exactly as sent: a value rewritten on the way in would not
be what the device stored, or what it hashed. The server reads the instant only for its own
indexes (the occurred second of the maps, a track point's second, a notice's expiry).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# full-date "T" full-time; time-secfrac optional, one digit or more; time-offset "Z" or
# +hh:mm / -hh:mm. Section 5.6 lets "T" and "Z" be lower case. [0-9], never \d: in Python's
# re and in pydantic's engine \d also takes the digits of other scripts.
PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
MIN_LENGTH = 20  # 2026-11-26T14:05:00Z
MAX_LENGTH = 40  # room for 14 digits of a second's fraction with an offset
EXAMPLE = "2026-11-26T14:05:00-05:00"

_PARTS = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MILLISECOND = timedelta(milliseconds=1)


def instant(text: str) -> datetime:
    """The moment ``text`` names, to the microsecond (further digits of the fraction are cut:
    rounding up could move it into the next second). ``ValueError`` unless ``text`` is an
    RFC 3339 date-time naming a real moment: no 31 February, hour 24, leap second 60 (a
    ``datetime`` has none), year 0000 or offset hour above 23."""
    found = _PARTS.fullmatch(text)
    if found is None:
        raise ValueError(f"must be an RFC 3339 date-time with an offset, e.g. {EXAMPLE}")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = found.groups()
    micro = int((fraction or "")[:6].ljust(6, "0"))
    try:
        naive = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError as exc:
        raise ValueError(f"names no real date and time ({exc})") from exc
    return naive.replace(microsecond=micro, tzinfo=_zone(sign, off_h, off_m))


def _zone(sign: str | None, hours: str | None, minutes: str | None) -> timezone:
    if sign is None or hours is None or minutes is None:
        return UTC
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError("the offset must be at most 23:59")
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-offset if sign == "-" else offset)


def check(text: str) -> str:
    """``text`` itself, unchanged, if it is an RFC 3339 date-time (else ``ValueError``)."""
    instant(text)
    return text


def epoch_s(text: str) -> int:
    """The Unix second ``text`` falls in (floored, so a fraction never moves it)."""
    return (instant(text) - _EPOCH) // _SECOND


def epoch_ms(text: str) -> int:
    """The Unix millisecond ``text`` falls in (floored)."""
    return (instant(text) - _EPOCH) // _MILLISECOND
