"""Access logging, metrics and the request timeout, as one pure ASGI middleware."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.client_gone import CLIENT_GONE, CLIENT_GONE_STATUS
from server.errors import RequestTimeout, error_response
from server.metrics import Metrics

log = logging.getLogger("ronda.access")


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, timeout_s: float) -> None:
        self.app = app
        self.metrics = metrics
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
            await send(message)

        try:
            async with asyncio.timeout(self.timeout_s):
                await self.app(scope, receive, observe)
        except TimeoutError:
            if status["sent"]:
                raise
            self.metrics.errors.labels(RequestTimeout.code).inc()
            answer = error_response(RequestTimeout.code, "the request took too long", 503)
            await answer(scope, receive, observe)
        finally:
            code = int(status["code"])
            if not status["sent"] and scope.get(CLIENT_GONE):
                code = CLIENT_GONE_STATUS
            self._record(scope, code, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        state: dict[str, Any] = scope.get("state", {})
        log.info(
            "request",
            extra={
                "method": scope["method"],
                "route": route,
                "status": status,
                "ms": round(seconds * 1000, 2),
                "device_id": state.get("device_id"),
                "role": state.get("role"),
            },
        )
