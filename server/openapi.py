"""The OpenAPI 3.1 document served at ``/openapi.json`` (docs/protocol.md is its prose twin).

Request schemas come from the pydantic models that validate the requests, so they cannot
drift; answer schemas are written here by hand and tests/server/test_openapi.py checks real
answers of the app against them.  Error answers list, per endpoint and status, the codes the
endpoint can give.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel

from server.routes.admin import EnrollBody, EnrollmentBody, OfficerBody, StationBody
from server.settings import SyncSettings
from sync.clock import HLC_PATTERN
from sync.cursor import CURSOR_PATTERN, ISSUED_CURSOR_PATTERN
from sync.protocol import HASH_PATTERN, ID_PATTERN, IncidentChange, LogEntryChange, PushEnvelope

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
MODELS: tuple[type[BaseModel], ...] = (
    IncidentChange,
    LogEntryChange,
    PushEnvelope,
    EnrollBody,
    StationBody,
    OfficerBody,
    EnrollmentBody,
)
ROLES = ["officer", "chief", "analyst", "admin"]


def ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


def _obj(props: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """A closed object: every member listed, none other allowed."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
    }


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
MS: Schema = {"type": "integer", "description": "milliseconds since the Unix epoch"}
ID: Schema = {"type": "string", "pattern": ID_PATTERN}
HLC: Schema = {"type": "string", "pattern": HLC_PATTERN.pattern}
HASH: Schema = {"type": "string", "pattern": HASH_PATTERN}


def _model_schemas() -> dict[str, Schema]:
    """Request schemas from the pydantic models, nested models hoisted into components."""
    out: dict[str, Schema] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    # The envelope takes any value per change so that one bad change is refused on its own;
    # what a client must send is one of the two change types.
    out["PushEnvelope"]["properties"]["changes"]["items"] = {
        "oneOf": [ref("IncidentChange"), ref("LogEntryChange"), ref("NoticeAckChange")],
        "discriminator": {
            "propertyName": "collection",
            "mapping": {
                "incidents": REF.format(model="IncidentChange"),
                "patrol_logs": REF.format(model="LogEntryChange"),
                "notice_acks": REF.format(model="NoticeAckChange"),
            },
        },
    }
    return out


def _answer_schemas() -> dict[str, Schema]:
    limits = {
        "max_changes": INT,
        "max_body_bytes": INT,
        "max_decompressed_bytes": INT,
        "max_clock_ahead_ms": INT,
        "pull_max_limit": INT,
    }
    return {
        "ErrorBody": _obj({"code": STR, "message": STR, "details": {"type": "object"}}),
        "Error": _obj({"error": ref("ErrorBody")}),
        "EnrollAnswer": _obj(
            {
                "device_id": STR,
                "token": {"type": "string", "pattern": "^rdt_"},
                "officer_id": STR,
                "role": _nullable({"enum": ROLES}),
                "station_id": _nullable(STR),
                "server_time_ms": MS,
            }
        ),
        "MeAnswer": _obj(
            {
                "device_id": STR,
                "device_name": STR,
                "officer_id": STR,
                "role": {"enum": ROLES},
                "station_id": _nullable(STR),
                "scope": _obj(
                    {
                        "stations": _nullable({"type": "array", "items": STR}),
                        "pii": {"enum": ["all", "own", "none"]},
                    }
                ),
                "server_time_ms": MS,
                "limits": _obj(limits),
            }
        ),
        **_push_answer_schemas(),
        **_pull_answer_schemas(),
        **_review_schemas(),
        **_admin_answer_schemas(),
        "Health": _obj({"status": {"const": "ok"}}),
        "Ready": _obj({"status": {"const": "ready"}, "last_seq": INT}),
    }


def _push_answer_schemas() -> dict[str, Schema]:
    status = {"enum": ["applied", "unchanged", "rejected"]}
    return {
        "ChangeResult": {
            **_obj(
                {
                    "index": {"type": "integer", "minimum": 0},
                    "status": status,
                    "collection": STR,
                    "id": STR,
                    "seq": {"type": "integer", "minimum": 1},
                    "conflicts": {"type": "integer", "minimum": 0},
                    "error": ref("ErrorBody"),
                },
                ["index", "status"],
            ),
            "description": "One change's outcome; `seq` unless rejected, `error` if rejected.",
        },
        "PushAnswer": _obj(
            {
                "batch_id": ID,
                "server_time_ms": MS,
                "results": {"type": "array", "items": ref("ChangeResult")},
                "summary": _obj({"applied": INT, "unchanged": INT, "rejected": INT}),
                "clock_offset_ms": {
                    "type": "integer",
                    "description": "server_time_ms - device_time_ms (only if it was sent)",
                },
            },
            ["batch_id", "server_time_ms", "results", "summary"],
        ),
    }


