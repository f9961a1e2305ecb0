"""What a request handler reaches through ``request.app.state.ctx``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from starlette.requests import Request

from server.maps.analysis import Analysis
from server.metrics import Metrics
from server.readiness import PlacesState
from server.settings import Settings
from sync.engine import SyncEngine
from sync.store.base import Store


@dataclass(slots=True)
class AppContext:
    settings: Settings
    store: Store
    engine: SyncEngine
    metrics: Metrics
    analysis: Analysis
    places: PlacesState = field(default_factory=PlacesState)
    snapshots: int = 0  # snapshot streams this worker is serving (server/routes/snapshot.py)
    rng: random.Random = field(default_factory=random.Random)  # Retry-After's jitter
    # Layers, analysis and public pages read through this when a replica is configured
    # (sync.store.replica.ReplicaRouter); sync never does.
    replica_reads: Store | None = None

    @property
    def reads(self) -> Store:
        """The store of the read-heavy paths: the replica's router, else the store."""
        return self.replica_reads or self.store


def ctx(request: Request) -> AppContext:
    context: AppContext = request.app.state.ctx
    return context
