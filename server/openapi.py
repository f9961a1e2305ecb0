# Over 400 lines: the sync, admin and ops paths of the document; other areas have openapi_<area>.py.
"""The OpenAPI 3.1 document served at ``/openapi.json`` (docs/protocol.md is its prose twin).

Request schemas come from the pydantic models that validate the requests, and answer schemas
from the models of ``server.answers`` that the routes build their answers with (or, on the
sync hot paths, that tests validate real answers with), so neither can drift;
tests/server/test_openapi.py also checks real answers of the app against the document.
Error answers list, per endpoint and status, the codes the endpoint can give.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel

from server.answers import admin, analysis, common, compstat, notices, plans, public
from server.answers import sync as sync_answers
from server.answers.schema import REF, answer_schemas
from server.routes.admin import EnrollBody, EnrollmentBody, OfficerBody, StationBody
from server.settings import SyncSettings
from sync.cursor import CURSOR_PATTERN
from sync.protocol import ID_PATTERN, IncidentChange, LogEntryChange, PushEnvelope
from sync.protocol_notices import NoticeAckChange, NoticeDraft
from sync.protocol_plans import PlanBody

Schema = dict[str, Any]
MODELS: tuple[type[BaseModel], ...] = (
    IncidentChange,
    LogEntryChange,
    PushEnvelope,
    EnrollBody,
    StationBody,
    OfficerBody,
    EnrollmentBody,
    PlanBody,
    NoticeDraft,
    NoticeAckChange,
)
# Every answer a path names (with the models they use, hoisted by answer_schemas).
ANSWERS: tuple[type[BaseModel], ...] = (
    common.Error,
    common.Health,
    common.Ready,
    admin.EnrollAnswer,
    admin.MeAnswer,
    admin.Station,
    admin.StationList,
    admin.Officer,
    admin.OfficerList,
    admin.EnrollmentAnswer,
    admin.Device,
    admin.DeviceList,
    admin.RevokeAnswer,
    admin.PlacesAnswer,
    sync_answers.PushAnswer,
    sync_answers.PullAnswer,
    sync_answers.SnapshotLine,
    sync_answers.ConflictPage,
    sync_answers.ChainReport,
    analysis.HotspotAnswer,
    analysis.EmergingAnswer,
    analysis.RatesAnswer,
    analysis.PaiAnswer,
    analysis.DosageAnswer,
    analysis.NearRepeatAnswer,
    analysis.RepeatLocationsAnswer,
    analysis.RepeatVictimsAnswer,
    analysis.ConcentrationAnswer,
    compstat.CompstatAnswer,
    plans.PlanList,
    plans.HotCellsAnswer,
    plans.PlanDosageAnswer,
    notices.NoticeAnswer,
    notices.NoticeList,
    notices.NoticeWithAcks,
    notices.WaitAnswer,
    public.PublicMonths,
    public.PublicDistricts,
    public.PublicTrend,
)


def ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


STR: Schema = {"type": "string"}
ID: Schema = {"type": "string", "pattern": ID_PATTERN}


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


def _answer_schemas(known: dict[str, Schema]) -> dict[str, Schema]:
    """Answer schemas, generated from the models the routes build their answers with."""
    return answer_schemas(ANSWERS, known)


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
    from server.openapi_analysis import analysis_paths
    from server.openapi_attachments import attachment_paths
    from server.openapi_maps import map_paths
    from server.openapi_notices import notice_paths
    from server.openapi_plans import plan_paths
    from server.openapi_public import public_paths
    from server.openapi_shedding import with_shedding

    requests = _model_schemas()
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
                **requests,
                **_answer_schemas(requests),
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
