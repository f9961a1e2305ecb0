"""The one place where errors become HTTP answers.

Shape, always: ``{"error": {"code", "message", "details"}}``.  Every project error
(``core.errors.RondaError``: sync's, geo's, the attachments', the server's own) gets its HTTP
status from ``STATUS``, the one table; a class not in it answers by its nearest mapped base.
A 500 says nothing internal and logs the traceback.  No database driver is imported here: the
store lets out ``StoreUnavailable`` for a database that went away (sync/store/driver_errors.py).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope

from core.errors import RondaError
from geo.errors import GeoError
from server.logs import mark_logged
from sync import errors as e
from sync.attachments.blobs import BlobMissing, BlobTampered
from sync.attachments.images import UnreadableImage
from sync.attachments.s3 import BlobStoreUnavailable
from sync.attachments.uploads import UploadLocked

log = logging.getLogger("ronda.errors")


# --- the server's own errors (the rest are sync's, geo's and the attachments') ---


class RequestTimeout(e.SyncError):
    code = "timeout"


class Busy(e.SyncError):
    """The server sheds this request to stay responsive: retry after ``Retry-After``."""

    code = "busy"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, {"retry_after_s": retry_after_s})
        self.headers = {"Retry-After": str(retry_after_s)}


# tus (resumable uploads, server/routes/uploads.py): the protocol's own refusals.


class TusVersionUnsupported(e.SyncError):
    code = "tus_version_unsupported"


class OffsetMismatch(e.SyncError):
    code = "offset_mismatch"


class ChecksumMismatch(e.SyncError):
    code = "checksum_mismatch"


class ChecksumUnsupported(e.SyncError):
    code = "checksum_unsupported"


class UploadExpired(e.SyncError):
    code = "upload_expired"


class QuotaExceeded(e.SyncError):
    code = "quota_exceeded"


class HashMismatch(e.SyncError):
    """The whole upload does not hash to the sha256 it was created for."""

    code = "attachment_hash_mismatch"


class RangeOutside(e.SyncError):
    """A download's ``Range`` starts past the file's end (RFC 9110 §15.5.17)."""

    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__("the range starts past the end of the file", {"size": size})
        self.headers = {"Content-Range": f"bytes */{size}"}


class ExportTooLarge(e.SyncError):
    """A zip export would hold more bytes of files than ``max_export_bytes`` allows."""

    code = "export_too_large"

    def __init__(self, planned: int, most: int) -> None:
        super().__init__(
            "the export's files exceed the limit: narrow the period, area or categories",
            {"bytes": planned, "max_bytes": most},
        )


class MediaTypeRefused(e.UnsupportedMediaType):
    """The bytes are none of the media types attachments may have."""

    code = "attachment_type_refused"


# The one table: every project error that may reach a client, by class; docs/protocol.md
# ("Request-level errors") lists the same codes with the same statuses (a test compares them).
STATUS: dict[type[RondaError], int] = {
    e.SyncError: 400,  # the base, never sent on purpose
    e.InvalidRequest: 400,
    e.InvalidJSON: 400,
    e.InvalidCursor: 400,
    e.Unauthorized: 401,
    e.TokenRevoked: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.EnrollmentInvalid: 403,
    e.AlreadyExists: 409,
    e.BatchIdReused: 409,
    e.PayloadTooLarge: 413,
    e.BatchTooLarge: 413,
    e.UnsupportedEncoding: 415,
    e.UnsupportedMediaType: 415,
    e.StoreUnavailable: 503,
    RequestTimeout: 503,
    Busy: 429,
    # A geo error reaching a request means the data cannot be computed as asked (a density
    # grid over its cell limit, say): the request was understood, so 422, never a 500.
    GeoError: 422,
    # attachments and tus
    BlobStoreUnavailable: 503,
    BlobTampered: 409,
    BlobMissing: 404,
    UnreadableImage: 422,
    ExportTooLarge: 422,
    RangeOutside: 416,
    UploadLocked: 423,
    TusVersionUnsupported: 412,
    OffsetMismatch: 409,
    ChecksumMismatch: 460,
    ChecksumUnsupported: 400,
    UploadExpired: 410,
    QuotaExceeded: 429,
    HashMismatch: 422,
    MediaTypeRefused: 415,
}

HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def status_for(exc: RondaError) -> int:
    """The HTTP status of ``exc``: its class's in ``STATUS``, or its nearest base's; 500 for
    a project error no table row covers (a bug: it is answered as one)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(
    code: str,
    message: str,
    status: int,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return Response(orjson.dumps(body), status, headers or None, media_type="application/json")


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route serves at this request's path (RFC 9110 ``Allow``).

    Several routes may share a path (``GET /login`` and ``POST /login``), so the router's
    first partial match alone would name too few.
    """
    methods: set[str] = set()
    literal = {  # a path without parameters shadows templates (/v1/plans/hot-cells)
        m
        for route in routes
        if isinstance(route, Route)
        and not route.param_convertors
        and route.matches(scope)[0] != Match.NONE
        for m in route.methods or ()
    }
    if literal:
        return literal
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.NONE:
            continue
        if isinstance(route, Route):
            methods |= route.methods or set()
        elif isinstance(route, Mount) and route.routes:
            methods |= allowed_methods(route.routes, {**scope, **child})
        else:  # a mounted app such as StaticFiles: it serves reads only
            methods |= {"GET", "HEAD"}
    return methods


def _count(request: Request, code: str) -> None:
    context = getattr(request.app.state, "ctx", None)
    if context is not None:
        context.metrics.errors.labels(code).inc()


async def project_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RondaError)
    status = status_for(exc)
    if status == 500:
        return await server_error(request, exc)
    if isinstance(exc, e.StoreUnavailable) and exc.__cause__ is not None:
        # The database went away mid-request: say so (503, retry later), never what it said.
        log.error("database error", extra={"code": exc.code}, exc_info=exc.__cause__)
    _count(request, exc.code)
    # An error may name its own headers (a map endpoint's Basic challenge, server/auth.py).
    headers = getattr(exc, "headers", None)
    return error_response(exc.code, exc.message, status, exc.details, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    _count(request, code)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = allowed_methods(request.app.router.routes, request.scope)
        headers["Allow"] = ", ".join(sorted(methods))
    return error_response(code, str(exc.detail), exc.status_code, headers=headers)


async def server_error(request: Request, exc: Exception) -> Response:
    # The route, not the path: a path may carry ids, and the traceback is enough to debug.
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.exception("unhandled error", extra={"route": route, "code": "internal_error"})
    mark_logged(exc)  # uvicorn, to which Starlette re-raises it, then does not log it again
    _count(request, "internal_error")
    return error_response("internal_error", "the server failed; the error is logged", 500)


HANDLERS: dict[Any, Any] = {
    RondaError: project_error,
    HTTPException: http_error,
    Exception: server_error,
}
