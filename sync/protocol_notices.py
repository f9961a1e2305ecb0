"""Wire models of notices (BOLO) and their acknowledgements (docs/protocol.md, "Notices").

A notice is written by the server (a chief or analyst posts it over HTTP), one record per
station of its area, in the collection ``notices``; phones only pull it. An officer's
acknowledgement is a change a phone pushes, collection ``notice_acks``, naming the notice.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from sync import rfc3339
from sync.protocol import (
    CATEGORY_PATTERN,
    COLLECTIONS,
    AttachmentRef,
    DateTimeText,
    RecordId,
    _Strict,
)

NOTICES = "notices"
NOTICE_ACKS = "notice_acks"
MAX_NOTICE_DAYS = 30  # a notice lives at most this long: a BOLO is news, not an archive
MAX_NOTICE_STATIONS = 200
NOTICE_TEXT_MAX = 2000


class NoticeAckChange(_Strict):
    """An officer read a notice. ``id`` is the notice's id (``notice_id`` in its record);
    ``at`` is when, by the phone's clock, with its zone."""

    collection: Literal["notice_acks"]
    id: RecordId
    op: Literal["ack"]
    hlc: str
    at: DateTimeText


COLLECTIONS[NOTICE_ACKS] = NoticeAckChange


class NoticeDraft(_Strict):
    """What a chief or analyst posts (``POST /v1/notices``)."""

    text: Annotated[str, Field(min_length=1, max_length=NOTICE_TEXT_MAX)]
    category: Annotated[str, Field(pattern=CATEGORY_PATTERN)]
    expires_at: DateTimeText
    stations: (
        Annotated[list[RecordId], Field(min_length=1, max_length=MAX_NOTICE_STATIONS)] | None
    ) = None
    district: Annotated[str, Field(pattern=r"^[0-9A-Za-z_-]{1,20}$")] | None = None
    photo: AttachmentRef | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


def new_notice_id() -> str:
    """A fresh notice id: random, so two workers posting at once never collide."""
    return "n" + secrets.token_hex(8)


def copy_id(notice_id: str, station_id: str) -> str:
    """The record id of a notice's copy for one station (one record per station of its area)."""
    return f"{notice_id}@{station_id}"


def ack_id(notice_id: str, officer_id: str) -> str:
    """The record id of one officer's acknowledgement of a notice (one per officer)."""
    return f"{notice_id}~{officer_id}"


def expiry_ms(expires_at: str) -> int:
    """Epoch milliseconds of an RFC 3339 date-time."""
    return rfc3339.epoch_ms(expires_at)


def utc_text(ms: int) -> str:
    """An epoch-ms instant as RFC 3339 UTC with milliseconds (the wire's form)."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
