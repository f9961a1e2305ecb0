"""What the chief's map cannot read from its tiles: each tiled layer's count, why it is empty,
and the short lists the panel shows (``/web/data/meta/{layer}.json``), from the same cached
feature tables the tiles are cut from, so they agree (the rest of the map's data:
``server.web.mapdata``)."""

from __future__ import annotations

from typing import Any

import h3
import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.maps.layerdata import MIN_GI_INCIDENTS, scoped_points
from server.maps.layers import Layers
from server.maps.registry import LAYERS
from server.maps.window import Window
from server.routes.common import json_response
from server.routes.layer_request import layers_of
from server.web.filters import MapView, map_view
from server.web.i18n import EMPTY_REASONS
from server.web.mapdata import MIN_DENSITY_INCIDENTS, NO_STORE
from server.web.render import page_language
from sync.errors import NotFound

TILED = ("incidents", "hotspots", "density", "districts", "tracks")
RECENT = 15  # incidents in the panel's keyboard list
TOP = 10  # hot cells in the panel's keyboard list


def _reason(request: Request, code: str, **values: Any) -> dict[str, Any]:
    text = EMPTY_REASONS[page_language(request)][code].format(**values)
    return {"code": code, "text": text, **values}


async def _meta_incidents(request: Request, layers: Layers, view: MapView) -> dict[str, Any]:
    f = _filters(view)
    cols = await scoped_points(layers, view.query.station_ids, f, ("id", "category", "occurred_s"))
    n = int(cols["id"].size)
    newest = np.argsort(-cols["occurred_s"].astype(np.int64), kind="stable")[:RECENT]
    recent = [
        {
            "id": str(cols["id"][i]),
            "category": str(cols["category"][i]),
            "t": int(cols["occurred_s"][i]),
            "lon": round(float(cols["lon"][i]), 6),
            "lat": round(float(cols["lat"][i]), 6),
        }
        for i in newest.tolist()
    ]
    body: dict[str, Any] = {"count": n, "recent": recent}
    if n == 0:
        body["reason"] = _reason(request, "no_incidents", n=0)
    return body


async def _meta_hotspots(request: Request, layers: Layers, view: MapView) -> dict[str, Any]:
    data = await layers.feature_table(LAYERS["hotspots"], view.query.station_ids, _filters(view))
    gi_bin = data.columns["gi_bin"].astype(np.int64)
    z = data.columns["z"].astype(float)
    counts = data.columns["count"].astype(np.int64)
    n = int(counts.sum())  # the study area's cells hold every incident once
    if not data.ids.size:  # too few for Gi*: no table, so count them
        pts = await scoped_points(layers, view.query.station_ids, _filters(view), ())
        n = int(pts["lon"].size)
    hot = np.flatnonzero(gi_bin > 0)
    top = hot[np.argsort(-z[hot], kind="stable")][:TOP]
    body: dict[str, Any] = {
        "count": int(np.count_nonzero(gi_bin)),
        "n": n,
        "top": [
            {
                "cell": str(data.ids[i]),
                "gi_bin": int(gi_bin[i]),
                "z": round(float(z[i]), 2),
                "count": int(counts[i]),
                "center": [round(v, 6) for v in reversed(h3.cell_to_latlng(str(data.ids[i])))],
            }
            for i in top.tolist()
        ],
    }
    if n == 0:
        body["reason"] = _reason(request, "no_incidents", n=0)
    elif n < MIN_GI_INCIDENTS:
        body["reason"] = _reason(request, "too_few_for_gi", n=n, min=MIN_GI_INCIDENTS)
    elif body["count"] == 0:
        body["reason"] = _reason(request, "no_significant_cells", n=n)
    return body


async def _meta_table(request: Request, layers: Layers, view: MapView, name: str) -> dict[str, Any]:
    data = await layers.feature_table(LAYERS[name], view.query.station_ids, _filters(view))
    body: dict[str, Any] = {"count": int(data.ids.size)}
    if name == "tracks" and not data.ids.size:
        body["reason"] = _reason(request, "no_patrols")
    elif name == "density" and not data.ids.size:
        pts = await scoped_points(layers, view.query.station_ids, _filters(view), ())
        n = int(pts["lon"].size)
        code = "no_incidents" if n == 0 else "too_few_incidents"
        body["reason"] = _reason(request, code, n=n, min=MIN_DENSITY_INCIDENTS)
    return body


def _filters(view: MapView) -> Window:
    """The tile filters of the page's: the same instants, so the same cached tables."""
    q = view.query
    return Window(q.since_s, q.until_s, q.categories)


async def layer_meta(request: Request) -> Response:
    """A tiled layer's count, why it is empty, and its keyboard list, for the page's filters."""
    name = request.path_params["layer"]
    view = await map_view(request)
    if name not in TILED:
        raise NotFound("no such layer", {"layer": name, "layers": list(TILED)})
    layers = layers_of(request)
    await layers.refresh()
    if name == "incidents":
        body = await _meta_incidents(request, layers, view)
    elif name == "hotspots":
        body = await _meta_hotspots(request, layers, view)
    else:
        body = await _meta_table(request, layers, view, name)
    return json_response(body, headers=NO_STORE)


routes = [Route("/web/data/meta/{layer}.json", layer_meta, methods=["GET"])]
