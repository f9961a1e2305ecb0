"""The one place where errors become HTTP answers.

Shape, always: ``{"error": {"code", "message", "details"}}``.  A 500 says nothing internal and
logs the traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope

from geo.errors import GeoError
from server.logs import mark_logged
from sync import errors as e

log = logging.getLogger("ronda.errors")

STATUS: dict[type[e.SyncError], int] = {
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
}

HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


class RequestTimeout(e.SyncError):
    code = "timeout"


STATUS[RequestTimeout] = 503


class Busy(e.SyncError):
    """The server sheds this request to stay responsive: retry after ``Retry-After``."""

    code = "busy"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, {"retry_after_s": retry_after_s})
        self.headers = {"Retry-After": str(retry_after_s)}


STATUS[Busy] = 429


def status_for(exc: e.SyncError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


# A geo error reaching a request means the data cannot be computed as asked (a density grid
# over its cell limit, say): the request was understood, so 422, never a 500.
GEO_STATUS = 422


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


async def sync_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.SyncError)
    _count(request, exc.code)
    # An error may name its own headers (a map endpoint's Basic challenge, server/auth.py).
    headers = getattr(exc, "headers", None)
    return error_response(exc.code, exc.message, status_for(exc), exc.details, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    _count(request, code)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = allowed_methods(request.app.router.routes, request.scope)
        headers["Allow"] = ", ".join(sorted(methods))
    return error_response(code, str(exc.detail), exc.status_code, headers=headers)


async def geo_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GeoError)
    _count(request, exc.code)
    return error_response(exc.code, exc.message, GEO_STATUS, exc.details)


async def server_error(request: Request, exc: Exception) -> Response:
    # The route, not the path: a path may carry ids, and the traceback is enough to debug.
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.exception("unhandled error", extra={"route": route, "code": "internal_error"})
    mark_logged(exc)  # uvicorn, to which Starlette re-raises it, then does not log it again
    _count(request, "internal_error")
    return error_response("internal_error", "the server failed; the error is logged", 500)


async def database_error(request: Request, exc: Exception) -> Response:
    # The database went away mid-request: say so (503, retry later), never what it said.
    log.error("database error", extra={"code": "store_unavailable"}, exc_info=exc)
    _count(request, e.StoreUnavailable.code)
    return error_response(e.StoreUnavailable.code, "the database is unavailable; retry", 503)


HANDLERS: dict[Any, Any] = {
    OperationalError: database_error,
    InterfaceError: database_error,
    DisconnectionError: database_error,
    e.SyncError: sync_error,
    GeoError: geo_error,
    HTTPException: http_error,
    Exception: server_error,
}
