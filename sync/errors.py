"""Errors of the sync engine.

Every error carries a stable machine-readable ``code`` (documented in docs/protocol.md), a
human message and a ``details`` mapping.  The server maps the classes to HTTP statuses in one
place (``server/errors.py``); per-change errors inside a push answer use the same codes.
"""

from __future__ import annotations

from core.errors import RondaError


class SyncError(RondaError):
    """Base of every error the sync engine raises or reports (``message``, ``details``,
    ``as_dict`` come from ``core.errors.RondaError``)."""

    code = "sync_error"


class InvalidRequest(SyncError):
    """The request as a whole cannot be understood (not one change: the envelope)."""

    code = "invalid_request"


class InvalidJSON(InvalidRequest):
    code = "invalid_json"


class PayloadTooLarge(SyncError):
    code = "payload_too_large"


class UnsupportedEncoding(SyncError):
    code = "unsupported_encoding"


class UnsupportedMediaType(SyncError):
    """A request body that is not declared ``application/json`` (UTF-8)."""

    code = "unsupported_media_type"


class TooDeep(InvalidRequest):
    """A JSON body nested deeper than any request of the protocol is."""

    code = "too_deep"


class BatchTooLarge(SyncError):
    code = "batch_too_large"


class BatchIdReused(SyncError):
    """The same batch id was sent earlier with different content."""

    code = "batch_id_reused"


class InvalidCursor(InvalidRequest):
    code = "invalid_cursor"


class Unauthorized(SyncError):
    code = "unauthorized"


class TokenRevoked(Unauthorized):
    code = "token_revoked"


class Forbidden(SyncError):
    code = "forbidden"


class NotFound(SyncError):
    code = "not_found"


class EnrollmentInvalid(SyncError):
    code = "enrollment_invalid"


class AlreadyExists(SyncError):
    code = "already_exists"


class StoreUnavailable(SyncError):
    code = "store_unavailable"


class SchemaOutdated(StoreUnavailable):
    """The database's schema is older than this code and upgrading was not asked for.

    Raised when the store opens (never inside a request), so it keeps its parent's code."""


class SchemaUnknown(StoreUnavailable):
    """The database was migrated by a newer Ronda (a revision this code does not know)."""


# --- per-change errors (reported inside a push answer, never raised to the client) ---


class ChangeError(SyncError):
    """One change of a batch is refused; the rest of the batch still applies."""

    code = "invalid_change"


class UnknownCollection(ChangeError):
    code = "unknown_collection"


class InvalidField(ChangeError):
    code = "invalid_field"


class ClockSkew(ChangeError):
    code = "clock_skew"


class OutOfScope(ChangeError):
    code = "out_of_scope"


class ReadOnlyRole(ChangeError):
    code = "read_only"


class NotAllowed(ChangeError):
    code = "not_allowed"


class RecordNotFound(ChangeError):
    code = "record_not_found"


class ImmutableRecord(ChangeError):
    code = "immutable_record"


class ChainGap(ChangeError):
    code = "chain_gap"


class ChainBroken(ChangeError):
    code = "chain_broken"


class ChainTampered(ChangeError):
    code = "chain_tampered"


class ChainFork(ChangeError):
    code = "chain_fork"


class AmendTargetMissing(ChangeError):
    code = "amend_target_missing"
