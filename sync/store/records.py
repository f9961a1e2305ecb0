"""The records that cross the storage port (``sync.store.base``): plain dataclasses, no SQL
or driver type.  The engine, the server and the adapters all speak in these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["officer", "chief", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("officer", "chief", "analyst", "admin")
PiiAccess = Literal["all", "own", "none"]
MarkKey = tuple[str, str, str]  # (collection, record_id, sha256): a file as a record names it


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: str
    district_code: str | None = None


@dataclass(frozen=True, slots=True)
class Officer:
    id: str
    name: str
    role: Role
    station_id: str | None


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    officer_id: str
    name: str
    created_ms: int
    revoked_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: the device behind a token, its officer, role and station."""

    device_id: str
    device_name: str
    officer_id: str
    role: Role
    station_id: str | None


@dataclass(frozen=True, slots=True)
class Credential:
    """A web sign-in password (argon2 hash). ``failed`` and ``locked_until_ms`` are columns of
    the lockout that failed sign-ins no longer trigger (their back-off is ``LoginKey``'s):
    always 0 now, kept so older databases need no migration."""

    officer_id: str
    password_hash: str
    failed: int = 0
    locked_until_ms: int = 0


@dataclass(frozen=True, slots=True)
class LoginKey:
    """What failed web sign-ins are counted under: an (officer, address) ``pair``, an
    ``officer`` id (address "") or a client ``address`` (officer id "")."""

    kind: Literal["pair", "officer", "address"]
    officer_id: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class WebSession:
    """A browser session; the cookie holds the secret, the store only its hash."""

    token_hash: str
    officer_id: str
    csrf: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Who viewed or exported personal data (or did an administrative act), and when."""

    at_ms: int
    officer_id: str
    action: str  # e.g. "view_pii", "export", "pull_pii", "enroll", "revoke"
    target: str  # what was touched: a record id, a layer, a device id
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Enrollment:
    code_hash: str
    officer_id: str
    expires_ms: int
    created_by: str
    used_ms: int | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """One page of the audit log, newest first, for the administrator's filters.

    ``officer_ids``/``actions``: None for any, an empty tuple matches nothing. ``since_ms`` is
    inclusive, ``until_ms`` exclusive. Paging by event id: ``before_id`` gives the page older
    than that event, ``after_id`` the page just newer (still answered newest first).
    """

    officer_ids: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    before_id: int | None = None
    after_id: int | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """One page of devices, newest first: of some officers (None: any; empty: none),
    only active (True) or only revoked (False) ones, or both (None)."""

    officer_ids: tuple[str, ...] | None = None
    active: bool | None = None
    offset: int = 0
    limit: int = 50


@dataclass(slots=True)
class StoredRecord:
    """A record as the engine reads it back for merging."""

    collection: str
    id: str
    station_id: str
    seq: int
    deleted: bool
    doc: dict[str, Any]
    clocks: dict[str, list[Any]]
    pii: dict[str, Any] | None
    author_officer: str
    author_device: str
    chain_n: int | None = None


@dataclass(slots=True)
class UnitReads:
    """What a group's pushes will read in their unit, known before any is applied.

    A unit reads it in a few round trips for the whole group (``PushUnit.prefetch``) rather
    than two to four per push: on PostgreSQL each round trip holds the write lock while it
    waits for a turn of the event loop, so fewer of them is less time every writer waits.
    """

    answers: set[tuple[str, str]] = field(default_factory=set)  # (device id, batch id)
    records: dict[str, set[str]] = field(default_factory=dict)  # collection -> ids
    heads: set[str] = field(default_factory=set)  # device ids

    def add_records(self, collection: str, ids: Iterable[str]) -> None:
        self.records.setdefault(collection, set()).update(ids)


@dataclass(slots=True)
class IncidentPoint:
    """The flat facts of an incident version that maps and statistics query.

    ``cell`` is the H3 index as an integer; ``lon``/``lat`` are the placed point (None when
    the incident could not be placed).  Not frozen: one is built per incident a push writes,
    and a frozen dataclass's ``__init__`` costs three times as much.
    """

    id: str
    station_id: str
    category: str
    occurred_s: int
    lon: float | None
    lat: float | None
    district: str | None
    sector: str | None
    cell: int | None
    deleted: bool
    seq: int


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """A patrol position: a patrol-log entry that carries coordinates (``at_s`` epoch s)."""

    entry_id: str
    device_id: str
    officer_id: str
    station_id: str
    at_s: int
    lon: float
    lat: float


TRACK_COLUMNS = ("entry_id", "device_id", "officer_id", "station_id", "at_s", "lon", "lat")


@dataclass(frozen=True, slots=True)
class PointQuery:
    """Which incidents: stations (None: all), a half-open time window, categories, a bbox."""

    station_ids: tuple[str, ...] | None = None
    since_s: int | None = None
    until_s: int | None = None
    categories: tuple[str, ...] | None = None
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat


POINT_COLUMNS = (
    "id",
    "station_id",
    "category",
    "occurred_s",
    "lon",
    "lat",
    "district",
    "sector",
    "cell",
    "seq",
)


@dataclass(slots=True)
class RecordWrite:
    """A record version to write; ``doc``, ``clocks`` and ``pii`` are JSON text."""

    collection: str
    id: str
    station_id: str
    seq: int
    deleted: bool
    doc: str
    clocks: str
    pii: str | None
    author_officer: str
    author_device: str
    chain_n: int | None
    updated_ms: int
    is_new: bool
    point: IncidentPoint | None = None
    track: TrackPoint | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A concurrent value that lost a merge, kept for a chief to review (promise 4)."""

    station_id: str
    collection: str
    record_id: str
    field: str
    losing_value: str
    losing_hlc: str
    losing_device: str
    winning_hlc: str
    winning_device: str
    seq: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class ConflictReview:
    """A chief's decision on one conflict: ``kept`` the current value, or chose the ``other``
    (losing) one, which the chief's web device wrote as record version ``seq``."""

    conflict_id: int
    officer_id: str
    device_id: str
    reviewed_ms: int
    choice: Literal["kept", "other"]
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class ChainHead:
    device_id: str
    n: int
    hash: str


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer given to a batch, replayed verbatim when the batch is retried."""

    device_id: str
    batch_id: str
    request_hash: str
    answer: bytes
    created_ms: int


@dataclass(frozen=True, slots=True)
class PullScope:
    """What a caller may pull: stations (None means all) and how much personal data."""

    station_ids: tuple[str, ...] | None
    pii: PiiAccess
    officer_id: str

    def reads_pii_of(self, author_officer: str) -> bool:
        """Whether the caller may read the personal data of a record this officer wrote
        (pull, attachments, the map's detail and exports ask the same question)."""
        return self.pii == "all" or (self.pii == "own" and author_officer == self.officer_id)


@dataclass(frozen=True, slots=True)
class PullRow:
    seq: int
    doc: str
    pii: str | None


@dataclass(frozen=True, slots=True)
class SyncState:
    """What a pull cursor is checked against (see ``sync.cursor``).

    ``epoch``: random, replaced after a restore or re-initialisation; ``last_seq``: the
    greatest sequence number given; ``legacy_seq``: the last sequence number when the database
    got its first epoch (plain-number cursors up to it are still accepted), None after a new
    epoch.
    """

    epoch: int
    last_seq: int
    legacy_seq: int | None


@dataclass(slots=True)
class ConflictPage:
    items: list[tuple[int, Conflict]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Boundary:
    """One feature of a boundary layer (districts, stations, sectors, streets, ...).

    ``geometry`` is WKB in EPSG:4326; ``props`` holds the layer's other standard columns.
    """

    layer: str
    code: str
    name: str
    props: dict[str, Any]
    geometry: bytes


@dataclass(frozen=True, slots=True)
class PublicSnapshot:
    """One published table of one month, frozen when the month was first published.

    ``month`` is ``YYYY-MM`` (local calendar month); ``kind`` which publication
    (``districts``, ``cells``); ``rules`` and ``body`` are JSON text, ``body`` exactly what
    is served. Aggregates only: never a record, never personal data.
    """

    month: str
    kind: str
    rules: str
    body: str
    published_ms: int
