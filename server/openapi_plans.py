"""The patrol plans' part of the OpenAPI document (see ``server.openapi``)."""

from __future__ import annotations

from typing import Any

from server.openapi import (
    BODY_ERRORS,
    ID,
    ROLE_ERRORS,
    STR,
    _errors,
    _op,
    _path,
    _query,
)
from server.openapi_analysis import END_DOC, START_DOC, TIME

Schema = dict[str, Any]
DAY: Schema = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "Lima date"}


def plan_paths() -> dict[str, Schema]:
    read = _errors({400: ["invalid_request"]}, ROLE_ERRORS)
    one = _errors({400: ["invalid_request"], 404: ["not_found"]}, ROLE_ERRORS)
    hot_params = [
        _query("start", TIME, START_DOC),
        _query("end", TIME, END_DOC),
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