def _pull_answer_schemas() -> dict[str, Schema]:
    common: dict[str, Schema] = {
        "id": ID,
        "seq": {"type": "integer", "minimum": 1},
        "station_id": STR,
        "author": {"type": "string", "description": "officer who created the record"},
        "hlc": HLC,
    }
    incident: dict[str, Schema] = {
        "collection": {"const": "incidents"},
        **common,
        "deleted": {"type": "boolean", "description": "true: a tombstone"},
        "fields": ref("IncidentFields"),
        "derived": {"type": "object", "description": "placement computed by the server"},
        "pii": ref("IncidentPII"),
    }
    entry: dict[str, Schema] = {
        "collection": {"const": "patrol_logs"},
        **common,
        "device_id": STR,
        "deleted": {"const": False},
        "n": {"type": "integer", "minimum": 1},
        "prev_hash": {"type": "string", "pattern": "^([0-9a-f]{64})?$"},
        "hash": HASH,
        "body": ref("LogBody"),
    }
    return {
        "IncidentDoc": _obj(incident, [k for k in incident if k != "pii"]),
        "PatrolLogDoc": _obj(entry),
        "SnapshotLine": {
            "description": "One line of a snapshot: a document as in a pull page; after each"
            ' page `{"cursor"}` (a checkpoint); `{"attachments"}` as in a pull page;'
            ' last, `{"cursor", "complete", "count", "server_time_ms"}`.',
            "oneOf": [
                ref("IncidentDoc"),
                ref("PatrolLogDoc"),
                ref("PlanDoc"),
                ref("NoticeDoc"),
                ref("NoticeAckDoc"),
                _obj({"cursor": {"type": "string", "pattern": ISSUED_CURSOR_PATTERN}}),
                _obj(
                    {
                        "attachments": {
                            "type": "object",
                            "additionalProperties": _obj(
                                {"received": {"type": "boolean"}, "media_type": _nullable(STR)}
                            ),
                        }
                    }
                ),
                _obj(
                    {
                        "cursor": {"type": "string", "pattern": ISSUED_CURSOR_PATTERN},
                        "complete": {"type": "boolean"},
                        "count": {"type": "integer", "minimum": 0},
                        "server_time_ms": MS,
                    }
                ),
            ],
        },
        "PullAnswer": _obj(
            {
                "changes": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            ref("IncidentDoc"),
                            ref("PatrolLogDoc"),
                            ref("PlanDoc"),
                            ref("NoticeDoc"),
                            ref("NoticeAckDoc"),
                        ]
                    },
                },
                "cursor": {
                    "type": "string",
                    "pattern": ISSUED_CURSOR_PATTERN,
                    "description": "opaque: send it back as is",
                },
                "has_more": {"type": "boolean"},
                "server_time_ms": MS,
                "attachments": {
                    "type": "object",
                    "description": "only when the page's records name attachments: by sha256",
                    "additionalProperties": _obj(
                        {"received": {"type": "boolean"}, "media_type": _nullable(STR)}
                    ),
                },
            },
            ["changes", "cursor", "has_more", "server_time_ms"],
        ),
    }


def _review_schemas() -> dict[str, Schema]:
    conflict = _obj(
        {
            "id": INT,
            "station_id": STR,
            "collection": STR,
            "record_id": ID,
            "field": STR,
            "losing_value": {"description": "any JSON value"},
            "losing_hlc": HLC,
            "losing_device": STR,
            "winning_hlc": HLC,
            "winning_device": STR,
            "seq": INT,
            "created_ms": MS,
        }
    )
    ints = {"type": "array", "items": INT}
    gap = _obj({"after": INT, "next": INT})
    return {
        "Conflict": conflict,
        "ConflictPage": _obj(
            {
                "conflicts": {"type": "array", "items": ref("Conflict")},
                "after": INT,
                "has_more": {"type": "boolean"},
            }
        ),
        "ChainReport": _obj(
            {
                "device_id": STR,
                "entries": INT,
                "head_n": INT,
                "archived_n": INT,
                "intact": {"type": "boolean"},
                "gaps": {"type": "array", "items": gap},
                "broken_links": ints,
                "tampered": ints,
                "attachments": _obj(
                    {
                        "checked": INT,
                        "tampered": {"type": "array", "items": STR},
                        "pending": {"type": "array", "items": STR},
                    }
                ),
            }
        ),
    }


