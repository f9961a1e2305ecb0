"""Vector tiles (``/tiles/{layer}/{z}/{x}/{y}.mvt``) and their TileJSON (``/tiles/{layer}.json``).

A tile is served from the cache when the data it was built from has not changed; every
answer carries a strong ETag (``If-None-Match`` gives 304), ``Cache-Control`` (private for
restricted layers), and ``Vary: Accept-Encoding, Authorization``. The gzip encoding is
cached next to the tile and sent only to clients that ask for it (``Accept-Encoding``);
a single byte ``Range`` is honoured on the identity encoding, anything else gets 416.
"""

from __future__ import annotations

import re

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.tiles import mvt
from geo.tiles.layers import TileSpec, cluster_tile, points_layer
from geo.tiles.tilemath import center_zoom
from server.links import cache_headers, site
from server.maps.layers import Layers
from server.maps.registry import LAYERS, LayerDef, layer_or_404
from server.maps.tilecache import CachedTile, make_tile
from server.maps.window import Window
from server.routes.common import json_response
from server.routes.layer_request import layers_of, parse_filters, scope_for
from sync.errors import InvalidRequest

MVT_TYPE = "application/vnd.mapbox-vector-tile"
DEFAULT_BOUNDS = (-77.19, -12.5, -76.68, -11.68)  # Lima Metropolitana, before any import
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _tile_params(request: Request) -> TileSpec:
    p = request.path_params
    if not all(str(p[k]).isdigit() and len(str(p[k])) < 7 for k in ("z", "x", "y")):
        raise InvalidRequest("no such tile: z, x and y are integers", dict(p))
    z, x, y = int(p["z"]), int(p["x"]), int(p["y"])
    if not 0 <= z <= 18 or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidRequest("no such tile: z must be 0..18 and x, y within 0..2^z-1", p)
    return TileSpec(z, x, y)


async def build_tile(
    layers: Layers, layer: LayerDef, scope: tuple[str, ...] | None, f: Window, tile: TileSpec
) -> bytes:
    """The encoded tile of one layer."""
    if layer.id == "incidents":
        return await _incident_tile(layers, scope, f, tile)
    data = await layers.feature_table(layer, scope, f)
    return mvt.tile([data.tileset().layer(layer.id, tile)])


async def _incident_tile(
    layers: Layers, scope: tuple[str, ...] | None, f: Window, tile: TileSpec
) -> bytes:
    indexes = await layers.point_indexes(scope)
    if tile.z < layers.settings.raw_points_zoom:
        masks = None
        if f.mask(np.zeros(0, np.int64), np.zeros(0, object)) is not None:
            masks = [_tile_mask(ix, f, tile) for ix in indexes]
        count, cx, cy = cluster_tile(indexes, tile, masks)
        props = {"point_count": count.astype(np.int64)}
        return mvt.tile([points_layer("incidents", tile, cx, cy, props)])
    wx: list[np.ndarray] = []
    wy: list[np.ndarray] = []
    names = ("id", "category", "occurred_at", "district", "sector")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for ix in indexes:
        sel = ix.select(tile)
        keep = f.mask(ix.columns["occurred_s"][sel], ix.columns["category"][sel])
        if keep is not None:
            sel = sel[keep]
        wx.append(ix.wx[sel])
        wy.append(ix.wy[sel])
        for k, v in cols.items():
            v.append(ix.columns[k][sel])
    merged = {k: np.concatenate(v) if v else np.zeros(0, object) for k, v in cols.items()}
    props = {
        "id": merged["id"],
        "category": merged["category"],
        "occurred_at": merged["occurred_at"],
        "district": merged["district"],
        "sector": merged["sector"],
    }
    x = np.concatenate(wx) if wx else np.zeros(0)
    y = np.concatenate(wy) if wy else np.zeros(0)
    return mvt.tile([points_layer("incidents", tile, x, y, props)])


