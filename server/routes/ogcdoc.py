"""The JSON documents of the OGC API: landing page, collections, queryables, and the OpenAPI
3.0 description GDAL reads (``/ogc/api``).

GDAL's OAPIF driver looks up ``paths["/collections/{name}/items"]`` in the document the
landing page's ``service-desc`` link points to, relative to the API root, with the concrete
collection name: there it finds the ``limit`` default and maximum and the query parameters
it may push down (``category``, besides ``bbox`` and ``datetime``). So this document lists
every collection's paths explicitly, under ``servers: [{url: <root>/ogc}]``.
"""

from __future__ import annotations

from typing import Any

from server.maps.registry import LAYERS, LayerDef

OAS30 = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000
TIMED = {"incidents": "occurred_at", "tracks": "start"}
CATEGORISED = ("incidents", "hotspots", "density", "districts", "public")


def landing(root: str) -> dict[str, Any]:
    return {
        "title": "Ronda map layers",
        "description": "Incidents, hotspots, density, districts, stations, patrol sectors, "
        "patrol tracks and public counts. Restricted collections need a Bearer token.",
        "links": [
            {"href": f"{root}/", "rel": "self", "type": "application/json", "title": "this"},
            {"href": f"{root}/api", "rel": "service-desc", "type": OAS30, "title": "API"},
            {"href": f"{root}/conformance", "rel": "conformance", "type": "application/json"},
            {"href": f"{root}/collections", "rel": "data", "type": "application/json"},
        ],
    }


def collection_doc(root: str, layer: LayerDef, bounds: tuple[float, ...]) -> dict[str, Any]:
    """One collection; ``root`` is the API root (``<site>/ogc``), whose site serves tiles."""
    here = f"{root}/collections/{layer.id}"
    return {
        "id": layer.id,
        "title": layer.title,
        "description": layer.description
        + (" Needs a Bearer token." if layer.access == "scoped" else " Public."),
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {
            "spatial": {"bbox": [list(bounds)], "crs": CRS84},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [
            {"href": here, "rel": "self", "type": "application/json"},
            {"href": f"{here}/items", "rel": "items", "type": "application/geo+json"},
            {
                "href": f"{here}/queryables",
                "rel": QUERYABLES_REL,
                "type": "application/schema+json",
            },
            {
                "href": f"{root.removesuffix('/ogc')}/tiles/{layer.id}.json",
                "rel": "tiles",
                "type": "application/json",
            },
        ],
    }


def queryables(root: str, layer: LayerDef) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if layer.id in CATEGORISED:
        props["category"] = {"title": "incident category", "type": "string"}
    props["datetime"] = {
        "title": "time window of the incidents",
        "type": "string",
        "format": "date-time",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{root}/collections/{layer.id}/queryables",
        "type": "object",
        "title": layer.title,
        "properties": props,
        "additionalProperties": False,
    }


def _param(
    name: str, schema: dict[str, Any], description: str, where: str = "query"
) -> dict[str, Any]:
    out = {"name": name, "in": where, "required": where == "path", "schema": schema}
    return (
        {**out, "description": description, "style": "form", "explode": False}
        if where == "query"
        else {**out, "description": description}
    )


LIMIT = _param(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "Features per page.",
)
# QGIS reads the page size limits only from components/parameters/limit; GDAL follows the
# reference from each path.
ITEM_PARAMS = [
    {"$ref": "#/components/parameters/limit"},
    _param(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "minlon,minlat,maxlon,maxlat (CRS84).",
    ),
    _param("datetime", {"type": "string"}, "An instant or start/end; `..` for an open end."),
    _param("after", {"type": "string"}, "Keyset cursor: the id after which the page starts."),
]
CATEGORY = _param("category", {"type": "string"}, "Categories, comma-separated.")


def _ok(description: str, media: str = "application/json") -> dict[str, Any]:
    return {"200": {"description": description, "content": {media: {"schema": {"type": "object"}}}}}


def ogc_api(root: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the OGC API, paths relative to ``root``."""
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "Landing page", "responses": _ok("Landing page")}},
        "/conformance": {"get": {"summary": "Conformance classes", "responses": _ok("Classes")}},
        "/collections": {"get": {"summary": "Collections", "responses": _ok("Collections")}},
    }
    for layer in LAYERS.values():
        security: list[dict[str, list[str]]] = [{"bearer": []}] if layer.access == "scoped" else []
        base = f"/collections/{layer.id}"
        params = ITEM_PARAMS + ([CATEGORY] if layer.id in CATEGORISED else [])
        paths[base] = {"get": {"summary": layer.title, "responses": _ok("Collection")}}
        paths[f"{base}/queryables"] = {
            "get": {
                "summary": "Queryables",
                "responses": _ok("JSON Schema", "application/schema+json"),
            }
        }
        paths[f"{base}/items"] = {
            "get": {
                "summary": f"{layer.title}: features",
                "parameters": params,
                "security": security,
                "responses": _ok("Features", "application/geo+json"),
            }
        }
        paths[f"{base}/items/{{featureId}}"] = {
            "get": {
                "summary": f"{layer.title}: one feature",
                "parameters": [_param("featureId", {"type": "string"}, "Feature id", "path")],
                "security": security,
                "responses": _ok("Feature", "application/geo+json"),
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Ronda OGC API - Features", "version": "1"},
        "servers": [{"url": root}],
        "paths": paths,
        "components": {
            "parameters": {"limit": LIMIT},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
