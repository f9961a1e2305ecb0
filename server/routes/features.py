"""OGC API - Features Part 1 (Core, GeoJSON, OpenAPI 3.0) under ``/ogc``.

Pages are keyset-paged on the feature id (``next`` carries the last id of the page), so a
client paging a whole collection costs a binary search per page, never an OFFSET scan.
Restricted collections need the same Bearer token as sync and show the caller's scope only.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import orjson
import shapely
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.tiles.tilemath import world_to_lonlat
from server.links import cache_headers, here, site
from server.maps.layers import Layers, iso
from server.maps.registry import LAYERS, LayerDef, Scope, layer_or_404
from server.maps.window import Window
from server.routes.common import int_param
from server.routes.layer_request import layers_of, parse_bbox, parse_filters, scope_for
from server.routes.ogcdoc import OAS30, collection_doc, landing, ogc_api, queryables
from sync.errors import InvalidRequest, NotFound

GEOJSON = "application/geo+json"
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


POLYGON, MULTIPOLYGON = 3, 6  # shapely.get_type_id


def _json(request: Request, data: Any, media: str = "application/json") -> Response:
    """An answer holding links (all of them here but conformance): see server.links."""
    return Response(orjson.dumps(data), 200, cache_headers(request, None), media_type=media)


def base(request: Request) -> str:
    """The OGC API root: ``<site>/ogc``."""
    return f"{site(request)}/ogc"


async def landing_page(request: Request) -> Response:
    return _json(request, landing(base(request)))


async def conformance(request: Request) -> Response:
    return Response(orjson.dumps({"conformsTo": CONFORMANCE}), media_type="application/json")


async def api(request: Request) -> Response:
    return _json(request, ogc_api(base(request)), OAS30)


async def collections(request: Request) -> Response:
    root = base(request)
    bounds = await _bounds(layers_of(request))
    return _json(
        request,
        {
            "links": [{"href": f"{root}/collections", "rel": "self", "type": "application/json"}],
            "collections": [collection_doc(root, d, bounds) for d in LAYERS.values()],
        },
    )


async def collection(request: Request) -> Response:
    layer = layer_or_404(request.path_params["collection_id"])
    bounds = await _bounds(layers_of(request))
    return _json(request, collection_doc(base(request), layer, bounds))


async def collection_queryables(request: Request) -> Response:
    layer = layer_or_404(request.path_params["collection_id"])
    return _json(request, queryables(base(request), layer), "application/schema+json")


async def _bounds(layers: Layers) -> tuple[float, float, float, float]:
    from server.routes.tiles import _bounds as tile_bounds

    return await tile_bounds(layers)


# --- items ---


class Page:
    """Matching features in id order: ids, lon/lat geometries (or points) and properties."""

    def __init__(self, ids: np.ndarray, props: dict[str, np.ndarray], geo: Any) -> None:
        self.ids, self.props, self.geo = ids, props, geo


async def _incident_rows(layers: Layers, scope: Scope) -> dict[str, np.ndarray]:
    """All incident points of a scope as columns sorted by id (cached by data version)."""
    key = f"incidents-flat|{scope}|{layers.versions.of('incidents', scope)}"
    found = layers.tables.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    indexes = await layers.point_indexes(scope)
    names = ("id", "category", "occurred_s", "district", "sector")
    cols = {k: np.concatenate([ix.columns[k] for ix in indexes]) for k in names} if indexes else {}
    if not indexes or cols["id"].size == 0:
        cols = {k: np.zeros(0, dtype=object) for k in names}
        cols["lon"], cols["lat"] = np.zeros(0), np.zeros(0)
    else:
        wx = np.concatenate([ix.wx for ix in indexes])
        wy = np.concatenate([ix.wy for ix in indexes])
        cols["lon"], cols["lat"] = world_to_lonlat(wx, wy)
        order = np.argsort(cols["id"].astype(str), kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
    layers.tables[key] = cols
    return cols


def _incident_mask(cols: dict[str, np.ndarray], f: Window, bbox: Any) -> np.ndarray:
    keep = f.mask(cols["occurred_s"].astype(np.int64), cols["category"])
    keep = np.ones(cols["id"].size, dtype=bool) if keep is None else keep
    if bbox is not None:
        w, s, e, n = bbox
        lon, lat = cols["lon"], cols["lat"]
        keep &= (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
    return keep


def _incident_features(cols: dict[str, np.ndarray], idx: np.ndarray) -> list[dict[str, Any]]:
    when = iso(cols["occurred_s"][idx].astype(np.int64))
    out = []
    for j, i in enumerate(idx.tolist()):
        out.append(
            {
                "type": "Feature",
                "id": cols["id"][i],
                "geometry": {
                    "type": "Point",
                    "coordinates": [
                        round(float(cols["lon"][i]), 7),
                        round(float(cols["lat"][i]), 7),
                    ],
                },
                "properties": {
                    "id": cols["id"][i],
                    "category": cols["category"][i],
                    "occurred_at": when[j],
                    "district": cols["district"][i],
                    "sector": cols["sector"][i],
                },
            }
        )
    return out


async def _table_features(
    layers: Layers, layer: LayerDef, scope: Scope, f: Window, bbox: Any
) -> tuple[np.ndarray, np.ndarray, Any]:
    data = await layers.feature_table(layer, scope, f)
    keep = np.ones(data.ids.size, dtype=bool)
    if bbox is not None and data.ids.size:
        keep = shapely.intersects(data.geometries, shapely.box(*bbox))
    if layer.id == "tracks" and f.categories is not None:
        pass  # tracks have no category
    return data.ids, keep, data


def one_geometry_type(every: np.ndarray, some: np.ndarray) -> np.ndarray:
    """``some`` of a collection's geometries, Polygons made MultiPolygons if ``every`` (the
    whole collection) mixes the two: QGIS and GDAL take a layer's type from its first
    features and then drop or refuse the features of the other type."""
    types = shapely.get_type_id(every)
    if not (np.any(types == POLYGON) and np.any(types == MULTIPOLYGON)):
        return some
    out = some.copy()
    single = shapely.get_type_id(some) == POLYGON
    if single.any():
        out[single] = shapely.multipolygons(some[single].reshape(-1, 1))
    return out


def _table_rows(data: Any, idx: np.ndarray) -> list[dict[str, Any]]:
    page = one_geometry_type(data.geometries, data.geometries[idx]) if idx.size else idx
    geoms = shapely.to_geojson(page, indent=None) if idx.size else []
    out = []
    for j, i in enumerate(idx.tolist()):
        props = {k: _plain(v[i]) for k, v in data.columns.items()}
        out.append(
            {
                "type": "Feature",
                "id": data.ids[i],
                "geometry": orjson.Fragment(geoms[j]),
                "properties": props,
            }
        )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


async def items(request: Request) -> Response:
    layer = layer_or_404(request.path_params["collection_id"])
    scope = await scope_for(request, layer)
    f = parse_filters(request)
    bbox = parse_bbox(request.query_params.get("bbox"))
    limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    after = request.query_params.get("after")
    layers = layers_of(request)
    await layers.refresh()
    if layer.id == "incidents":
        cols = await _incident_rows(layers, scope)
        ids, keep = cols["id"], _incident_mask(cols, f, bbox)
    else:
        ids, keep, data = await _table_features(layers, layer, scope, f, bbox)
    first = int(np.searchsorted(ids, after, side="right")) if after else 0
    idx = np.flatnonzero(keep[first:])[: limit + 1] + first
    more = idx.size > limit
    idx = idx[:limit]
    features = _incident_features(cols, idx) if layer.id == "incidents" else _table_rows(data, idx)
    body = {
        "type": "FeatureCollection",
        "numberMatched": int(keep.sum()),
        "numberReturned": len(features),
        "timeStamp": iso(np.array([int(time.time())]))[0],
        "links": _links(request, layer, more, str(ids[idx[-1]]) if idx.size else None),
        "features": features,
    }
    return _json(request, body, GEOJSON)


def _links(request: Request, layer: LayerDef, more: bool, last: str | None) -> list[dict[str, str]]:
    root = base(request)
    links = [
        {"href": here(request), "rel": "self", "type": GEOJSON, "title": "this page"},
        {"href": f"{root}/collections/{layer.id}", "rel": "collection", "type": "application/json"},
    ]
    if more and last is not None:
        params = dict(request.query_params)
        params["after"] = last
        url = here(request, **params)
        links.append({"href": url, "rel": "next", "type": GEOJSON, "title": "next page"})
    return links


async def item(request: Request) -> Response:
    layer = layer_or_404(request.path_params["collection_id"])
    scope = await scope_for(request, layer)
    fid = request.path_params["fid"]
    layers = layers_of(request)
    await layers.refresh()
    f = parse_filters(request)
    if layer.id == "incidents":
        cols = await _incident_rows(layers, scope)
        ids = cols["id"]
    else:
        ids, _, data = await _table_features(layers, layer, scope, f, None)
    pos = int(np.searchsorted(ids, fid))
    if pos >= ids.size or ids[pos] != fid:
        raise NotFound("no such feature in this collection", {"collection": layer.id, "id": fid})
    idx = np.array([pos])
    feature = (
        _incident_features(cols, idx)[0] if layer.id == "incidents" else _table_rows(data, idx)[0]
    )
    root = base(request)
    feature["links"] = [
        {"href": here(request), "rel": "self", "type": GEOJSON},
        {"href": f"{root}/collections/{layer.id}", "rel": "collection", "type": "application/json"},
    ]
    return _json(request, feature, GEOJSON)


def _check_limit(raw: str | None) -> None:
    if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT):
        raise InvalidRequest(f"limit must be 1..{MAX_LIMIT}", {"parameter": "limit"})


routes = [
    Route("/ogc", landing_page, methods=["GET"]),
    Route("/ogc/", landing_page, methods=["GET"], name="ogc_landing"),
    Route("/ogc/conformance", conformance, methods=["GET"]),
    Route("/ogc/api", api, methods=["GET"]),
    Route("/ogc/collections", collections, methods=["GET"]),
    Route("/ogc/collections/{collection_id}", collection, methods=["GET"]),
    Route("/ogc/collections/{collection_id}/queryables", collection_queryables, methods=["GET"]),
    Route("/ogc/collections/{collection_id}/items", items, methods=["GET"]),
    Route("/ogc/collections/{collection_id}/items/{fid}", item, methods=["GET"]),
]