def _tile_mask(ix: object, f: Window, tile: TileSpec) -> np.ndarray:
    from geo.tiles.layers import PointIndex

    assert isinstance(ix, PointIndex)
    sel = ix.select(tile)
    keep = f.mask(ix.columns["occurred_s"][sel], ix.columns["category"][sel])
    return np.ones(sel.size, dtype=bool) if keep is None else keep


async def tile(request: Request) -> Response:
    layer = layer_or_404(request.path_params["layer"])
    spec = _tile_params(request)
    scope = await scope_for(request, layer)
    f = parse_filters(request)
    layers = layers_of(request)
    await layers.refresh()
    key = f"{layer.id}|{scope}|{f.key()}|{spec.z}/{spec.x}/{spec.y}|{layers.version(layer, scope)}"
    cached = layers.tiles.get(key)
    if cached is None:
        cached = make_tile(await build_tile(layers, layer, scope, f, spec))
        layers.tiles.put(key, cached)
    return tile_response(request, cached, layer, layers.settings.max_age_s)


def tile_response(request: Request, t: CachedTile, layer: LayerDef, max_age: int) -> Response:
    """The answer for a tile: 304, 206, 416 or 200 (gzip when asked and worth it)."""
    wants_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    ranged = request.headers.get("range")
    use_gzip = wants_gzip and t.gzipped is not None and ranged is None
    etag = t.gzip_etag() if use_gzip else t.etag
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache"
        if layer.access == "scoped"
        else f"public, max-age={max_age}",
        "Vary": "Accept-Encoding, Authorization",
        "Accept-Ranges": "bytes",
    }
    match = request.headers.get("if-none-match", "")
    if match and (match.strip() == "*" or {t.etag, t.gzip_etag()} & _etags(match)):
        return Response(status_code=304, headers=headers)
    if ranged is not None:
        return _ranged(ranged, t.body, headers)
    if use_gzip:
        assert t.gzipped is not None
        headers["Content-Encoding"] = "gzip"
        return Response(t.gzipped, 200, headers, media_type=MVT_TYPE)
    # Not asked for gzip (so the gzip middleware leaves it alone too), or under 1 KB.
    return Response(t.body, 200, headers, media_type=MVT_TYPE)


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",")}


def _ranged(value: str, body: bytes, headers: dict[str, str]) -> Response:
    m = RANGE.match(value.strip())
    size = len(body)
    start = end = None
    if m and (m.group(1) or m.group(2)):
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:
            start, end = max(size - int(m.group(2)), 0), size - 1
    if start is None or end is None or start > end or start >= size:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(b"", 416, headers, media_type=MVT_TYPE)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"  # 206: never gzipped
    return Response(body[start : end + 1], 206, headers, media_type=MVT_TYPE)


async def tilejson(request: Request) -> Response:
    layer = layer_or_404(request.path_params["layer"])
    await scope_for(request, layer)
    bounds = await _bounds(layers_of(request))
    query = str(request.url.query)
    template = f"{site(request)}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.mvt"
    template += f"?{query}" if query else ""
    zoom = center_zoom(bounds, layer.minzoom, 14)
    fields = {
        k: "Number" if v in ("number", "integer") else v.capitalize()
        for k, v in layer.fields.items()
    }
    body = {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "bounds": list(bounds),
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, zoom],
        "vector_layers": [
            {
                "id": layer.id,
                "description": layer.description,
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                "fields": fields,
            }
        ],
    }
    cache = "private, no-cache" if layer.access == "scoped" else "public, max-age=300"
    return json_response(body, headers=cache_headers(request, cache))


async def _bounds(layers: Layers) -> tuple[float, float, float, float]:
    import shapely

    items = await layers.store.boundaries("districts")
    if not items:
        return DEFAULT_BOUNDS
    geoms = shapely.from_wkb([b.geometry for b in items])
    w, s, e, n = (float(v) for v in shapely.total_bounds(geoms))
    return w, s, e, n


routes = [
    Route("/tiles/{layer}/{z}/{x}/{y}.mvt", tile, methods=["GET"], name="tile"),
    Route("/tiles/{layer}.json", tilejson, methods=["GET"]),
]

__all__ = ["LAYERS", "routes"]
