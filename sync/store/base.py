"""The storage port: the only way the sync engine reaches a database.

One adapter implements these methods: ``sync.store.sql``, for SQLite and PostgreSQL;
``sync.store.contract`` is the test suite an adapter must pass.  No SQL or driver type
crosses this boundary: only the dataclasses below.

Exceptions an adapter may raise: ``AlreadyExists`` (unique id taken), ``NotFound``,
``EnrollmentInvalid`` (code unknown, used or expired), ``StoreUnavailable`` (cannot reach the
database). Anything else is a bug.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Role = Literal["officer", "chief", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("officer", "chief", "analyst", "admin")
PiiAccess = Literal["all", "own", "none"]


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


class PushUnit(ABC):
    """One push, applied atomically under the store's single-writer lock.

    Entering the unit takes the write lock, so every unit sees the effects of the ones
    committed before it and sequence numbers commit in order (promise 5).
    """

    @abstractmethod
    async def replay(self, device_id: str, batch_id: str) -> StoredAnswer | None:
        """The stored answer of an earlier batch with this id, if any."""

    @abstractmethod
    async def load(self, collection: str, ids: list[str]) -> dict[str, StoredRecord]:
        """The current versions of these records (missing ids are absent)."""

    @abstractmethod
    async def chain_head(self, device_id: str) -> ChainHead | None:
        """The last accepted patrol-log entry of a device."""

    @abstractmethod
    async def allocate(self, count: int) -> int:
        """Reserve ``count`` sequence numbers; return the first."""

    @abstractmethod
    async def save(
        self,
        writes: list[RecordWrite],
        conflicts: list[Conflict],
        heads: list[ChainHead],
        answer: StoredAnswer | None,
    ) -> None:
        """Write everything of the push; it becomes durable when the unit commits.

        ``answer`` is None for server-side rewrites (re-placement after an import).
        """


class Store(ABC):
    """The storage port."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and create the schema if missing."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the database answers."""

    # --- people and devices ---
    @abstractmethod
    async def put_station(self, station: Station) -> None:
        """Create or replace a station."""

    @abstractmethod
    async def list_stations(self) -> list[Station]: ...

    @abstractmethod
    async def put_officer(self, officer: Officer) -> None:
        """Create or replace an officer."""

    @abstractmethod
    async def get_officer(self, officer_id: str) -> Officer | None: ...

    @abstractmethod
    async def list_officers(self, station_id: str | None = None) -> list[Officer]: ...

    @abstractmethod
    async def add_enrollment(self, enrollment: Enrollment) -> None: ...

    @abstractmethod
    async def redeem_enrollment(
        self, code_hash: str, device: Device, token_hash: str, now_ms: int
    ) -> Device:
        """Use a one-time code once: create the device with its token hash, atomically.

        Raises ``EnrollmentInvalid`` if the code is unknown, used or expired; the device's
        ``officer_id`` is taken from the enrollment.
        """

    @abstractmethod
    async def identity_for_token(self, token_hash: str) -> Identity | None:
        """The identity behind a token hash; None if unknown or revoked."""

    @abstractmethod
    async def revoke_device(self, device_id: str, now_ms: int) -> bool:
        """Revoke a device; False if there is no such device."""

    @abstractmethod
    async def list_devices(self, officer_id: str | None = None) -> list[Device]: ...

    @abstractmethod
    async def device_page(self, query: DeviceQuery) -> tuple[int, list[Device]]:
        """How many devices match, and the page of them ``query`` asks for (newest first)."""

    @abstractmethod
    async def get_device(self, device_id: str) -> Device | None: ...

    @abstractmethod
    async def enrollment(self, code_hash: str) -> Enrollment | None:
        """The enrollment of a code hash, used or not, expired or not."""

    @abstractmethod
    async def add_token(self, device: Device, token_hash: str) -> None:
        """Register a device with a token directly (CLI bootstrap of the first admin)."""

    # --- web sign-in, sessions, audit ---
    @abstractmethod
    async def put_credential(self, credential: Credential) -> None:
        """Create or replace an officer's password hash (resets the lockout)."""

    @abstractmethod
    async def credential(self, officer_id: str) -> Credential | None: ...

    @abstractmethod
    async def login_failures(
        self, keys: Sequence[LoginKey], since_ms: int
    ) -> dict[LoginKey, tuple[int, int]]:
        """``(failures, last failure ms)`` of each key whose last failure is at or after
        ``since_ms``; other keys are absent."""

    @abstractmethod
    async def add_login_failure(self, keys: Sequence[LoginKey], now_ms: int, since_ms: int) -> None:
        """Count one failed sign-in under every key, atomically; counts whose last failure
        is before ``since_ms`` are forgotten first (so they start again at 1)."""

    @abstractmethod
    async def clear_login_failures(self, officer_id: str, address: str | None = None) -> None:
        """Forget an officer's officer-wide count and its pair with ``address`` (every pair
        when None): after a good sign-in, or a password reset."""

    @abstractmethod
    async def add_session(self, session: WebSession) -> None: ...

    @abstractmethod
    async def session(self, token_hash: str, now_ms: int) -> tuple[WebSession, Identity] | None:
        """An unexpired session and its officer's identity (device fields empty)."""

    @abstractmethod
    async def drop_session(self, token_hash: str) -> None: ...

    @abstractmethod
    async def add_audit(self, event: AuditEvent) -> None: ...

    @abstractmethod
    async def audit_events(self, after_id: int, limit: int) -> list[tuple[int, AuditEvent]]:
        """Audit events after ``after_id`` (their own ids), oldest first."""

    @abstractmethod
    async def audit_search(self, query: AuditQuery) -> list[tuple[int, AuditEvent]]:
        """A filtered page of audit events with their ids, newest first."""

    # --- sync ---
    @abstractmethod
    def push_unit(self) -> AbstractAsyncContextManager[PushUnit]: ...

    @abstractmethod
    async def pull(self, scope: PullScope, after_seq: int, limit: int) -> list[PullRow]:
        """Records changed after ``after_seq`` in scope, in sequence order, at most ``limit``."""

    @abstractmethod
    async def record(self, collection: str, record_id: str) -> StoredRecord | None:
        """The current version of one record (for reading it; no lock taken)."""

    @abstractmethod
    async def records_of(
        self,
        collection: str,
        station_ids: tuple[str, ...] | None,
        id_prefix: str = "",
        live_only: bool = True,
        limit: int = 1000,
    ) -> list[StoredRecord]:
        """Current versions of a small collection's records (notices, their acknowledgements)
        in these stations (None: all), newest first; ``id_prefix`` narrows by id."""

    @abstractmethod
    async def last_seq(self) -> int: ...

    @abstractmethod
    async def sync_state(self) -> SyncState:
        """The epoch, last sequence number and legacy bound, read together."""

    @abstractmethod
    async def new_epoch(self, epoch: int) -> None:
        """Replace the epoch (after a restore): every cursor given before is refused."""

    @abstractmethod
    async def conflicts(
        self, station_ids: tuple[str, ...] | None, after_id: int, limit: int
    ) -> list[tuple[int, Conflict]]:
        """Conflict log entries after ``after_id`` (their own ids), oldest first."""

    @abstractmethod
    async def add_conflict_review(self, review: ConflictReview, audit: AuditEvent) -> bool:
        """Store a review and its audit event in one transaction; False (and nothing
        written) if the conflict was reviewed before."""

    @abstractmethod
    async def conflict_reviews(self, conflict_ids: Sequence[int]) -> dict[int, ConflictReview]:
        """The reviews of these conflicts (unreviewed ones are absent)."""

    # --- work shared across workers and hosts ---
    @abstractmethod
    async def analysis_result(self, key: str, seq: int) -> bytes | None:
        """A stored analysis result for question ``key`` computed at sequence ``seq``."""

    @abstractmethod
    async def put_analysis_result(self, key: str, seq: int, body: bytes, now_ms: int) -> None:
        """Store a result (first write wins); older ones of the same question go."""

    @abstractmethod
    async def take_lease(self, name: str, holder: str, now_ms: int, ttl_ms: int) -> bool:
        """Take or renew lease ``name``; False while another holder's lease runs."""

    @abstractmethod
    async def drop_lease(self, name: str, holder: str) -> None:
        """Give back a lease ``holder`` holds (nothing if it does not)."""

    @abstractmethod
    async def chain(self, device_id: str) -> list[StoredRecord]:
        """A device's patrol-log entries in chain order (for verification)."""

    async def chain_base(self, device_id: str) -> ChainHead | None:
        """Where the stored chain starts when retention archived its older entries (the last
        archived entry's ``n`` and ``hash``); None when nothing was archived."""
        return None

    @abstractmethod
    async def points(
        self, query: PointQuery, columns: tuple[str, ...] = ("lon", "lat", "occurred_s")
    ) -> dict[str, np.ndarray]:
        """Placed, undeleted incidents matching ``query`` as columns (``POINT_COLUMNS``).

        Numbers come as float64/int64 arrays, text as object arrays; order is by ``seq``.
        """

    @abstractmethod
    async def time_span(self, query: PointQuery) -> tuple[int, int] | None:
        """First and last ``occurred_s`` of the incidents matching ``query`` (None if none)."""

    @abstractmethod
    async def tracks(
        self, query: PointQuery, columns: tuple[str, ...] = TRACK_COLUMNS
    ) -> dict[str, np.ndarray]:
        """Patrol positions matching ``query`` (stations, time window on ``at_s``, bbox;
        ``categories`` is ignored) as columns, ordered by device and time."""

    @abstractmethod
    async def cell_counts(
        self, query: PointQuery, bucket_s: int | None = None
    ) -> dict[str, np.ndarray]:
        """Incident counts per H3 cell (and per time bucket of ``bucket_s`` seconds).

        Keys: ``cell`` (int64), ``count`` (int64) and, with ``bucket_s``, ``bucket`` (int64,
        ``occurred_s // bucket_s``).  Binning happens in the database, not in Python.
        """

    @abstractmethod
    async def replace_boundaries(self, layer: str, items: list[Boundary]) -> None:
        """Replace a whole boundary layer at once (an import)."""

    @abstractmethod
    async def boundaries(self, layer: str) -> list[Boundary]:
        """A boundary layer's features, ordered by code."""

    @abstractmethod
    async def prune_answers(self, older_than_ms: int) -> int:
        """Forget batch answers older than this; return how many."""

    # --- public summaries ---
    @abstractmethod
    async def add_public_snapshots(self, snapshots: list[PublicSnapshot]) -> None:
        """Store snapshots in one transaction; one whose (month, kind) is already stored is
        left out and the stored one kept unchanged (the first publication wins, also when
        two processes publish the same month at once)."""

    @abstractmethod
    async def public_snapshots(self) -> list[PublicSnapshot]:
        """Every stored snapshot, ordered by month and kind."""
