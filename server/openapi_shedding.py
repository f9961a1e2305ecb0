"""The 429 ``busy`` answer of every operation the load shedder guards (server/shedding.py)."""

from __future__ import annotations

from typing import Any

from server.shedding import SHED_PREFIXES

Schema = dict[str, Any]

RETRY_AFTER = {
    "description": "Whole seconds to wait before asking again (jittered).",
    "schema": {"type": "integer", "minimum": 1},
}


def busy_response() -> Schema:
    error = {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {"enum": ["busy"]},
            "message": {"type": "string"},
            "details": {
                "type": "object",
                "required": ["retry_after_s"],
                "properties": {
                    "retry_after_s": {"type": "integer", "minimum": 1},
                    "reason": {"enum": ["saturated", "device_budget"]},
                },
            },
        },
    }
    schema = {"type": "object", "required": ["error"], "properties": {"error": error}}
    return {
        "description": "Shed: the worker is saturated or the device is over its request "
        "budget (`details.reason`); nothing was done, ask again after `Retry-After`.",
        "headers": {"Retry-After": RETRY_AFTER},
        "content": {"application/json": {"schema": schema}},
    }


def with_shedding(paths: dict[str, Schema]) -> dict[str, Schema]:
    """``paths`` with a 429 ``busy`` answer (and ``Retry-After``) on each shed operation."""
    for path, item in paths.items():
        if not path.startswith(SHED_PREFIXES):
            continue
        for op in item.values():
            responses = op["responses"]
            known = responses.get("429")
            if known is None:
                responses["429"] = busy_response()
            else:  # already documented as busy (a snapshot over its stream slots)
                known.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
    return paths
