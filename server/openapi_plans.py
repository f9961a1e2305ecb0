"""The patrol plans' part of the OpenAPI document (see ``server.openapi``)."""

from __future__ import annotations

from typing import Any

from server.openapi import (
    BODY_ERRORS,
    ID,
    INT,
    MS,
    REF,
    ROLE_ERRORS,
    STR,
    _errors,
    _obj,
    _op,
    _path,
    _query,
    ref,
)
from server.openapi_analysis import TIME
from sync.protocol_plans import CELL_PATTERN, PlanBody

Schema = dict[str, Any]
NUM: Schema = {"type": "number"}
CELL: Schema = {"type": "string", "pattern": CELL_PATTERN, "description": "H3 index"}
SHIFT: Schema = {"enum": ["06-14", "14-22", "22-06"], "description": "Lima hours"}
DAY: Schema = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "Lima date"}
LIMA_TIME: Schema = {"type": "string", "description": "ISO 8601 with the Lima offset (-05:00)"}


def plan_schemas() -> dict[str, Schema]:
    body = PlanBody.model_json_schema(ref_template=REF)
    defs = body.pop("$defs", {})
    cell = _obj({"cell": CELL, "boundary": {"type": "array", "items": {"type": "array"}}})
    assignment = _obj(
        {
            "sector": STR,
            "sector_name": STR,
            "shift": SHIFT,
            "starts_at": LIMA_TIME,
            "ends_at": LIMA_TIME,
            "minutes": {"type": "integer", "minimum": 1, "description": "asked in each cell"},
            "cells": {"type": "array", "items": cell},
        }
    )
    doc = _obj(
        {
            "collection": {"const": "patrol_plans"},
            "id": ID,
            "seq": {"type": "integer", "minimum": 1},
            "station_id": STR,
            "author": {"type": "string", "description": "the chief who published it"},
            "deleted": {"type": "boolean", "description": "true: withdrawn"},
            "date": DAY,
            "note": STR,
            "published_ms": MS,
            "assignments": {"type": "array", "items": assignment},
        }
    )
    hot = _obj(
        {
            "cell": CELL,
            "count": INT,
            "z": NUM,
            "gi_bin": {"type": "integer", "minimum": 1, "maximum": 3},
            "lon": NUM,
            "lat": NUM,
        }
    )
    minutes_of = _obj({"cell": CELL, "minutes": NUM})
    done = _obj(
        {
            "sector": STR,
            "sector_name": STR,
            "shift": SHIFT,
            "starts_at": LIMA_TIME,
            "ends_at": LIMA_TIME,
            "minutes_per_cell": INT,
            "planned_minutes": INT,
            "minutes": NUM,
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "cells": {"type": "array", "items": minutes_of},
            "officers": {
                "type": "array",
                "items": _obj(
                    {
                        "officer_id": STR,
                        "minutes": NUM,
                        "cells": {"type": "array", "items": minutes_of},
                    }
                ),
            },
        }
    )
    return {
        **defs,
        "PlanBody": body,
        "PlanDoc": doc,
        "PlanList": _obj({"plans": {"type": "array", "items": ref("PlanDoc")}}),
        "HotCellsAnswer": _obj(
            {
                "version": STR,
                "start": INT,
                "end": INT,
                "resolution": INT,
                "min_bin": INT,
                "cells": {"type": "array", "items": hot},
            }
        ),
        "PlanDosageAnswer": _obj(
            {
                "plan_id": ID,
                "station_id": STR,
                "date": DAY,
                "version": STR,
                "rules": _obj(
                    {
                        "gap_cap_s": INT,
                        "max_speed_mps": NUM,
                        "attributed_to": {"const": "first_position"},
                    }
                ),
                "assignments": {"type": "array", "items": done},
            }
        ),
    }


def plan_paths() -> dict[str, Schema]:
    read = _errors({400: ["invalid_request"]}, ROLE_ERRORS)
    one = _errors({400: ["invalid_request"], 404: ["not_found"]}, ROLE_ERRORS)
    hot_params = [
        _query("start", TIME, "Window start (inclusive); default `end` minus the default weeks."),
        _query("end", TIME, "Window end (exclusive); default just after the last incident."),
        _query("category", STR, "Comma-separated categories (all when absent)."),
        _query("station", STR, "One station (analysts; others are held to their own)."),
        _query(
            "resolution",
            {"type": "integer", "minimum": 5, "maximum": 9, "default": 9},
            "H3 resolution of the cells.",
        ),
        _query("k", {"type": "integer", "minimum": 1, "maximum": 3, "default": 1}, "k-ring."),
        _query(
            "min_bin",
            {"type": "integer", "minimum": 1, "maximum": 3, "default": 2},
            "Lowest Gi_Bin listed (2: hot at 95 % confidence).",
        ),
    ]
    list_params = [
        _query("date", DAY, "Only the plans of this Lima date."),
        _query("station", STR, "One station (analysts; others are held to their own)."),
    ]
    plan = [{**_path("plan_id"), "schema": ID}]
    return {
        "/v1/plans/hot-cells": {
            "get": _op(
                "Hot cells to plan (chief, analyst)",
                "plans",
                (200, "HotCellsAnswer", "Gi* hot cells, hottest first"),
                read,
                params=hot_params,
            )
        },
        "/v1/plans": {
            "get": _op(
                "Published patrol plans in scope",
                "plans",
                (200, "PlanList", "Plans, newest first (withdrawn ones left out)"),
                read,
                params=list_params,
            ),
            "post": _op(
                "Publish a patrol plan (chief)",
                "plans",
                (201, "PlanDoc", "The plan as phones will pull it"),
                _errors(BODY_ERRORS, ROLE_ERRORS),
                body="PlanBody",
            ),
        },
        "/v1/plans/{plan_id}": {
            "get": _op("One patrol plan", "plans", (200, "PlanDoc", "The plan"), one, params=plan),
            "delete": _op(
                "Withdraw a patrol plan (chief)",
                "plans",
                (200, "PlanDoc", "The withdrawn version (deleted: true)"),
                one,
                params=plan,
            ),
        },
        "/v1/plans/{plan_id}/dosage": {
            "get": _op(
                "Minutes in the plan's cells per sector, shift and officer (chief, analyst)",
                "plans",
                (200, "PlanDosageAnswer", "Dosage against the plan"),
                one,
                params=plan,
            )
        },
    }
