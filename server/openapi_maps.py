"""The map endpoints' part of the OpenAPI document: tiles, TileJSON, OGC API Features."""

from __future__ import annotations

from server.openapi import (
    ALWAYS,
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
        # Either scheme carries the same device token (server/auth.py, docs/layers.md).
        "security": [] if public else [{"bearer": []}, {"basic": []}],
        "parameters": params,
        "responses": responses,
    }


def map_paths() -> dict[str, Schema]:
    """Vector tiles, TileJSON and OGC API - Features (docs/layers.md)."""
    from server.maps.registry import LAYERS
    from server.routes.ogcdoc import DEFAULT_LIMIT, MAX_LIMIT

    obj: Schema = {"type": "object"}
    window = _query(
        "datetime",
        STR,
        "An RFC 3339 instant or a closed interval `start/end` (`..` or nothing: open end; a "
        "date-time end is included, to the second); a date is a whole Lima day "
        "(docs/layers.md, Time windows).",
    )
    category = _query(
        "category", STR, "Categories, comma-separated (`robo,hurto`); all when absent."
    )
    # Public layers get paths of their own, so that their "no token needed" is in the
    # spec: one templated path cannot carry two security requirements.
    scoped = sorted(k for k, d in LAYERS.items() if d.access != "public")
    open_layers = sorted(k for k, d in LAYERS.items() if d.access == "public")
    layer = {
        **_path("layer"),
        "schema": {"type": "string", "enum": scoped},
        "description": "A layer that needs a token: "
        + ", ".join(scoped)
        + ". The public ones ("
        + ", ".join(open_layers)
        + ") have paths of their own.",
    }
    coll = {**layer, "name": "collection_id"}
    mvt = "application/vnd.mapbox-vector-tile"
    # The server refuses z > 18 and x, y outside 0..2^z-1 (400); the spec bounds each alone.
    zxy = [
        _path("z") | {"schema": {"type": "integer", "minimum": 0, "maximum": 18}},
        *(
            _path(n) | {"schema": {"type": "integer", "minimum": 0, "maximum": 2**18 - 1}}
            for n in ("x", "y")
        ),
    ]

    def tile(public: bool, first: list[Schema]) -> Schema:
        op = _map_op(
            "A Mapbox vector tile (MVT 2.1) of a layer",
            "maps",
            {
                "description": "The tile (gzip only if Accept-Encoding asks).",
                "content": {mvt: {"schema": {"type": "string", "format": "binary"}}},
            },
            public,
            [*first, *zxy, window, category],
        )
        op["responses"]["206"] = {"description": "One byte range (Range: bytes=a-b)."}
        op["responses"]["304"] = {"description": "Not modified (If-None-Match)."}
        op["responses"]["416"] = {"description": "The range cannot be served."}
        return op

    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    item_params = [
        _query("limit", limit, "Features per page."),
        _query("bbox", STR, "minlon,minlat,maxlon,maxlat (CRS84)."),
        window,
        category,
        _query("after", STR, "Keyset cursor from the `next` link."),
    ]
    geojson = _raw(200, "GeoJSON", "application/geo+json", obj)[1]
    plain = _raw(200, "JSON", "application/json", obj)[1]
    schema_json = _raw(200, "JSON Schema", "application/schema+json", obj)[1]
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

    paths: dict[str, Schema] = {
        "/tiles/{layer}/{z}/{x}/{y}.mvt": {"get": tile(False, [layer])},
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
        "/ogc/collections/{collection_id}/queryables": ogc(
            "Queryables (JSON Schema)", [coll], schema_json
        ),
        "/ogc/collections/{collection_id}/items": {
            "get": _map_op(
                "Features of a collection, keyset-paged",
                "maps",
                geojson,
                False,
                [coll, *item_params],
            )
        },
        "/ogc/collections/{collection_id}/items/{fid}": {
            "get": _map_op("One feature", "maps", geojson, False, [coll, _path("fid")])
        },
    }
    for name in open_layers:
        paths[f"/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt"] = {"get": tile(True, [])}
        paths[f"/tiles/{name}.json"] = {
            "get": _map_op(f"TileJSON 3.0.0 of {name}", "maps", plain, True, [window, category])
        }
        base = f"/ogc/collections/{name}"
        paths[base] = ogc(f"The {name} collection", [])
        paths[f"{base}/queryables"] = ogc(f"Queryables of {name}", [], schema_json)
        paths[f"{base}/items"] = {
            "get": _map_op(f"Features of {name}, keyset-paged", "maps", geojson, True, item_params)
        }
        paths[f"{base}/items/{{fid}}"] = {
            "get": _map_op(f"One feature of {name}", "maps", geojson, True, [_path("fid")])
        }
    return paths