def _admin_answer_schemas() -> dict[str, Schema]:
    station = _obj({"id": ID, "name": STR, "district_code": _nullable(STR)})
    officer = _obj({"id": ID, "name": STR, "role": {"enum": ROLES}, "station_id": _nullable(ID)})
    device = _obj(
        {
            "id": STR,
            "officer_id": STR,
            "name": STR,
            "created_ms": MS,
            "revoked_ms": _nullable(MS),
        }
    )
    return {
        "Station": station,
        "StationList": _obj({"stations": {"type": "array", "items": ref("Station")}}),
        "Officer": officer,
        "OfficerList": _obj({"officers": {"type": "array", "items": ref("Officer")}}),
        "EnrollmentAnswer": _obj({"code": STR, "officer_id": ID, "expires_ms": MS}),
        "Device": device,
        "DeviceList": _obj({"devices": {"type": "array", "items": ref("Device")}}),
        "RevokeAnswer": _obj({"device_id": STR, "revoked": {"const": True}}),
        "PlacesAnswer": _obj({"placement": {"type": "boolean"}}),
    }


# --- operations ---

ALWAYS = {500: ["internal_error"], 503: ["timeout"]}
BODY_ERRORS = {
    400: ["invalid_request", "invalid_json", "too_deep"],
    413: ["payload_too_large"],
    415: ["unsupported_encoding", "unsupported_media_type"],
}
AUTH_ERRORS = {401: ["unauthorized"]}
ROLE_ERRORS = {401: ["unauthorized"], 403: ["forbidden"]}


def _errors(*groups: dict[int, list[str]]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for group in (*groups, ALWAYS):
        for status, codes in group.items():
            out.setdefault(status, [])
            out[status] += [c for c in codes if c not in out[status]]
    return out


def _error_response(codes: list[str]) -> Schema:
    schema = {
        "allOf": [ref("Error")],
        "properties": {"error": {"properties": {"code": {"enum": codes}}}},
    }
    return {
        "description": "Error; `error.code` is one of: " + ", ".join(f"`{c}`" for c in codes),
        "content": {"application/json": {"schema": schema}},
    }


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    tag: str,
    ok: tuple[int, str, str],
    errors: dict[int, list[str]],
    *,
    body: str | None = None,
    params: list[Schema] | None = None,
    public: bool = False,
) -> Schema:
    status, schema_name, description = ok
    responses: dict[str, Schema] = {str(status): _json(ref(schema_name), description)}
    for code_status, codes in sorted(errors.items()):
        responses[str(code_status)] = _error_response(codes)
    op: Schema = {"summary": summary, "tags": [tag], "responses": responses}
    op["security"] = [] if public else [{"bearer": []}]
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(body)}},
        }
        op.setdefault("parameters", []).append(CONTENT_ENCODING)
    return op


CONTENT_ENCODING = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "description": "Request body compression; `deflate` is the zlib format (RFC 1950).",
    "schema": {"enum": ["gzip", "x-gzip", "deflate", "identity"]},
}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STR}


