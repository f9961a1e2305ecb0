"""Answers of push, pull, snapshot and review (conflicts, chains).

Push, pull and snapshot are hot paths: their bytes are written directly
(sync/protocol_fast.py and friends), never built through these models; these models are
their schema, and tests/server/test_answer_models.py validates real answers with them
(strict).  Conflicts and chain reports are built through the models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, RootModel

from server.answers import Answer, Ms, absent
from server.answers.common import ErrorBody, Hash, Hlc, Id, Seq
from server.answers.notices import NoticeAckDoc, NoticeDoc
from server.answers.plans import PlanDoc
from sync.cursor import ISSUED_CURSOR_PATTERN
from sync.protocol import IncidentFields, IncidentPII, LogBody

Count = Annotated[int, Field(ge=0)]
IssuedCursor = Annotated[str, Field(pattern=ISSUED_CURSOR_PATTERN)]


class ChangeResult(Answer):
    """One change's outcome; `seq` unless rejected, `error` if rejected."""

    index: Count
    status: Literal["applied", "unchanged", "rejected"]
    collection: str = absent()
    id: str = absent()
    seq: Seq = absent()
    conflicts: Count = absent()
    error: ErrorBody = absent()


class PushSummary(Answer):
    applied: int
    unchanged: int
    rejected: int


class PushAnswer(Answer):
    batch_id: Id
    server_time_ms: Ms
    results: list[ChangeResult]
    summary: PushSummary
    clock_offset_ms: Annotated[
        int, Field(description="server_time_ms - device_time_ms (only if it was sent)")
    ] = absent()


class IncidentDoc(Answer):
    collection: Literal["incidents"]
    id: Id
    seq: Seq
    station_id: str
    author: Annotated[str, Field(description="officer who created the record")]
    hlc: Hlc
    deleted: Annotated[bool, Field(description="true: a tombstone")]
    fields: IncidentFields
    derived: Annotated[dict[str, Any], Field(description="placement computed by the server")]
    pii: IncidentPII = absent()


class PatrolLogDoc(Answer):
    collection: Literal["patrol_logs"]
    id: Id
    seq: Seq
    station_id: str
    author: Annotated[str, Field(description="officer who created the record")]
    hlc: Hlc
    device_id: str
    deleted: Literal[False]
    n: Seq
    prev_hash: Annotated[str, Field(pattern="^([0-9a-f]{64})?$")]
    hash: Hash
    body: LogBody


Doc = Annotated[
    IncidentDoc | PatrolLogDoc | PlanDoc | NoticeDoc | NoticeAckDoc,
    Field(discriminator="collection"),
]


class AttachmentState(Answer):
    received: bool
    media_type: str | None


class PullAnswer(Answer):
    changes: list[Doc]
    cursor: Annotated[
        str, Field(pattern=ISSUED_CURSOR_PATTERN, description="opaque: send it back as is")
    ]
    has_more: bool
    server_time_ms: Ms
    attachments: Annotated[
        dict[str, AttachmentState],
        Field(description="only when the page's records name attachments: by sha256"),
    ] = absent()


class SnapshotCheckpoint(Answer):
    cursor: IssuedCursor


class SnapshotAttachments(Answer):
    attachments: dict[str, AttachmentState]


class SnapshotEnd(Answer):
    cursor: IssuedCursor
    complete: bool
    count: Count
    server_time_ms: Ms


SNAPSHOT_LINE = (
    "One line of a snapshot: a document as in a pull page; after each"
    ' page `{"cursor"}` (a checkpoint); `{"attachments"}` as in a pull page;'
    ' last, `{"cursor", "complete", "count", "server_time_ms"}`.'
)


# Flat, without the discriminator: the three other lines have no `collection`.
class SnapshotLine(
    RootModel[
        IncidentDoc
        | PatrolLogDoc
        | PlanDoc
        | NoticeDoc
        | NoticeAckDoc
        | SnapshotCheckpoint
        | SnapshotAttachments
        | SnapshotEnd
    ]
):
    model_config = ConfigDict(json_schema_extra={"description": SNAPSHOT_LINE})


class Conflict(Answer):
    id: int
    station_id: str
    collection: str
    record_id: Id
    field: str
    losing_value: Annotated[Any, Field(description="any JSON value")]
    losing_hlc: Hlc
    losing_device: str
    winning_hlc: Hlc
    winning_device: str
    seq: int
    created_ms: Ms


class ConflictPage(Answer):
    conflicts: list[Conflict]
    after: int
    has_more: bool


class ChainGap(Answer):
    after: int
    next: int


class ChainAttachments(Answer):
    checked: int
    tampered: list[str]
    missing: list[str]  # received (the index holds them) but gone from the blob store
    pending: list[str]


class ChainReport(Answer):
    device_id: str
    entries: int
    head_n: int
    archived_n: int
    intact: bool
    gaps: list[ChainGap]
    broken_links: list[int]
    tampered: list[int]
    attachments: ChainAttachments
