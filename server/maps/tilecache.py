"""Data versions and the tile cache.

Versions: every cached tile or feature table is keyed by the version of the data it was
built from. Incident-derived layers (incidents, hotspots, density, districts, public) use
the incident version of the caller's stations, tracks the track version, boundary layers
the boundary version; ``on_commit`` (an engine listener) bumps exactly the stations a commit
touched, so a sync invalidates what it changed and nothing else.

Other processes (more uvicorn workers, ``ronda import``) commit without this process's
listener; ``check_foreign`` compares the store's last sequence number with the last one this
process heard of (at most once a second) and, if it moved, bumps everything.
"""

from __future__ import annotations

import gzip
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sync.engine import Committed

ALL = "*"


@dataclass
class Versions:
    """Counters per (group, station); ``ALL`` counts every change of a group."""

    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    epoch: int = 0
    seen_seq: int = 0

    def bump(self, group: str, stations: frozenset[str] | set[str]) -> None:
        for station in (*stations, ALL):
            self.counters[group, station] = self.counters.get((group, station), 0) + 1

    def of(self, group: str, stations: tuple[str, ...] | None) -> str:
        """The version of a group over some stations (None: all of them)."""
        picked = (ALL,) if stations is None else stations
        parts = [str(self.counters.get((group, s), 0)) for s in picked]
        return f"{self.epoch}.{'.'.join(parts)}"

    def on_commit(self, committed: Committed) -> None:
        if "incidents" in committed.collections:
            self.bump("incidents", committed.stations)
        if committed.tracks:
            self.bump("tracks", committed.stations)
        self.seen_seq = max(self.seen_seq, committed.last_seq)

    def everything_changed(self, last_seq: int) -> None:
        self.epoch += 1
        self.seen_seq = last_seq


@dataclass(frozen=True, slots=True)
class CachedTile:
    body: bytes
    etag: str  # quoted strong ETag of the identity body
    gzipped: bytes | None  # the gzip encoding, when it is worth sending

    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gz"'


def make_tile(body: bytes) -> CachedTile:
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    packed = gzip.compress(body, compresslevel=5, mtime=0) if len(body) >= 1024 else None
    if packed is not None and len(packed) >= len(body):
        packed = None
    return CachedTile(body, f'"{digest}"', packed)


class TileCache:
    """An LRU of tiles bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.items: OrderedDict[str, CachedTile] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedTile | None:
        found = self.items.get(key)
        if found is None:
            self.misses += 1
            return None
        self.items.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: str, tile: CachedTile) -> None:
        size = len(tile.body) + len(tile.gzipped or b"")
        if size > self.max_bytes:
            return
        old = self.items.pop(key, None)
        if old is not None:
            self.bytes -= len(old.body) + len(old.gzipped or b"")
        self.items[key] = tile
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, dropped = self.items.popitem(last=False)
            self.bytes -= len(dropped.body) + len(dropped.gzipped or b"")


class Throttle:
    """True at most once per ``every_s`` seconds."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.last = float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every_s:
            return False
        self.last = now
        return True

    def undo(self) -> None:
        """The check ``due`` allowed did not happen (cancelled, failed): the next call is due."""
        self.last = float("-inf")
