"""A bad network between a reference client and the server, for the fleet simulator
(``sync.simulate``) and the tests: answers lost, requests duplicated, old pushes delivered
again, 503s and delays, from a seeded random source so that a run repeats.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import httpx


@dataclass(slots=True)
class Faults:
    """Per-request fault rates of a ``FaultyTransport``."""

    drop_response: float = 0.0  # the server did the work; the device never hears back
    duplicate: float = 0.0  # the request reaches the server twice
    stale_replay: float = 0.0  # an earlier push is delivered again before this one
    server_error: float = 0.0  # a 503 before the server sees the request
    max_delay_s: float = 0.0
    enabled: bool = True


@dataclass(slots=True)
class FaultCounts:
    lost_responses: int = 0
    duplicates: int = 0
    stale_replays: int = 0
    server_errors: int = 0


class FaultyTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and injects network faults (seeded, so runs repeat)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, faults: Faults, rng: random.Random) -> None:
        self.inner = inner
        self.faults = faults
        self.rng = rng
        self.counts = FaultCounts()
        self._old_push: httpx.Request | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        f, rng = self.faults, self.rng
        if not f.enabled:
            return await self._send(request, body)
        if f.max_delay_s:
            await asyncio.sleep(rng.uniform(0, f.max_delay_s))
        if rng.random() < f.server_error:
            self.counts.server_errors += 1
            error = {"code": "store_unavailable", "message": "injected", "details": {}}
            return httpx.Response(503, json={"error": error}, request=request)
        is_push = request.url.path.endswith("/sync/push")
        if is_push and self._old_push is not None and rng.random() < f.stale_replay:
            self.counts.stale_replays += 1
            await self._send(self._old_push, self._old_push.content)
        response = await self._send(request, body)
        if is_push:
            self._old_push = _copy(request, body)
        if rng.random() < f.duplicate:
            self.counts.duplicates += 1
            second = await self._send(request, body)
            if rng.random() < 0.5:
                response = second
        if rng.random() < f.drop_response:
            self.counts.lost_responses += 1
            raise httpx.ReadTimeout("injected: the answer was lost", request=request)
        return response

    async def _send(self, request: httpx.Request, body: bytes) -> httpx.Response:
        response = await self.inner.handle_async_request(_copy(request, body))
        content = await response.aread()  # decoded: drop the headers that described it
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length")
        ]
        return httpx.Response(response.status_code, headers=headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _copy(request: httpx.Request, body: bytes) -> httpx.Request:
    return httpx.Request(request.method, request.url, headers=request.headers, content=body)
