"""The storage port: the only way the sync engine reaches a database.

One adapter implements these methods: ``sync.store.sql``, for SQLite and PostgreSQL;
``sync.store.contract`` is the test suite an adapter must pass.  No SQL or driver type
crosses this boundary: only the dataclasses of ``sync.store.records``.

Exceptions an adapter may raise: ``AlreadyExists`` (unique id taken), ``NotFound``,
``EnrollmentInvalid`` (code unknown, used or expired), ``StoreUnavailable`` (cannot reach the
database). Anything else is a bug.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager

import numpy as np

from sync.store.records import (
    TRACK_COLUMNS,
    AuditEvent,
    AuditQuery,
    Boundary,
    ChainHead,
    Conflict,
    ConflictReview,
    Credential,
    Device,
    DeviceQuery,
    Enrollment,
    Identity,
    LoginKey,
    MarkKey,
    Officer,
    PointQuery,
    PublicSnapshot,
    PullRow,
    PullScope,
    RecordWrite,
    Station,
    StoredAnswer,
    StoredRecord,
    SyncState,
    UnitReads,
    WebSession,
)


class PushUnit(ABC):
    """One push, applied atomically under the store's single-writer lock.

    Entering the unit takes the write lock, so every unit sees the effects of the ones
    committed before it and sequence numbers commit in order (promise 5).
    """

    async def prefetch(self, reads: UnitReads) -> None:  # noqa: B027 - optional, no-op here
        """Read ahead what the group's pushes will ask for (an adapter may; this one reads
        each thing when asked).  Answers afterwards are the same either way."""

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
        marks: Collection[MarkKey] = (),
    ) -> None:
        """Write everything of the push; it becomes durable when the unit commits.

        ``answer`` is None for server-side rewrites (re-placement after an import).
        ``marks``: files incidents or patrol-log entries name as personal data, kept in
        ``attachment_mark``.
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