def _sync_paths() -> dict[str, Schema]:
    defaults = {name: f.default for name, f in SyncSettings.model_fields.items()}
    push = _op(
        "Send a batch of changes; every change gets its own result",
        "sync",
        (200, "PushAnswer", "The batch was processed; see each result."),
        _errors(
            BODY_ERRORS,
            AUTH_ERRORS,
            {409: ["batch_id_reused"], 413: ["batch_too_large"], 503: ["store_unavailable"]},
        ),
        body="PushEnvelope",
    )
    push["responses"]["200"]["headers"] = {
        "Ronda-Replayed": {
            "description": "`true` when this is the stored answer of an earlier identical batch",
            "schema": {"const": "true"},
        }
    }
    limit = {
        "type": "integer",
        "minimum": 1,
        "maximum": 100_000,
        "default": defaults["pull_default_limit"],
    }
    pull_params = [
        _query(
            "cursor",
            {"type": "string", "pattern": CURSOR_PATTERN},
            "The `cursor` of the previous page; absent or empty for the first. A well-formed"
            " cursor this database did not give (another epoch, a seq beyond any given) gets"
            " 400 `invalid_cursor`: pull again without one.",
        ),
        _query(
            "limit", limit, f"Page size, capped at pull_max_limit ({defaults['pull_max_limit']})."
        ),
    ]
    conflict_params = [
        _query(
            "after",
            {"type": "integer", "minimum": 0, "maximum": 2**62, "default": 0},
            "The `after` of the previous page; beyond every conflict id given: 400"
            " `invalid_cursor`.",
        ),
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            "Page size.",
        ),
    ]
    return {
        "/v1/sync/push": {"post": push},
        "/v1/sync/pull": {
            "get": _op(
                "Changes in the caller's scope after a cursor, in sequence order",
                "sync",
                (200, "PullAnswer", "One page of changes."),
                _errors({400: ["invalid_cursor", "invalid_request"]}, ROLE_ERRORS),
                params=pull_params,
            )
        },
        "/v1/sync/snapshot": {"get": _snapshot_op()},
        "/v1/me": {
            "get": _op(
                "The caller's device, role, scope, limits and the server time",
                "sync",
                (200, "MeAnswer", "Who the token belongs to."),
                _errors(AUTH_ERRORS),
            )
        },
        "/v1/conflicts": {
            "get": _op(
                "The conflict log (chief: own station; analyst: all, without personal data)",
                "review",
                (200, "ConflictPage", "One page of the conflict log."),
                _errors({400: ["invalid_request", "invalid_cursor"]}, ROLE_ERRORS),
                params=conflict_params,
            )
        },
        "/v1/chains/{device_id}": {
            "get": _op(
                "Verify a device's patrol-log hash chain",
                "review",
                (200, "ChainReport", "The verification report."),
                _errors({404: ["not_found"]}, ROLE_ERRORS),
                params=[_path("device_id")],
            )
        },
    }


def _snapshot_op() -> Schema:
    """``GET /v1/sync/snapshot``: newline-delimited JSON, one value of ``SnapshotLine`` per
    line (OpenAPI 3.1 has no per-item schema for streams; docs/protocol.md says the rest)."""
    op = _op(
        "The caller's whole scope after a cursor as one stream (a first sync)",
        "sync",
        (200, "SnapshotLine", "The documents, a checkpoint after each page, and an end line."),
        _errors({400: ["invalid_cursor"], 429: ["busy"]}, ROLE_ERRORS),
        params=[
            _query(
                "cursor",
                {"type": "string", "pattern": CURSOR_PATTERN},
                "A checkpoint or end cursor of an earlier snapshot (or a pull cursor); absent"
                " or empty for the whole scope.",
            )
        ],
    )
    ok = op["responses"]["200"]
    ok["content"] = {"application/x-ndjson": {"schema": ref("SnapshotLine")}}
    op["responses"]["429"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
    }
    return op


