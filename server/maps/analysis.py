"""Crime analysis served by the app: hotspots, emerging hotspots, rates, PAI and dosage.

Results are computed from counts the database groups per H3 cell (``store.cell_counts``), so
a request never loops over incidents in Python.  Each result carries a version (algorithm and
data sequence); the ones people asked for are kept, and after syncs that touch their
stations they are recomputed in the background, debounced, so the next request is served
from memory.

Several workers and hosts compute a result once between them: a result is stored with the
sequence number it was computed at (``analysis_result``); a worker that misses its own cache
loads it from there, and only one worker at a time computes a given question at a given
sequence (a lease), while the others wait for its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from h3.api import basic_int as h3int

from geo.analysis.emerging import WEEK_S, EmergingResult, emerging_from_cells
from geo.analysis.hotspots import ALGORITHM_VERSION, HotspotResult, hotspots_from_cells
from geo.grid.cells import CellSpec
from server.maps.analysis_codec import decode, encode
from server.maps.tilecache import Throttle
from sync.clock import now_ms
from sync.engine import Committed
from sync.store.base import Store
from sync.store.records import PointQuery

log = logging.getLogger("ronda.analysis")
STORED_RESOLUTION = 9  # placement stores H3 cells at this resolution
FOREIGN_CHECK_S = 1.0  # how stale another worker's commit may leave a cached result
COMPUTE_LEASE_MS = 120_000  # a computing worker that died is taken over after this
WAIT_POLL_S = 0.1  # how often a waiting worker looks for the computing worker's result


@dataclass(frozen=True, slots=True)
class AnalysisKey:
    """One question: which stations (None: all), window, categories, grid."""

    kind: str  # "hotspots" or "emerging"
    stations: tuple[str, ...] | None
    since_s: int | None
    until_s: int | None
    categories: tuple[str, ...] | None
    resolution: int
    k: int
    slices: int = 0

    def query(self) -> PointQuery:
        return PointQuery(self.stations, self.since_s, self.until_s, self.categories)

    def digest(self) -> str:
        """The question's name in ``analysis_result``: the same on every worker and host."""
        text = repr(
            (
                ALGORITHM_VERSION,
                self.kind,
                self.stations,
                self.since_s,
                self.until_s,
                self.categories,
                self.resolution,
                self.k,
                self.slices,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class Entry:
    result: Any
    version: str
    computed_s: float
    generation: int = 0  # commits counted when its computation started


@dataclass
class Analysis:
    store: Store
    debounce_s: float = 5.0
    max_entries: int = 256
    _cache: dict[AnalysisKey, Entry] = field(default_factory=dict)
    # Generations, not flags: an entry stays stale until one computed after the commit that
    # touched it is stored, so a request arriving while the background task recomputes does
    # not get the old answer (a flag cleared when the recomputation started allowed that).
    _generation: int = 0
    _station_changed: dict[str, int] = field(default_factory=dict)
    _all_changed: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Other workers and hosts commit without this process's listener: a request compares the
    # store's last sequence number with the last one heard of, at most once a second, and on
    # a move treats everything as changed (the same bound as the layers' ``refresh``).
    _seen_seq: int = 0
    _foreign_check: Throttle = field(default_factory=lambda: Throttle(FOREIGN_CHECK_S))
    _check_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holder: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    )
    computations: int = 0  # results this worker computed itself (not loaded)

    # --- listening to the engine ---
    def on_commit(self, committed: Committed) -> None:
        """Engine listener: mark what a commit touched; the background task recomputes."""
        self._seen_seq = max(self._seen_seq, committed.last_seq)
        if "incidents" not in committed.collections:
            return
        self._generation += 1
        for station in committed.stations:
            self._station_changed[station] = self._generation
        self._wake.set()

    def invalidate_all(self) -> None:
        """Boundaries changed (re-placement): everything is stale."""
        self._generation += 1
        self._all_changed = self._generation
        self._wake.set()

    async def run_forever(self) -> None:
        """Recompute, debounced, the kept results whose stations changed."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.debounce_s)  # let a burst of pushes finish first
            self._wake.clear()
            for key, entry in list(self._cache.items()):
                if self._stale(key, entry):
                    try:
                        await self._compute(key)
                    except Exception:
                        log.exception("background recomputation failed")

    def _stale(self, key: AnalysisKey, entry: Entry) -> bool:
        """Whether a commit since ``entry`` was computed can have changed its answer."""
        if self._all_changed > entry.generation:
            return True
        stations = self._station_changed if key.stations is None else key.stations
        return any(self._station_changed.get(s, 0) > entry.generation for s in stations)

    # --- questions ---
    async def hotspots(self, key: AnalysisKey) -> tuple[HotspotResult, str]:
        return await self._get(key)

    async def emerging(self, key: AnalysisKey) -> tuple[EmergingResult, str]:
        return await self._get(key)

    async def _notice_foreign_commits(self) -> None:
        # Requests that arrive while a check is out wait for it: answering them from the
        # cache meanwhile served results older than the bound.
        async with self._check_lock:
            if self._foreign_check.due():
                last = await self.store.last_seq()
                if last > self._seen_seq:
                    self._seen_seq = last
                    self.invalidate_all()

    async def _get(self, key: AnalysisKey) -> tuple[Any, str]:
        await self._notice_foreign_commits()
        entry = self._cache.get(key)
        if entry is None or self._stale(key, entry):
            entry = await self._compute(key)
        return entry.result, entry.version

    async def _compute(self, key: AnalysisKey) -> Entry:
        generation = self._generation
        seq = await self.store.last_seq()
        result = await self._shared(key, seq)
        entry = Entry(result, f"{ALGORITHM_VERSION}.{key.kind}.{seq}", time.time(), generation)
        current = self._cache.get(key)
        if current is not None and current.generation > generation:
            return entry  # a computation started later already stored a newer answer
        if len(self._cache) >= self.max_entries and key not in self._cache:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = entry
        return entry

    async def _shared(self, key: AnalysisKey, seq: int) -> Any:
        """The result at ``seq``: stored by any worker, or computed here under a lease."""
        name = key.digest()
        lease = f"analysis:{name}:{seq}"
        holder = f"{self.holder}:{secrets.token_hex(4)}"  # two requests of one worker too
        while True:
            body = await self.store.analysis_result(name, seq)
            if body is not None:
                return decode(body)
            if await self.store.take_lease(lease, holder, now_ms(), COMPUTE_LEASE_MS):
                break
            await asyncio.sleep(WAIT_POLL_S)  # another worker computes it
        try:
            body = await self.store.analysis_result(name, seq)  # stored before the lease
            if body is not None:
                return decode(body)
            compute: Callable[[AnalysisKey], Awaitable[Any]] = (
                self._hotspots if key.kind == "hotspots" else self._emerging
            )
            result = await compute(key)
            self.computations += 1
            stored = await asyncio.to_thread(encode, key.kind, result)
            await self.store.put_analysis_result(name, seq, stored, now_ms())
            return result
        finally:
            await self.store.drop_lease(lease, holder)

    async def _hotspots(self, key: AnalysisKey) -> HotspotResult:
        counts = await self.store.cell_counts(key.query())
        cells, per_cell = coarsen(counts["cell"], counts["count"], key.resolution)
        spec = CellSpec("h3", resolution=key.resolution, rule="given")
        return await asyncio.to_thread(hotspots_from_cells, cells, per_cell, spec, k=key.k)

    async def _emerging(self, key: AnalysisKey) -> EmergingResult:
        edges = slice_edges(key.until_s, key.slices)
        query = PointQuery(key.stations, int(edges[0]), int(edges[-1]), key.categories)
        counts = await self.store.cell_counts(query, bucket_s=WEEK_S)
        parents = coarsen_rows(counts["cell"], key.resolution)
        slot = counts["bucket"] - int(edges[0]) // WEEK_S
        spec = CellSpec("h3", resolution=key.resolution, rule="given")
        return await asyncio.to_thread(
            emerging_from_cells, parents, slot, counts["count"], spec, edges, k=key.k, time_k=0
        )


def slice_edges(until_s: int | None, slices: int) -> np.ndarray:
    """Weekly slice edges ending at the first week boundary at or after ``until_s``.

    Weeks are those the database groups by (``occurred_s // 604800``: Thursday 00:00 UTC),
    so a slice is always a whole group.
    """
    end = -(-int(until_s or 0) // WEEK_S) * WEEK_S
    return end - WEEK_S * np.arange(slices, -1, -1, dtype=np.int64)


def coarsen(
    cells: np.ndarray, counts: np.ndarray, resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of stored cells summed into their parents at ``resolution`` (≤ the stored one)."""
    parents = coarsen_rows(cells, resolution)
    unique, inverse = np.unique(parents, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts).astype(np.int64)


def coarsen_rows(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Each stored cell's parent at ``resolution`` (row-aligned)."""
    if resolution >= STORED_RESOLUTION:
        return cells.astype(np.int64)
    distinct, inverse = np.unique(cells, return_inverse=True)
    parents = np.array([h3int.cell_to_parent(int(c), resolution) for c in distinct], dtype=np.int64)
    return parents[inverse]


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
