"""Read-heavy paths on a PostgreSQL streaming replica, never older than what they are keyed by.

Map layers and tiles, analysis and the public pages read a lot and write little; sync (push,
pull, snapshot, wait) must read its own writes and stays on the primary. ``ReplicaRouter``
stands in for the store on the read-heavy paths: the bulk reads named in ``ROUTED`` go to the
replica, everything else (the sequence number, leases, stored analysis results, writes) to
the primary.

Staleness: every cache on those paths is keyed by the primary's sequence number (or a
version bumped when it moves). The router remembers the newest sequence number this process
has seen on the primary (``last_seq`` through it, and this process's own commits through
``on_commit``) and sends a bulk read to the replica only once the replica's own copy of the
counter has reached it. The counter is updated in the same transaction as the rows, and a
standby applies a transaction whole, so a replica at that counter holds every row up to it.
A replica behind waits, polled, at most ``wait_s``; then the read goes to the primary. A
replica that does not answer is left alone for ``DOWN_S`` and the primary serves meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.engine import Committed
from sync.errors import StoreUnavailable
from sync.store.base import Store
from sync.store.sql import SQLStore

log = logging.getLogger("ronda.replica")

# The bulk reads of layers, analysis and public pages; small lookups stay on the primary.
ROUTED = frozenset({"points", "tracks", "cell_counts", "boundaries", "time_span"})
POLL_S = 0.02  # how often a read waiting for the replica looks at its counter again
DOWN_S = 5.0  # a replica that failed is not asked again for this long
# Down, starting up, or a query cancelled by a conflict with recovery: the primary answers.
UNREACHABLE = (StoreUnavailable, DBAPIError, OSError)


class ReplicaStore(SQLStore):
    """A ``SQLStore`` on a hot standby: opening it writes nothing (a standby refuses writes)
    and connects lazily, so a replica that is down does not stop the server from starting.
    Its schema is the primary's, which the primary's own open checked."""

    serves_lookups = False

    async def _prepare_schema(self, engine: AsyncEngine) -> None:
        return None


class ReplicaRouter:
    """The store of the read-heavy paths (see the module's docstring). Not a ``Store``
    subclass: whatever it does not route it hands to the primary unchanged."""

    def __init__(self, primary: Store, replica: Store, wait_s: float) -> None:
        self.primary = primary
        self.replica = replica
        self.wait_s = wait_s
        self.wanted_seq = 0  # newest sequence number seen on the primary by this process
        self.replica_seq = 0  # the replica's counter when last read (it only moves forward)
        self.down_until = 0.0
        # The newest floor already waited for in vain: later reads of it (a request makes
        # several) look once and go to the primary, so a lagging replica costs a request at
        # most one wait, not one per read.
        self.waited_for = 0
        self.served = {"replica": 0, "primary": 0}  # bulk reads by where they went

    def __getattr__(self, name: str) -> Any:
        if name in ROUTED:
            return lambda *args, **kw: self._read(name, *args, **kw)
        return getattr(self.primary, name)

    async def open(self) -> None:
        """Open the replica (the primary is the app's own store, opened by the app)."""
        await self.replica.open()

    async def close(self) -> None:
        await self.replica.close()

    def on_commit(self, committed: Committed) -> None:
        """Engine listener: this process's own commits raise the floor at once."""
        self.wanted_seq = max(self.wanted_seq, committed.last_seq)

    async def last_seq(self) -> int:
        """The primary's sequence number: what caches are keyed by, so the replica's floor."""
        seq = await self.primary.last_seq()
        self.wanted_seq = max(self.wanted_seq, seq)
        return seq

    async def _read(self, name: str, *args: Any, **kw: Any) -> Any:
        if await self._replica_ready():
            try:
                result = await getattr(self.replica, name)(*args, **kw)
            except UNREACHABLE:
                self._mark_down()
            else:
                self.served["replica"] += 1
                return result
        self.served["primary"] += 1
        return await getattr(self.primary, name)(*args, **kw)

    async def _replica_ready(self) -> bool:
        """Whether the replica has replayed ``wanted_seq``, waiting for it at most
        ``wait_s``."""
        if time.monotonic() < self.down_until:
            return False
        wanted = self.wanted_seq
        wait_s = 0.0 if wanted <= self.waited_for else self.wait_s
        deadline = time.monotonic() + wait_s
        while self.replica_seq < wanted:
            try:
                self.replica_seq = max(self.replica_seq, await self.replica.last_seq())
            except UNREACHABLE:
                self._mark_down()
                return False
            if self.replica_seq >= wanted:
                break
            if time.monotonic() >= deadline:
                if wanted > self.waited_for:
                    behind = wanted - self.replica_seq
                    log.warning("replica behind by %d; reading from the primary", behind)
                    self.waited_for = wanted
                return False
            await asyncio.sleep(POLL_S)
        return True

    def _mark_down(self) -> None:
        log.warning("the replica does not answer; reading from the primary for %.0f s", DOWN_S)
        self.down_until = time.monotonic() + DOWN_S
