"""Load shedding: a saturated worker answers 429 ``busy`` at once instead of timing out later.

At a shift change thousands of phones sync in the same minutes. A worker that takes every
request runs them all at once on one event loop: each gets slower until they all miss the
request timeout (503) together. Two limits keep the answers fast for the requests that are
served and tell the others, cheaply, when to come back:

- **Admission.** Each worker serves at most ``sync.max_inflight`` sync and tile requests at
  once. Beyond that a request waits in a short first-come queue: at most ``sync.max_queued``
  requests, each at most ``sync.queue_wait_s`` seconds. A request that finds the queue full,
  or waits its time out, is shed.
- **A budget per device.** Each device token has a token bucket of ``sync.device_burst``
  requests, refilled at ``sync.device_rate_per_s``: a phone caught in a retry loop, or a
  script with a stolen token, cannot take the worker's whole admission for itself.

Both live in the worker's memory: nothing is shared between workers or hosts, so with W
workers behind one balancer a device may get up to W times its budget. That is deliberate:
the limits protect each worker's event loop, which is what saturates; a shared counter would
cost a database round trip on every request, the very thing being protected.

A shed request gets 429 ``busy`` with ``Retry-After`` (whole seconds) and
``details.retry_after_s``, jittered so that the phones shed together do not all come back in
the same second. Nothing was read or written for it, so retrying is always safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from server.client_gone import CLIENT_GONE, ClientWatch
from server.errors import Busy, error_response
from server.metrics import Metrics
from server.settings import Settings

# Paths whose requests are admitted and budgeted. The wake-up long-poll is not: it holds a
# coroutine for up to sync.wait_max_s and has its own bound (sync.wait_waiters).
SHED_PREFIXES = ("/v1/sync/push", "/v1/sync/pull", "/v1/sync/snapshot", "/tiles/")
BUDGET_PREFIXES = ("/v1/sync/push", "/v1/sync/pull", "/v1/sync/snapshot")
# Read-only work a gone client's request is cancelled in (a tile, built for nobody). A pull is
# not: cancelling it saves little and its answer is cheap next to a tile's.
BUILT_PREFIXES = ("/tiles/",)
MAX_TRACKED_DEVICES = 100_000  # buckets kept per worker; the least recently seen go first


@dataclass(frozen=True, slots=True)
class ShedLimits:
    max_inflight: int
    max_queued: int
    queue_wait_s: float
    queue_target_s: float
    device_rate_per_s: float
    device_burst: int
    retry_after_s: int


# A queue that has not emptied for this long is standing, not a burst being absorbed (CoDel's
# interval, RFC 8289: a good queue drains within a round of work; a bad one never does).
STANDING_AFTER_S = 0.1


@dataclass(slots=True)
class _Waiter:
    since: float
    # True: handed a place; False: cut from a standing queue (shed).
    future: asyncio.Future[bool]


class Admission:
    """At most ``limit`` holders at once; a bounded first-come queue with a bounded wait.

    A burst may wait up to ``wait_s``. Once the queue has stood for ``STANDING_AFTER_S``
    without emptying (the worker is saturated, not briefly behind), a request that has waited
    longer than ``target_s`` is shed at the next arrival or departure instead of waiting on:
    in a storm the requests served have waited about ``target_s`` at most, and the others are
    told to come back, at once, instead of after a long wait that ends in a 429 anyway.
    """

    def __init__(
        self,
        limit: int,
        max_queued: int,
        wait_s: float,
        target_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.max_queued = max_queued
        self.wait_s = wait_s
        self.target_s = wait_s if target_s is None else min(target_s, wait_s)
        self.clock = clock
        self.inflight = 0
        self._queue: deque[_Waiter] = deque()
        self._backlog_since: float | None = None  # when the queue last became non-empty

    def standing(self, now: float) -> bool:
        """Has the queue stayed non-empty for ``STANDING_AFTER_S``?"""
        since = self._backlog_since
        return since is not None and now - since >= STANDING_AFTER_S

    def try_enter(self) -> bool:
        """Take a free place at once if there is one and nobody waits for it."""
        self._cut(self.clock())
        if self.inflight < self.limit and not self._queue:
            self.inflight += 1
            return True
        return False

    async def enter(self) -> bool:
        """Take a place (True), or False when the queue is full, the wait ran out, or the
        request was cut from a standing queue."""
        if self.try_enter():
            return True
        now = self.clock()
        if len(self._queue) >= self.max_queued or self.wait_s <= 0:
            return False
        waiter = _Waiter(now, asyncio.get_running_loop().create_future())
        if not self._queue:
            self._backlog_since = now
        self._queue.append(waiter)
        try:
            async with asyncio.timeout(self.wait_s):
                return await waiter.future
        except TimeoutError:
            if _admitted(waiter):
                return True  # handed a place just as the wait ran out: keep it
            self._forget(waiter)
            return False
        except BaseException:  # the client went away while waiting
            if _admitted(waiter):
                self.leave()
            self._forget(waiter)
            raise

    def leave(self) -> None:
        """Give a place back: to the longest waiter still waiting, else to the pool."""
        self._cut(self.clock())
        while self._queue:
            waiter = self._queue.popleft()
            if not self._queue:
                self._backlog_since = None
            if not waiter.future.done():
                waiter.future.set_result(True)  # the place passes on; inflight stays the same
                return
        self.inflight -= 1

    def _cut(self, now: float) -> None:
        """In a standing queue, shed the waiters (the oldest first) past ``target_s``."""
        if not self.standing(now):
            return
        while self._queue and now - self._queue[0].since > self.target_s:
            waiter = self._queue.popleft()
            if not waiter.future.done():
                waiter.future.set_result(False)
        if not self._queue:
            self._backlog_since = None

    def _forget(self, waiter: _Waiter) -> None:
        with contextlib.suppress(ValueError):  # already taken off by leave() or _cut()
            self._queue.remove(waiter)
        if not self._queue:
            self._backlog_since = None


def _admitted(waiter: _Waiter) -> bool:
    future = waiter.future
    return future.done() and not future.cancelled() and future.result()


# Real device tokens are ~45 characters (docs/protocol.md); room to spare.
MAX_TOKEN_BYTES = 512


class DeviceBudgets:
    """A token bucket per device token: ``burst`` requests, refilled at ``rate`` a second."""

    def __init__(self, rate: float, burst: int, tracked: int = MAX_TRACKED_DEVICES) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tracked = tracked
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float) -> float:
        """Spend one request of ``key``'s budget: 0.0 if it had one, else the seconds until
        it will have one again (nothing spent)."""
        tokens, stamp = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        waited = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            waited = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)  # most recently seen last
        if len(self._buckets) > self.tracked:
            self._buckets.popitem(last=False)
        return waited

    def refund(self, key: str) -> None:
        """Give back a request that was spent but then shed by admission."""
        found = self._buckets.get(key)
        if found is not None:
            self._buckets[key] = (min(self.burst, found[0] + 1.0), found[1])


def jittered(seconds: float, rng: random.Random) -> int:
    """Whole seconds for ``Retry-After``: ``seconds`` stretched by a random 0-50 %, at least 1."""
    return max(1, math.ceil(seconds * (1.0 + 0.5 * rng.random())))


def busy(message: str, seconds: float, reason: str, rng: random.Random) -> Busy:
    """A 429 ``busy`` saying why (``details.reason``), its ``Retry-After`` ``seconds``
    jittered: every shed answer, whatever sheds it, spreads its devices' returns alike."""
    shed = Busy(message, jittered(seconds, rng))
    shed.details["reason"] = reason
    return shed


