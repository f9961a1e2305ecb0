"""SQLModel tables of the SQL adapter (SQLite and PostgreSQL from the same definitions).

JSON payloads are kept as text: the pull path streams them out without parsing.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


class StationRow(SQLModel, table=True):
    __tablename__ = "station"
    id: str = Field(primary_key=True)
    name: str
    district_code: str | None = None


class OfficerRow(SQLModel, table=True):
    __tablename__ = "officer"
    id: str = Field(primary_key=True)
    name: str
    role: str
    station_id: str | None = Field(default=None, index=True)


class DeviceRow(SQLModel, table=True):
    __tablename__ = "device"
    id: str = Field(primary_key=True)
    officer_id: str = Field(index=True)
    name: str
    token_hash: str = Field(unique=True)
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class EnrollmentRow(SQLModel, table=True):
    __tablename__ = "enrollment"
    code_hash: str = Field(primary_key=True)
    officer_id: str
    expires_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_by: str
    used_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    device_id: str | None = None


class RecordRow(SQLModel, table=True):
    __tablename__ = "record"
    __table_args__ = (
        Index("ix_record_station_seq", "station_id", "seq"),
        # Only patrol-log entries have a chain number: incidents stay out of the index
        # (it cost a new incident an index insert for nothing; 12 % of a bulk write).
        Index(
            "ix_record_chain",
            "author_device",
            "chain_n",
            sqlite_where=text("chain_n IS NOT NULL"),
            postgresql_where=text("chain_n IS NOT NULL"),
        ),
    )
    collection: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    station_id: str
    seq: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    deleted: bool = False
    doc: str = Field(sa_column=Column(Text, nullable=False))
    clocks: str = Field(sa_column=Column(Text, nullable=False))
    pii: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    author_officer: str
    author_device: str
    chain_n: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    updated_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class ConflictRow(SQLModel, table=True):
    __tablename__ = "conflict"
    __table_args__ = (
        UniqueConstraint("collection", "record_id", "field", "losing_hlc", "losing_device"),
        Index("ix_conflict_station", "station_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    station_id: str
    collection: str
    record_id: str
    field: str
    losing_value: str = Field(sa_column=Column(Text, nullable=False))
    losing_hlc: str
    losing_device: str
    winning_hlc: str
    winning_device: str
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class ConflictReviewRow(SQLModel, table=True):
    """A chief's review of one conflict (server/conflict_decide.py): at most one per conflict.

    ``seq`` is the record version the chief's choice wrote (None when the current value was
    kept, which writes nothing)."""

    __tablename__ = "conflict_review"
    conflict_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    officer_id: str
    device_id: str
    reviewed_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    choice: str  # "kept" or "other"
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ChainHeadRow(SQLModel, table=True):
    __tablename__ = "chain_head"
    device_id: str = Field(primary_key=True)
    n: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str


class ChainBaseRow(SQLModel, table=True):
    """Where a device's stored chain starts after retention archived its older entries
    (server/retention): the last archived entry's number and hash, so verification of what
    remains starts from it, and in which archive those entries are."""

    __tablename__ = "chain_base"
    device_id: str = Field(primary_key=True)
    n: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str
    archive: str
    archived_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class BatchAnswerRow(SQLModel, table=True):
    __tablename__ = "batch_answer"
    __table_args__ = (Index("ix_batch_answer_created", "created_ms"),)
    device_id: str = Field(primary_key=True)
    batch_id: str = Field(primary_key=True)
    request_hash: str
    answer: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class BoundaryRow(SQLModel, table=True):
    __tablename__ = "boundary"
    layer: str = Field(primary_key=True)
    code: str = Field(primary_key=True)
    name: str
    props: str = Field(sa_column=Column(Text, nullable=False))
    geometry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class IncidentPointRow(SQLModel, table=True):
    """Flat facts of the current version of each incident, for maps and statistics."""

    __tablename__ = "incident_point"
    # Covering indexes: a window's counts per cell are read from the index alone, which
    # made grouping a million incidents 3x faster than looking each row up.
    __table_args__ = (
        Index("ix_point_station_time", "station_id", "occurred_s", "cell", "deleted", "category"),
        Index("ix_point_time", "occurred_s", "cell", "deleted", "category", "station_id"),
    )
    id: str = Field(primary_key=True)
    station_id: str
    category: str
    occurred_s: int = Field(sa_column=Column(BigInteger, nullable=False))
    lon: float | None = None
    lat: float | None = None
    district: str | None = None
    sector: str | None = None
    cell: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    deleted: bool = False
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class TrackPointRow(SQLModel, table=True):
    """Patrol positions (patrol-log entries with coordinates), for dosage and maps."""

    __tablename__ = "track_point"
    __table_args__ = (
        Index("ix_track_station_time", "station_id", "at_s"),
        Index("ix_track_device_time", "device_id", "at_s"),
    )
    entry_id: str = Field(primary_key=True)
    device_id: str
    officer_id: str
    station_id: str
    at_s: int = Field(sa_column=Column(BigInteger, nullable=False))
    lon: float
    lat: float


class CredentialRow(SQLModel, table=True):
    __tablename__ = "credential"
    officer_id: str = Field(primary_key=True)
    password_hash: str
    failed: int = 0
    locked_until_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class LoginThrottleRow(SQLModel, table=True):
    """Failed web sign-ins per (officer, address) pair, per officer and per client address."""

    __tablename__ = "login_throttle"
    kind: str = Field(primary_key=True)  # "pair", "officer" or "address"
    officer_id: str = Field(primary_key=True)  # "" for an address
    address: str = Field(primary_key=True)  # "" for an officer
    failures: int
    last_ms: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class WebSessionRow(SQLModel, table=True):
    __tablename__ = "web_session"
    token_hash: str = Field(primary_key=True)
    officer_id: str = Field(index=True)
    csrf: str
    expires_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    officer_id: str = Field(index=True)
    action: str
    target: str
    details: str = Field(sa_column=Column(Text, nullable=False))


class PublicSnapshotRow(SQLModel, table=True):
    """A published month's public table, frozen when first published (docs/public.md)."""

    __tablename__ = "public_snapshot"
    month: str = Field(primary_key=True)  # YYYY-MM, the city's calendar month
    kind: str = Field(primary_key=True)  # "districts" or "cells"
    rules: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    published_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class AttachmentRow(SQLModel, table=True):
    """A received, verified attachment blob (docs/attachments.md); bytes in the blob store."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_device_received", "device_id", "received_ms"),)
    sha256: str = Field(primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    media_type: str  # sniffed from the bytes
    declared_type: str  # what the uploading client said ("" if nothing)
    device_id: str
    officer_id: str
    station_id: str
    received_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    quarantined_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class AttachmentUseRow(SQLModel, table=True):
    """A record an attachment's bytes were delivered for (an upload for that record, or a
    device that had sent those very bytes before): the proof of possession a download
    through the record needs, so naming a hash seen in a pull does not hand out its file."""

    __tablename__ = "attachment_use"
    sha256: str = Field(primary_key=True)
    collection: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    officer_id: str  # who delivered them for the record
    bound_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class AttachmentMarkRow(SQLModel, table=True):
    """A file a record (incident or patrol-log entry) named ``pii: true``: personal data from
    then on, in every record naming it, whatever the references say. A colleague could
    otherwise name a victim's photo unmarked (after its author took it off the list, or in
    another incident of the same author) and be served it (docs/attachments.md, "The pii
    mark")."""

    __tablename__ = "attachment_mark"
    sha256: str = Field(primary_key=True)
    collection: str = Field(primary_key=True)  # the record that named it pii
    record_id: str = Field(primary_key=True)
    marked_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class AnalysisResultRow(SQLModel, table=True):
    """A computed analysis result (server/maps/analysis_codec.py), shared by every worker and host.

    ``seq`` is the store's last sequence number when it was computed: a result is the answer
    for its key as long as no commit came after it.
    """

    __tablename__ = "analysis_result"
    key: str = Field(primary_key=True)  # sha256 of the question (server/maps/analysis.py)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True))
    computed_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LeaseRow(SQLModel, table=True):
    """Who does a piece of work that must run once across workers and hosts, until when.

    A row, not a PostgreSQL session advisory lock: behind PgBouncer in transaction mode a
    session lock would belong to whichever client next got that server connection.
    """

    __tablename__ = "lease"
    name: str = Field(primary_key=True)
    holder: str
    expires_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class CounterRow(SQLModel, table=True):
    __tablename__ = "counter"
    name: str = Field(primary_key=True)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


station = metadata.tables[StationRow.__tablename__]
officer = metadata.tables[OfficerRow.__tablename__]
device = metadata.tables[DeviceRow.__tablename__]
enrollment = metadata.tables[EnrollmentRow.__tablename__]
record = metadata.tables[RecordRow.__tablename__]
conflict = metadata.tables[ConflictRow.__tablename__]
chain_head = metadata.tables[ChainHeadRow.__tablename__]
chain_base = metadata.tables[ChainBaseRow.__tablename__]
conflict_review = metadata.tables[ConflictReviewRow.__tablename__]
batch_answer = metadata.tables[BatchAnswerRow.__tablename__]
counter = metadata.tables[CounterRow.__tablename__]
boundary = metadata.tables[BoundaryRow.__tablename__]
incident_point = metadata.tables[IncidentPointRow.__tablename__]
track_point = metadata.tables[TrackPointRow.__tablename__]
credential = metadata.tables[CredentialRow.__tablename__]
web_session = metadata.tables[WebSessionRow.__tablename__]
login_throttle = metadata.tables[LoginThrottleRow.__tablename__]
audit = metadata.tables[AuditRow.__tablename__]
public_snapshot = metadata.tables[PublicSnapshotRow.__tablename__]
attachment = metadata.tables[AttachmentRow.__tablename__]
attachment_use = metadata.tables[AttachmentUseRow.__tablename__]
attachment_mark = metadata.tables[AttachmentMarkRow.__tablename__]
analysis_result = metadata.tables[AnalysisResultRow.__tablename__]
lease = metadata.tables[LeaseRow.__tablename__]
