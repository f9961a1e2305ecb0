"""The notices' part of the OpenAPI document (see ``server.openapi``; docs/protocol.md,
"Notices" and "Wake-up", is the prose)."""

from __future__ import annotations

from typing import Any

from server.openapi import (
    BODY_ERRORS,
    ROLE_ERRORS,
    _errors,
    _op,
    _path,
    _query,
)
from server.settings import SyncSettings
from sync.cursor import CURSOR_PATTERN

Schema = dict[str, Any]


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
