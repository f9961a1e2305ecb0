"""The wake-up long-poll behind ``GET /v1/sync/wait`` (docs/protocol.md, "Wake-up").

A phone that is online holds one request open; it is answered as soon as anything in its
pull scope is newer than its cursor (a notice, a plan, an incident), or after ``timeout_s``
with ``changed: false``. Then the phone pulls as usual. Nothing is sent over the wait itself.

How a worker learns of writes made by another worker (or another server on the same
database): one task per worker reads the store's last sequence number every ``POLL_S``
(a one-row primary-key read, shared by all the worker's waiters), and writes made in this
worker wake the waiters at once through the engine's commit listeners. Polling was chosen over
PostgreSQL LISTEN/NOTIFY because it works the same on SQLite and PostgreSQL, through
PgBouncer in transaction mode (which breaks LISTEN), and needs no connection held per worker;
its cost is one tiny read per worker every quarter second while anyone waits, and a delay of
at most ``POLL_S`` across workers. Only when the number moved does each waiter look (one
indexed one-row query) for something in its own scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from server.shedding import busy
from sync.engine import Committed, SyncEngine
from sync.errors import StoreUnavailable
from sync.store.records import Identity

log = logging.getLogger("ronda.wake")

POLL_S = 0.25


class WakeHub:
    """The waiters of one worker, bounded in number, woken by the sequence number moving."""

    def __init__(
        self,
        engine: SyncEngine,
        max_waiters: int,
        retry_after_s: int,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.max_waiters = max_waiters
        self.retry_after_s = retry_after_s
        self.rng = rng or random.Random()  # Retry-After's jitter
        self.waiting = 0
        self._moved = asyncio.Event()
        self._last = -1
        self._poller: asyncio.Task[None] | None = None
        engine.listeners.append(self._on_commit)

    def _on_commit(self, committed: Committed) -> None:
        self._wake(committed.last_seq)

    def _wake(self, seq: int) -> None:
        if seq > self._last:
            self._last = seq
            self._moved.set()
            self._moved = asyncio.Event()  # waiters take the next one after looking

    async def wait(self, who: Identity, after_seq: int, timeout_s: float) -> bool:
        """True as soon as the scope of ``who`` holds a record after ``after_seq``; False
        when ``timeout_s`` passes first. Raises ``Busy`` when the worker holds enough."""
        if self.waiting >= self.max_waiters:
            raise busy(
                "too many devices are waiting; pull later",
                self.retry_after_s,
                "wait_waiters",
                self.rng,
            )
        scope = self.engine.scope(who)
        self.waiting += 1
        self._start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while True:
                moved = self._moved  # taken before looking: a write during the look wakes it
                if await self.engine.store.pull(scope, after_seq, 1):
                    return True
                left = deadline - loop.time()
                if left <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(moved.wait(), left)
        finally:
            self.waiting -= 1

    def _start(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        """Read the last sequence number while anyone waits; stop when nobody does."""
        while self.waiting > 0:
            try:
                self._wake((await self.engine.store.sync_state()).last_seq)
            except StoreUnavailable:
                log.warning("wake-up poll could not read the store; trying again")
            await asyncio.sleep(POLL_S)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