def _admin_paths() -> dict[str, Schema]:
    admin = _errors(BODY_ERRORS, ROLE_ERRORS)
    lists = _errors(ROLE_ERRORS)
    return {
        "/v1/enroll": {
            "post": _op(
                "Redeem a one-time enrollment code for a device token",
                "devices",
                (201, "EnrollAnswer", "The device and its token (shown once)."),
                _errors(BODY_ERRORS, {403: ["enrollment_invalid"]}),
                body="EnrollBody",
                public=True,
            )
        },
        "/v1/admin/stations": {
            "post": _op(
                "Create or rename a station",
                "admin",
                (201, "Station", "The station saved."),
                admin,
                body="StationBody",
            ),
            "get": _op(
                "List stations (admin, chief, analyst)",
                "admin",
                (200, "StationList", "All stations."),
                lists,
            ),
        },
        "/v1/admin/officers": {
            "post": _op(
                "Create or update an officer",
                "admin",
                (201, "Officer", "The officer saved."),
                _errors(admin, {404: ["not_found"]}),
                body="OfficerBody",
            ),
            "get": _op(
                "List officers",
                "admin",
                (200, "OfficerList", "Officers."),
                lists,
                params=[_query("station_id", STR, "Only this station's officers.")],
            ),
        },
        "/v1/admin/enrollments": {
            "post": _op(
                "Issue a one-time enrollment code for an officer",
                "devices",
                (201, "EnrollmentAnswer", "The code, shown once."),
                _errors(admin, {404: ["not_found"]}),
                body="EnrollmentBody",
            ),
        },
        "/v1/admin/devices": {
            "get": _op(
                "List devices",
                "devices",
                (200, "DeviceList", "Devices."),
                lists,
                params=[_query("officer_id", STR, "Only this officer's devices.")],
            ),
        },
        "/v1/admin/devices/{device_id}/revoke": {
            "post": _op(
                "Revoke a device: its token is refused from the next request on",
                "devices",
                (200, "RevokeAnswer", "Revoked."),
                _errors(ROLE_ERRORS, {404: ["not_found"]}),
                params=[_path("device_id")],
            ),
        },
        "/v1/admin/places/reload": {
            "post": _op(
                "Rebuild placement and geocoding from the stored boundary layers",
                "admin",
                (200, "PlacesAnswer", "`placement` is false when no district layer is stored."),
                _errors(ROLE_ERRORS),
            ),
        },
    }


def _ops_paths() -> dict[str, Schema]:
    def plain(summary: str, content: Schema) -> Schema:
        return {
            "get": {
                "summary": summary,
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": {"description": summary, "content": content},
                    "500": _error_response(ALWAYS[500]),
                },
            }
        }

    ready = _op(
        "Readiness: the database answers and the boundary layers are loaded",
        "operations",
        (200, "Ready", "Ready to serve."),
        _errors({503: ["store_unavailable", "starting"]}),
        public=True,
    )
    return {
        "/healthz": {
            "get": _op(
                "Liveness",
                "operations",
                (200, "Health", "The process runs."),
                _errors(),
                public=True,
            )
        },
        "/readyz": {"get": ready},
        "/metrics": plain("Prometheus metrics", {"text/plain": {"schema": STR}}),
        "/openapi.json": plain(
            "This OpenAPI document", {"application/json": {"schema": {"type": "object"}}}
        ),
    }


@cache
def _document() -> dict[str, Any]:
    # Imported here: server.openapi_analysis builds on this module's helpers.
    from server.openapi_analysis import analysis_paths, analysis_schemas
    from server.openapi_attachments import attachment_paths
    from server.openapi_maps import map_paths
    from server.openapi_notices import notice_paths, notice_schemas
    from server.openapi_plans import plan_paths, plan_schemas
    from server.openapi_public import public_paths, public_schemas
    from server.openapi_shedding import with_shedding

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ronda",
            "version": "1",
            "summary": "Offline-first sync server for community policing.",
            "description": "The sync protocol is specified in docs/protocol.md; this document "
            "is its machine-readable form. Every error answer has the shape "
            '`{"error": {"code", "message", "details"}}`.',
            "license": {"name": "MPL-2.0", "identifier": "MPL-2.0"},
        },
        "tags": [
            {"name": t}
            for t in (
                "sync",
                "review",
                "devices",
                "admin",
                "operations",
                "maps",
                "analysis",
                "public",
                "plans",
                "notices",
            )
        ],
        "paths": with_shedding(
            {
                **_sync_paths(),
                **_admin_paths(),
                **_ops_paths(),
                **map_paths(),
                **analysis_paths(),
                **public_paths(),
                **attachment_paths(),
                **plan_paths(),
                **notice_paths(),
            }
        ),
        "components": {
            "schemas": {
                **_model_schemas(),
                **_answer_schemas(),
                **analysis_schemas(),
                **public_schemas(),
                **plan_schemas(),
                **notice_schemas(),
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A device token (`rdt_...`) from POST /v1/enroll.",
                },
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The map endpoints only (/ogc, /tiles): a device token as "
                    "the password, any user name (QGIS, GDAL_HTTP_AUTH=BASIC). Their 401 "
                    'challenges `Basic realm="Ronda"`.',
                },
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every endpoint the app serves (a copy: callers may edit it)."""
    return copy.deepcopy(_document())
