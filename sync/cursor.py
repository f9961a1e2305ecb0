"""Pull cursors: which database and how far, in a form the server can check.

A cursor is ``<epoch>.<seq>``: the database's epoch (12 lowercase hex digits, random, new
after every restore or re-initialisation) and the last sequence number the device processed,
in canonical decimal.  Sequence numbers are reissued after a restore from backup, so a cursor
of another epoch cannot be trusted: it is refused, and the device starts again from the
beginning of its scope.  A cursor whose ``seq`` is greater than any the database has given is
refused too (it was never issued).

A plain decimal cursor (what servers before epochs gave) is accepted only by the database
that was upgraded under it, and only up to the last sequence number of that moment; the
answer carries a new-style cursor.  ``0`` always means "from the beginning", like no cursor.
See docs/protocol.md, "Pull paging".
"""

from __future__ import annotations

import re
import secrets
from typing import Literal, NoReturn

from sync.errors import InvalidCursor
from sync.store.records import SyncState

EPOCH_DIGITS = 12  # 48 random bits: two restores never share one
_SEQ = r"(?:0|[1-9][0-9]{0,17})"
_CURSOR = re.compile(rf"([0-9a-f]{{{EPOCH_DIGITS}}})\.({_SEQ})", re.ASCII)
_LEGACY = re.compile(_SEQ, re.ASCII)

# What the OpenAPI document says: the cursors parse_cursor reads (well-formed; one may still
# be refused for its epoch or seq), and the form the server gives.
CURSOR_PATTERN = rf"^(|{_SEQ}|[0-9a-f]{{{EPOCH_DIGITS}}}\.{_SEQ})$"
ISSUED_CURSOR_PATTERN = rf"^[0-9a-f]{{{EPOCH_DIGITS}}}\.{_SEQ}$"

Reason = Literal["malformed", "epoch_changed", "not_issued"]


def new_epoch() -> int:
    """A fresh random epoch (never 0, so a database without one is told apart)."""
    return secrets.randbelow(16**EPOCH_DIGITS - 1) + 1


def format_cursor(epoch: int, seq: int) -> str:
    return f"{epoch:0{EPOCH_DIGITS}x}.{seq}"


def parse_cursor(cursor: str | None, state: SyncState) -> int:
    """The sequence number to pull after; raises ``InvalidCursor`` (with ``details.reason``)
    for a cursor this database did not give: malformed, of another epoch, or never issued."""
    if cursor is None or cursor == "":
        return 0
    found = _CURSOR.fullmatch(cursor)
    if found is not None:
        if int(found[1], 16) != state.epoch:
            _refuse(cursor, "epoch_changed")
        seq = int(found[2])
        if seq > state.last_seq:
            _refuse(cursor, "not_issued")
        return seq
    if _LEGACY.fullmatch(cursor) is None:
        _refuse(cursor, "malformed")
    seq = int(cursor)
    if seq == 0:
        return 0  # "from the beginning" skips nothing, whatever the epoch
    if state.legacy_seq is None:
        _refuse(cursor, "epoch_changed")  # restored or re-epoched since the upgrade
    if seq > state.legacy_seq:
        _refuse(cursor, "not_issued")
    return seq


_MESSAGES: dict[Reason, str] = {
    "malformed": "the cursor is not one this server gives",
    "epoch_changed": "the database was restored or replaced since this cursor was given",
    "not_issued": "the cursor is beyond anything this server has given",
}


def _refuse(cursor: str, reason: Reason) -> NoReturn:
    raise InvalidCursor(
        f"{_MESSAGES[reason]}: pull again without a cursor",
        {"reason": reason, "cursor": cursor[:40]},
    )


__all__ = [
    "CURSOR_PATTERN",
    "EPOCH_DIGITS",
    "ISSUED_CURSOR_PATTERN",
    "format_cursor",
    "new_epoch",
    "parse_cursor",
]
