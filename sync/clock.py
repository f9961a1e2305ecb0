"""Hybrid logical clocks (Kulkarni et al., 2014).

A stamp is written ``"<wall ms, 13 digits>-<counter, 5 digits>"`` so that string order equals
time order in every language.  Ties between devices are broken by device id (see
``sync.merge``).  The server never trusts a device's wall clock further than
``max_ahead_ms`` into its own future: see :func:`check_skew`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sync.errors import ClockSkew, InvalidField

HLC_PATTERN = re.compile(r"^\d{13}-\d{5}$")
MAX_COUNTER = 99_999


@dataclass(frozen=True, order=True, slots=True)
class Stamp:
    """One hybrid logical clock reading."""

    wall_ms: int
    counter: int

    def __str__(self) -> str:
        return f"{self.wall_ms:013d}-{self.counter:05d}"


def parse_stamp(text: object) -> Stamp:
    """Parse the wire form of a stamp; raise ``InvalidField`` on anything else."""
    # Checked by hand: the regular expression was a fifth of a push's validation.
    if (
        isinstance(text, str)
        and len(text) == 19
        and text[13] == "-"
        and text.isascii()
        and text[:13].isdigit()
        and text[14:].isdigit()
    ):
        return Stamp(int(text[:13]), int(text[14:]))
    raise InvalidField(
        "hlc must look like '1764172800000-00000' (13-digit ms, dash, 5-digit counter)",
        {"field": "hlc"},  # the value is not echoed (docs/protocol.md: per-change errors)
    )


def check_skew(stamp: Stamp, now_ms: int, max_ahead_ms: int) -> None:
    """Refuse a stamp too far in the server's future, telling the device its offset."""
    ahead = stamp.wall_ms - now_ms
    if ahead > max_ahead_ms:
        raise ClockSkew(
            "the change's clock is ahead of the server's by more than allowed; "
            "correct the device clock by offset_ms and stamp the change again",
            {"server_time_ms": now_ms, "offset_ms": -ahead, "max_ahead_ms": max_ahead_ms},
        )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class HybridClock:
    """A device's (or the server's) clock: ``tick`` for local events, ``observe`` on receive.

    ``offset_ms`` corrects a wrong wall clock; the client learns it from the server's
    ``server_time_ms``.
    """

    def __init__(self, last: Stamp | None = None, offset_ms: int = 0) -> None:
        self.last = last or Stamp(0, 0)
        self.offset_ms = offset_ms

    def _physical(self) -> int:
        return now_ms() + self.offset_ms

    def tick(self) -> Stamp:
        wall = max(self._physical(), self.last.wall_ms)
        counter = self.last.counter + 1 if wall == self.last.wall_ms else 0
        self.last = _carry(wall, counter)
        return self.last

    def observe(self, remote: Stamp) -> Stamp:
        wall = max(self._physical(), self.last.wall_ms, remote.wall_ms)
        if wall == self.last.wall_ms == remote.wall_ms:
            counter = max(self.last.counter, remote.counter) + 1
        elif wall == self.last.wall_ms:
            counter = self.last.counter + 1
        elif wall == remote.wall_ms:
            counter = remote.counter + 1
        else:
            counter = 0
        self.last = _carry(wall, counter)
        return self.last


def _carry(wall: int, counter: int) -> Stamp:
    # A counter overflow borrows a millisecond rather than breaking the 5-digit wire form.
    if counter > MAX_COUNTER:
        return Stamp(wall + 1, 0)
    return Stamp(wall, counter)
