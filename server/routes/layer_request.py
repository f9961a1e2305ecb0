"""A layer request's parts: the app's layer data, the caller's scope, filters and box."""

from __future__ import annotations

import numpy as np
from starlette.requests import Request

from server.auth import authenticate_map_reader
from server.context import ctx
from server.maps.layers import Layers
from server.maps.registry import LayerDef, Scope
from server.maps.window import Window, categories, interval
from sync.errors import InvalidRequest


def parse_filters(request: Request) -> Window:
    """``datetime`` (an OGC instant or closed interval; a date is a whole local day) and
    ``category`` (comma-separated) from the query string: the rule of ``server.maps.window``."""
    params = request.query_params
    offset = ctx(request).settings.public.utc_offset_minutes * 60
    since, until = interval(params.get("datetime"), offset)
    return Window(since, until, categories(params.getlist("category")))


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if not raw:
        return None
    try:
        parts = [float(v) for v in raw.split(",")]
    except ValueError as exc:
        raise InvalidRequest("bbox must be four numbers", {"bbox": raw[:80]}) from exc
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or not all(np.isfinite(parts)):
        raise InvalidRequest("bbox must be minlon,minlat,maxlon,maxlat", {"bbox": raw[:80]})
    return parts[0], parts[1], parts[2], parts[3]


def layers_of(request: Request) -> Layers:
    """The app's layer data, created on first use (and hooked to the engine then: nothing is
    cached before, so nothing can be stale)."""
    state = request.app.state
    found: Layers | None = getattr(state, "layers", None)
    if found is None:
        c = ctx(request)
        found = Layers(c.reads, c.settings.layers, c.settings.public)
        c.engine.listeners.append(found.versions.on_commit)
        state.layers = found
    return found


async def scope_for(request: Request, layer: LayerDef) -> Scope:
    """The stations whose data the caller may see in this layer (None: all)."""
    if layer.access == "public":
        return None
    who = await authenticate_map_reader(request)  # Bearer, Basic (QGIS) or a session
    return ctx(request).engine.scope(who).station_ids
