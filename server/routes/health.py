"""Liveness, readiness and metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.answers import answer
from server.answers.common import Health, Ready
from server.context import ctx
from server.errors import error_response
from server.routes.common import json_response
from sync.errors import StoreUnavailable

STARTING = {
    "loading_places": "the boundary layers are still loading",
    "places_failed": "the boundary layers could not be loaded; see the log",
}


async def healthz(request: Request) -> Response:
    return json_response(answer(Health(status="ok")))


async def readyz(request: Request) -> Response:
    try:
        await ctx(request).store.ping()
    except StoreUnavailable as exc:
        return error_response(exc.code, exc.message, 503)
    reason = ctx(request).places.reason
    if reason is not None:
        message = STARTING.get(reason, reason)
        return error_response("starting", message, 503, {"reason": reason})
    ready = Ready(status="ready", last_seq=await ctx(request).store.last_seq())
    return json_response(answer(ready))


async def metrics(request: Request) -> Response:
    return Response(ctx(request).metrics.render(), media_type="text/plain; version=0.0.4")


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