class ShedMiddleware:
    """Pure ASGI: budget, then admission, then the app; 429 ``busy`` when either says no."""

    def __init__(
        self,
        app: ASGIApp,
        limits: ShedLimits,
        metrics: Metrics,
        routes: Sequence[BaseRoute],
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.metrics = metrics
        self.routes = routes
        # A shed answer must stay cheap (a storm sends several for each request served): name
        # its route among the few that can be shed, not by matching every route of the app.
        self.shed_routes = [
            r for r in routes if str(getattr(r, "path", "")).startswith(SHED_PREFIXES)
        ]
        self.rng = rng or random.Random()
        self.admission = Admission(
            limits.max_inflight, limits.max_queued, limits.queue_wait_s, limits.queue_target_s
        )
        self.budgets = DeviceBudgets(limits.device_rate_per_s, limits.device_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(SHED_PREFIXES):
            await self.app(scope, receive, send)
            return
        key = _bearer(scope) if path.startswith(BUDGET_PREFIXES) else None
        if key is not None:
            wait_s = self.budgets.take(key, time.monotonic())
            if wait_s > 0:
                await self._shed(scope, receive, send, "device_budget", wait_s)
                return
        watched = ClientWatch.wanted(scope)
        watch: ClientWatch | None = None
        try:
            if self.admission.try_enter():
                admitted: bool | None = True
            elif not watched:
                admitted = await self.admission.enter()
            else:  # a client that goes while it waits leaves its place in the queue to others
                watch = ClientWatch(receive)
                admitted = await watch.unless_gone(self.admission.enter, self.admission.leave)
            if not admitted:
                if key is not None:
                    self.budgets.refund(key)  # the device did not get served
                if admitted is None:  # nobody to answer
                    self.metrics.shed.labels("client_gone").inc()
                    scope[CLIENT_GONE] = True
                    self._name_route(scope)
                else:
                    await self._shed(scope, receive, send, "saturated", self.limits.retry_after_s)
                return
            try:
                if watched and path.startswith(BUILT_PREFIXES):
                    watch = watch or ClientWatch(receive)
                    await watch.serve(self.app, scope, send)
                    if scope.get(CLIENT_GONE) and scope.get("route") is None:
                        self._name_route(scope)  # cancelled before the router named it
                else:
                    await self.app(scope, watch.receive if watch else receive, send)
            finally:
                self.admission.leave()
        finally:
            if watch is not None:
                watch.close()

    def _name_route(self, scope: Scope) -> None:
        """The access log and the request metrics name the route, as for a served request."""
        scope["route"] = next(
            (r for r in self.shed_routes if r.matches(scope)[0] == Match.FULL), scope.get("route")
        )

    async def _shed(
        self, scope: Scope, receive: Receive, send: Send, reason: str, wait_s: float
    ) -> None:
        self.metrics.shed.labels(reason).inc()
        self.metrics.errors.labels(Busy.code).inc()
        self._name_route(scope)
        message = (
            "this device is over its request budget; retry after Retry-After seconds"
            if reason == "device_budget"
            else "the server is saturated; retry after Retry-After seconds"
        )
        shed = busy(message, wait_s, reason, self.rng)
        answer = error_response(shed.code, shed.message, 429, shed.details, shed.headers)
        await answer(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    """The budget key of the request's bearer token: a short digest, so that made-up tokens of
    any length (this runs before authentication) cost a fixed few bytes each in the table;
    a token longer than any real one has no budget (authentication refuses it anyway)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            token = token.strip()
            if scheme.lower() != b"bearer" or not token or len(token) > MAX_TOKEN_BYTES:
                return None
            return hashlib.blake2b(token, digest_size=16).hexdigest()
    return None


def shed_limits(settings: Settings) -> ShedLimits:
    """The shedder's limits from the ``sync`` settings."""
    s = settings.sync
    return ShedLimits(
        s.max_inflight,
        s.max_queued,
        s.queue_wait_s,
        s.queue_target_s,
        s.device_rate_per_s,
        s.device_burst,
        s.busy_retry_after_s,
    )
