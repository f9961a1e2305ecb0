"""Wire models of the sync protocol (docs/protocol.md is their prose twin).

A push envelope is validated as a whole; each change inside it is validated on its own so that
one bad change gets its own error and the others still apply (promise 6).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sync import rfc3339
from sync.clock import Stamp, parse_stamp
from sync.errors import (
    BatchTooLarge,
    ChangeError,
    InvalidField,
    InvalidRequest,
    UnknownCollection,
)
from sync.wire_json import canonical_json

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
HASH_PATTERN = r"^[0-9a-f]{64}$"
CATEGORY_PATTERN = r"^[a-z][a-z0-9_]{1,40}$"

RecordId = Annotated[str, Field(pattern=ID_PATTERN)]
Text = Annotated[str, Field(max_length=4000)]
PII_FIELDS = ("victims", "witnesses", "suspects")
NOT_NULL_FIELDS = ("category", "occurred_at")
# Hashed numbers must be the integers the device hashed: "1" or 1.0 would be converted by a
# lax validator and then fail the hash check with a misleading chain_tampered.
HashedInt = Annotated[int, Strict()]
# A device's date-time: an RFC 3339 string, checked and never rewritten (sync.rfc3339): read
# into a datetime and written out again it came back changed (".123456789" cut to 6 digits,
# "z" upper-cased, ":00" added). Neither a number nor a string of digits is one.
DateTimeText = Annotated[
    str,
    Field(
        min_length=rfc3339.MIN_LENGTH,
        max_length=rfc3339.MAX_LENGTH,
        json_schema_extra={"format": "date-time", "pattern": rfc3339.PATTERN},
    ),
    AfterValidator(rfc3339.check),
]


# Strict mode: a value of the wrong JSON type is refused, never converted ("34" or true for
# an integer, "-77.03" or true for a number). An integer where a number is expected is a
# number (JSON has one number type); a boolean is never a number.
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Location(_Strict):
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    accuracy_m: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] | None = None


class Person(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    dni: Annotated[str, Field(pattern=r"^\d{8}$")] | None = None
    phone: Annotated[str, Field(max_length=30)] | None = None
    age: Annotated[int, Field(ge=0, le=130)] | None = None
    role: Annotated[str, Field(max_length=40)] | None = None  # e.g. denunciante, agraviado
    notes: Annotated[str, Field(max_length=1000)] | None = None


# Media types an attachment may have: the server sniffs them from the bytes (docs/attachments.md).
MediaType = Literal[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heic",
    "video/mp4",
    "audio/mp4",
    "audio/ogg",
    "audio/wav",
    "application/pdf",
]
MEDIA_TYPES: tuple[str, ...] = get_args(MediaType)
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 2**40  # the wire bound; the server's own cap is a setting


class AttachmentRef(_Strict):
    """Evidence a record points to by content address (docs/attachments.md). In a patrol-log
    entry it sits inside ``body`` and so inside the hashed chain."""

    sha256: Annotated[str, Field(pattern=HASH_PATTERN)]
    media_type: MediaType
    size: Annotated[HashedInt, Field(ge=1, le=MAX_ATTACHMENT_BYTES)]
    captured_at: DateTimeText
    pii: bool = False


Attachments = Annotated[list[AttachmentRef], Field(max_length=MAX_ATTACHMENTS)]


def _distinct(refs: list[AttachmentRef] | None) -> list[AttachmentRef] | None:
    if refs is not None and len({r.sha256 for r in refs}) != len(refs):
        raise ValueError("attachments must not name the same sha256 twice")
    return refs


class IncidentFields(_Strict):
    """Fields an officer may set. A field absent from a change is left as it is."""

    category: Annotated[str, Field(pattern=CATEGORY_PATTERN)] | None = None
    occurred_at: DateTimeText | None = None
    status: Literal["open", "closed", "referred"] | None = None
    description: Text | None = None
    address_text: Annotated[str, Field(max_length=500)] | None = None
    location: Location | None = None
    attachments: Attachments | None = None

    _distinct_attachments = field_validator("attachments")(_distinct)

    @model_validator(mode="after")
    def _not_cleared(self) -> IncidentFields:
        for name in NOT_NULL_FIELDS:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null: every incident keeps one")
        return self


class IncidentPII(_Strict):
    """Personal data: reaches only the roles allowed to see it (promise 7)."""

    victims: Annotated[list[Person], Field(max_length=50)] | None = None
    witnesses: Annotated[list[Person], Field(max_length=50)] | None = None
    suspects: Annotated[list[Person], Field(max_length=50)] | None = None


class IncidentChange(_Strict):
    collection: Literal["incidents"]
    id: RecordId
    op: Literal["upsert", "delete"]
    hlc: str
    base_seq: Annotated[int, Field(ge=0)] = 0
    fields: IncidentFields = IncidentFields()
    pii: IncidentPII | None = None

    @field_validator("fields", "pii")
    @classmethod
    def _nothing_to_delete(
        cls, value: IncidentFields | IncidentPII | None, info: ValidationInfo
    ) -> IncidentFields | IncidentPII | None:
        # A delete writes only the tombstone: values sent with it would be dropped unseen.
        if info.data.get("op") == "delete" and value is not None and value.model_fields_set:
            raise ValueError(f"a delete carries no {info.field_name}; send them in an upsert")
        return value


class LogBody(_Strict):
    """A patrol log entry. Numbers are integers only, so every language hashes it alike."""

    kind: Literal["shift_start", "shift_end", "checkpoint", "note", "stop", "correction"]
    at: DateTimeText  # hashed as sent
    text: Text = ""
    lon_e6: Annotated[HashedInt, Field(ge=-180_000_000, le=180_000_000)] | None = None
    lat_e6: Annotated[HashedInt, Field(ge=-90_000_000, le=90_000_000)] | None = None
    amends: RecordId | None = None
    incident_id: RecordId | None = None
    attachments: Attachments | None = None

    _distinct_attachments = field_validator("attachments")(_distinct)


class LogEntryChange(_Strict):
    collection: Literal["patrol_logs"]
    id: RecordId
    op: Literal["append"]
    hlc: str
    n: Annotated[HashedInt, Field(ge=1)]
    prev_hash: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")]
    hash: Annotated[str, Field(pattern=HASH_PATTERN)]
    body: LogBody


@dataclass(slots=True)
class IncidentEdit:
    """A validated incident change as the engine uses it: the fields and personal data it
    sets, JSON-ready, unset ones absent (an empty list clears a personal-data list)."""

    id: str
    op: Literal["upsert", "delete"]
    hlc: str
    base_seq: int
    fields: dict[str, Any]
    pii: dict[str, Any]  # in PII_FIELDS order

    @classmethod
    def from_model(cls, change: IncidentChange) -> IncidentEdit:
        fields = change.fields.model_dump(mode="json", exclude_unset=True)
        pii: dict[str, Any] = {}
        if change.pii is not None:
            sent = change.pii.model_dump(mode="json", exclude_unset=True)
            pii = {name: sent[name] for name in PII_FIELDS if name in sent}
        return cls(change.id, change.op, change.hlc, change.base_seq, fields, pii)


if TYPE_CHECKING:  # registered at the end of this module (it imports this one)
    from sync.protocol_notices import NoticeAckChange
Change: TypeAlias = "IncidentEdit | LogEntryChange | NoticeAckChange"
# Other modules register their collections here too (sync.protocol_notices, at the end).
COLLECTIONS: dict[str, type[Any]] = {
    "incidents": IncidentChange,
    "patrol_logs": LogEntryChange,
}


MAX_DEVICE_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


class PushEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    batch_id: RecordId
    # Up to the last millisecond of year 9999: 2^64 made the clock offset overflow (a 500).
    device_time_ms: Annotated[int, Field(ge=0, le=MAX_DEVICE_TIME_MS)] | None = None
    changes: list[Any]


def parse_envelope(raw: Any, max_changes: int) -> PushEnvelope:
    """Validate the push envelope; the changes inside are parsed one by one later."""
    if not isinstance(raw, dict):
        raise InvalidRequest("the push body must be a JSON object", {"got": type(raw).__name__})
    try:
        envelope = PushEnvelope.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRequest("the push envelope is invalid", {"errors": _errors(exc)}) from exc
    check_size(len(envelope.changes), max_changes)
    return envelope


def check_size(count: int, max_changes: int) -> None:
    if count > max_changes:
        raise BatchTooLarge(
            f"a batch holds at most {max_changes} changes",
            {"max_changes": max_changes, "got": count},
        )


def parse_change(raw: Any) -> tuple[Change, Stamp]:
    """Validate one change; raise a ``ChangeError`` naming what is wrong."""
    if not isinstance(raw, dict):
        raise ChangeError("a change must be a JSON object", {"got": type(raw).__name__})
    collection = raw.get("collection")
    model = COLLECTIONS.get(collection) if isinstance(collection, str) else None
    if model is None:
        # Cut as the answer's own `collection` is: a change's values are never echoed whole.
        shown = collection[:64] if isinstance(collection, str) else None
        raise UnknownCollection(
            "unknown collection", {"collection": shown, "known": sorted(COLLECTIONS)}
        )
    try:
        change = model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidField("the change is invalid", {"errors": _errors(exc)}) from exc
    if isinstance(change, IncidentChange):
        return IncidentEdit.from_model(change), parse_stamp(change.hlc)
    return change, parse_stamp(change.hlc)


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    # Input values are left out on purpose: they may hold personal data.
    return [
        {"loc": [str(p) for p in err["loc"]], "type": err["type"], "msg": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ][:20]


def log_body(entry: LogEntryChange) -> dict[str, Any]:
    """The body as the device sent it, without null members: what is hashed and stored."""
    return entry.body.model_dump(exclude_unset=True, exclude_none=True)


def entry_hash(device_id: str, entry: LogEntryChange) -> str:
    """The hash a patrol log entry must carry (docs/protocol.md, "Hash chain")."""
    material = {
        "body": log_body(entry),
        "device_id": device_id,
        "hlc": entry.hlc,
        "id": entry.id,
        "n": entry.n,
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(canonical_json(material)).hexdigest()


from sync import protocol_notices  # noqa: E402, F401  (registers notice_acks in COLLECTIONS)
