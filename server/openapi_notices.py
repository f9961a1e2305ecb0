"""The notices' part of the OpenAPI document (see ``server.openapi``; docs/protocol.md,
"Notices" and "Wake-up", is the prose)."""

from __future__ import annotations

from typing import Any

from server.openapi import (
    BODY_ERRORS,
    HLC,
    ID,
    MS,
    REF,
    ROLE_ERRORS,
    STR,
    _errors,
    _nullable,
    _obj,
    _op,
    _path,
    _query,
    ref,
)
from server.settings import SyncSettings
from sync.cursor import CURSOR_PATTERN
from sync.protocol_notices import NoticeAckChange, NoticeDraft

Schema = dict[str, Any]
UTC_TIME: Schema = {"type": "string", "description": "RFC 3339, UTC (`Z`)"}
AREA: Schema = _obj(
    {"stations": {"type": "array", "items": STR}, "district": _nullable(STR)},
)


def notice_schemas() -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for model in (NoticeDraft, NoticeAckChange):
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    body = _obj(
        {
            "text": STR,
            "category": STR,
            "attachments": {"type": "array", "items": ref("AttachmentRef"), "maxItems": 1},
        },
        ["text", "category"],
    )
    out["NoticeDoc"] = _obj(
        {
            "collection": {"const": "notices"},
            "id": {"type": "string", "description": "`<notice_id>@<station_id>`"},
            "seq": {"type": "integer", "minimum": 1},
            "station_id": STR,
            "notice_id": ID,
            "author": {"type": "string", "description": "the chief or analyst who posted it"},
            "deleted": {"type": "boolean", "description": "true: expired or withdrawn"},
            "posted_at": UTC_TIME,
            "expires_at": UTC_TIME,
            "area": AREA,
            "body": body,
            "ended": {"enum": ["expired", "withdrawn"]},
            "ended_at": UTC_TIME,
        },
        [
            "collection",
            "id",
            "seq",
            "station_id",
            "notice_id",
            "author",
            "deleted",
            "posted_at",
            "expires_at",
            "area",
        ],
    )
    out["NoticeAckDoc"] = _obj(
        {
            "collection": {"const": "notice_acks"},
            "id": {"type": "string", "description": "`<notice_id>~<officer_id>`"},
            "seq": {"type": "integer", "minimum": 1},
            "station_id": STR,
            "notice_id": ID,
            "officer_id": STR,
            "device_id": STR,
            "deleted": {"const": False},
            "hlc": HLC,
            "at": {"type": "string", "description": "when, by the phone's clock, with zone"},
        }
    )
    notice = _obj(
        {
            "notice_id": ID,
            "author": STR,
            "area": AREA,
            "posted_at": UTC_TIME,
            "expires_at": UTC_TIME,
            "active": {"type": "boolean"},
            "ended": _nullable({"enum": ["expired", "withdrawn"]}),
            "text": _nullable(STR),
            "category": _nullable(STR),
            "photo": _nullable(ref("AttachmentRef")),
        }
    )
    ack = _obj(
        {
            "officer_id": STR,
            "station_id": STR,
            "device_id": STR,
            "at": STR,
            "seq": {"type": "integer", "minimum": 1},
        }
    )
    out["Notice"] = notice
    out["NoticeAnswer"] = _obj({"notice": ref("Notice")})
    out["NoticeList"] = _obj({"notices": {"type": "array", "items": ref("Notice")}})
    out["NoticeWithAcks"] = _obj({"notice": ref("Notice"), "acks": {"type": "array", "items": ack}})
    out["WaitAnswer"] = _obj({"changed": {"type": "boolean"}, "server_time_ms": MS})
    return out


def notice_paths() -> dict[str, Schema]:
    wait_max = SyncSettings.model_fields["wait_max_s"].default
    one = [_path("notice_id")]
    read_errors = _errors({404: ["not_found"]}, ROLE_ERRORS)
    wait_params = [
        _query(
            "cursor",
            {"type": "string", "pattern": CURSOR_PATTERN},
            "The phone's current pull cursor; a cursor this database did not give: 400"
            " `invalid_cursor` (then pull, which says the same, and resync).",
        ),
        _query(
            "timeout_s",
            {"type": "integer", "minimum": 1, "maximum": 300, "default": wait_max},
            f"How long to hold the request at most; cut to wait_max_s ({wait_max}).",
        ),
    ]
    return {
        "/v1/notices": {
            "post": _op(
                "Post a notice (BOLO) to the phones of a station, stations or a district",
                "notices",
                (201, "NoticeAnswer", "Posted; every phone in its area pulls it."),
                _errors(BODY_ERRORS, ROLE_ERRORS, {503: ["store_unavailable"]}),
                body="NoticeDraft",
            ),
            "get": _op(
                "Notices reaching the caller's stations, newest first",
                "notices",
                (200, "NoticeList", "The notices."),
                _errors({400: ["invalid_request"]}, ROLE_ERRORS),
                params=[
                    _query(
                        "include_ended",
                        {"enum": ["true", "false"], "default": "false"},
                        "Also the expired and withdrawn ones (without their text).",
                    ),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                        "How many notices at most.",
                    ),
                ],
            ),
        },
        "/v1/notices/{notice_id}": {
            "get": _op(
                "A notice and who acknowledged it (in the caller's stations)",
                "notices",
                (200, "NoticeWithAcks", "The notice and its acknowledgements."),
                read_errors,
                params=one,
            ),
            "delete": _op(
                "Withdraw a notice before it expires: its copies become tombstones",
                "notices",
                (200, "NoticeAnswer", "Withdrawn (or ended already)."),
                _errors(read_errors, {503: ["store_unavailable"]}),
                params=one,
            ),
        },
        "/v1/sync/wait": {
            "get": _op(
                "Wake-up long-poll: answered when the caller's scope has anything newer than"
                " the cursor, or after timeout_s; then pull",
                "sync",
                (200, "WaitAnswer", "`changed`: whether to pull now."),
                _errors({400: ["invalid_cursor", "invalid_request"], 429: ["busy"]}, ROLE_ERRORS),
                params=wait_params,
            )
        },
    }
