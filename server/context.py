"""What a request handler reaches through ``request.app.state.ctx``."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from server.analysis import Analysis
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


def ctx(request: Request) -> AppContext:
    context: AppContext = request.app.state.ctx
    return context
