"""Answers of the notices API (server/routes/notices.py) and the notice documents a pull
carries (written directly on the hot path: see the package's docs)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from server.answers import Answer, Ms, absent
from server.answers.common import Hlc, Id, Seq
from sync.protocol import AttachmentRef

UtcTime = Annotated[str, Field(description="RFC 3339, UTC (`Z`)")]
Ended = Literal["expired", "withdrawn"]


class NoticeArea(Answer):
    stations: list[str]
    district: str | None


class NoticeBody(Answer):
    text: str
    category: str
    attachments: Annotated[list[AttachmentRef], Field(max_length=1)] = absent()


class NoticeDoc(Answer):
    collection: Literal["notices"]
    id: Annotated[str, Field(description="`<notice_id>@<station_id>`")]
    seq: Seq
    station_id: str
    notice_id: Id
    author: Annotated[str, Field(description="the chief or analyst who posted it")]
    deleted: Annotated[bool, Field(description="true: expired or withdrawn")]
    posted_at: UtcTime
    expires_at: UtcTime
    area: NoticeArea
    body: NoticeBody = absent()
    ended: Ended = absent()
    ended_at: UtcTime = absent()


class NoticeAckDoc(Answer):
    collection: Literal["notice_acks"]
    id: Annotated[str, Field(description="`<notice_id>~<officer_id>`")]
    seq: Seq
    station_id: str
    notice_id: Id
    officer_id: str
    device_id: str
    deleted: Literal[False]
    hlc: Hlc
    at: Annotated[str, Field(description="when, by the phone's clock, with zone")]


class Notice(Answer):
    notice_id: Id
    author: str
    area: NoticeArea
    posted_at: UtcTime
    expires_at: UtcTime
    active: bool
    ended: Ended | None
    text: str | None
    category: str | None
    photo: AttachmentRef | None


class NoticeAck(Answer):
    officer_id: str
    station_id: str
    device_id: str
    at: str
    seq: Seq


class NoticeAnswer(Answer):
    notice: Notice


class NoticeList(Answer):
    notices: list[Notice]


class NoticeWithAcks(Answer):
    notice: Notice
    acks: list[NoticeAck]


class WaitAnswer(Answer):
    changed: bool
    server_time_ms: Ms
