"""The map endpoints' part of the OpenAPI document: tiles, TileJSON, OGC API Features."""

from __future__ import annotations

from server.openapi import (
    ALWAYS,
    INT,
    ROLE_ERRORS,
    STR,
    Schema,
    _error_response,
    _errors,
    _path,
    _query,
)


def _raw(status: int, description: str, media: str, schema: Schema) -> tuple[str, Schema]:
    return str(status), {"description": description, "content": {media: {"schema": schema}}}


def _map_op(summary: str, tag: str, ok: Schema, public: bool, params: list[Schema]) -> Schema:
    """A map-layer operation: restricted layers answer 401/403 without the right token."""
    # 422: the density layer's grid over incidents spread too far (geo's too_many_cells).
    errors = _errors(
        {400: ["invalid_request"], 404: ["not_found"], 422: ["too_many_cells"]},
        {} if public else ROLE_ERRORS,
    )
    responses: dict[str, Schema] = {"200": ok}
    for status, codes in sorted(errors.items()):
        responses[str(status)] = _error_response(codes)
    return {
        "summary": summary,
        "tags": [tag],
        "security": [] if public else [{"bearer": []}],
        "parameters": params,
        "responses": responses,
    }


def map_paths() -> dict[str, Schema]:
    """Vector tiles, TileJSON and OGC API - Features (docs/layers.md)."""
    from server.routes.ogcdoc import DEFAULT_LIMIT, MAX_LIMIT

    obj: Schema = {"type": "object"}
    window = _query("datetime", STR, "An instant or `start/end` (RFC 3339; `..` open end).")
    category = _query("category", STR, "Categories, comma-separated (`robo,hurto`).")
    layer = {
        **_path("layer"),
        "description": "incidents, hotspots, density, districts, "
        "stations, sectors, tracks or public (stations and public need no token)",
    }
    coll = {**_path("collection_id"), "description": layer["description"]}
    mvt = "application/vnd.mapbox-vector-tile"
    tile = _map_op(
        "A Mapbox vector tile (MVT 2.1) of a layer",
        "maps",
        {
            "description": "The tile (gzip only if Accept-Encoding asks).",
            "content": {mvt: {"schema": {"type": "string", "format": "binary"}}},
        },
        False,
        [layer, *(_path(n) | {"schema": INT} for n in ("z", "x", "y")), window, category],
    )
    tile["responses"]["206"] = {"description": "One byte range (Range: bytes=a-b)."}
    tile["responses"]["304"] = {"description": "Not modified (If-None-Match)."}
    tile["responses"]["416"] = {"description": "The range cannot be served."}
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    item_params = [
        coll,
        _query("limit", limit, "Features per page."),
        _query("bbox", STR, "minlon,minlat,maxlon,maxlat (CRS84)."),
        window,
        category,
        _query("after", STR, "Keyset cursor from the `next` link."),
    ]
    geojson = _raw(200, "GeoJSON", "application/geo+json", obj)[1]
    plain = _raw(200, "JSON", "application/json", obj)[1]
    public: Schema = {
        "summary": "",
        "tags": ["maps"],
        "security": [],
        "responses": {"200": plain, "500": _error_response(ALWAYS[500])},
    }

    def ogc(summary: str, params: list[Schema] | None = None, ok: Schema = plain) -> Schema:
        op = {**public, "summary": summary, "responses": {**public["responses"], "200": ok}}
        if params:
            op["parameters"] = params
            op["responses"]["404"] = _error_response(["not_found"])
        return {"get": op}

    return {
        "/tiles/{layer}/{z}/{x}/{y}.mvt": {"get": tile},
        "/tiles/{layer}.json": {
            "get": _map_op(
                "TileJSON 3.0.0 of a layer", "maps", plain, False, [layer, window, category]
            )
        },
        "/ogc": ogc("OGC API landing page"),
        "/ogc/": ogc("OGC API landing page"),
        "/ogc/conformance": ogc("OGC API conformance classes"),
        "/ogc/api": ogc(
            "The OGC API's own OpenAPI 3.0 document (what GDAL reads)",
            None,
            _raw(200, "OpenAPI 3.0", "application/vnd.oai.openapi+json;version=3.0", obj)[1],
        ),
        "/ogc/collections": ogc("OGC API collections"),
        "/ogc/collections/{collection_id}": ogc("One collection", [coll]),
        "/ogc/collections/{collection_id}/queryables": ogc("Queryables (JSON Schema)", [coll]),
        "/ogc/collections/{collection_id}/items": {
            "get": _map_op(
                "Features of a collection, keyset-paged", "maps", geojson, False, item_params
            )
        },
        "/ogc/collections/{collection_id}/items/{fid}": {
            "get": _map_op("One feature", "maps", geojson, False, [coll, _path("fid")])
        },
    }
