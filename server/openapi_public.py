"""OpenAPI of the public API (``/public/...``): no sign-in, only published months."""

from __future__ import annotations

from typing import Any

from server.openapi import ALWAYS, _error_response, _query, ref

Schema = dict[str, Any]
COUNT: Schema = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}
MONTH: Schema = {"type": "string", "pattern": r"^\d{4}-\d{2}$"}
RULES: Schema = {
    "type": "object",
    "description": "The publication rules in force (docs/public.md).",
    "properties": {
        "k": {"type": "integer"},
        "delay_days": {"type": "integer"},
        "months": {"type": "integer"},
        "utc_offset_minutes": {"type": "integer"},
        "cell_resolution": {"type": "integer", "maximum": 7},
        "cell_rounding": {"type": "integer"},
        "rate_per": {"type": "integer"},
    },
    "required": [
        "k",
        "delay_days",
        "months",
        "utc_offset_minutes",
        "cell_resolution",
        "cell_rounding",
        "rate_per",
    ],
}
COUNTS: Schema = {"type": "object", "additionalProperties": COUNT}


MONTH_PARAM = _query(
    "month", MONTH, "A published month (YYYY-MM); the latest when left out. No other period."
)
LANG_PARAM = _query(
    "lang",
    {"type": "string", "enum": ["es", "en"]},
    "Language of the CSV's header row and totals label (the server's default language,"
    " Spanish unless configured, when left out). The values are the same in both.",
)
CSV_DESCRIPTION = (
    "UTF-8 with a byte order mark, for spreadsheet programs; headers in the language asked"
    " for, categories by their names; an empty cell is withheld (docs/public.md)."
)


def _op(summary: str, content: dict[str, Schema], month: bool, lang: bool = False) -> Schema:
    errors = {404: ["not_found"], **ALWAYS} if month else ALWAYS
    responses: dict[str, Schema] = {"200": {"description": summary, "content": content}}
    for status, codes in sorted(errors.items()):
        responses[str(status)] = _error_response(codes)
    op: Schema = {"summary": summary, "tags": ["public"], "security": [], "responses": responses}
    params = [MONTH_PARAM] if month else []
    if lang:
        params.append(LANG_PARAM)
        op["description"] = CSV_DESCRIPTION
    if params:
        op["parameters"] = params
    return {"get": op}


def public_paths() -> dict[str, Schema]:
    csv = {"text/csv": {"schema": {"type": "string"}}}
    geojson = {"application/geo+json": {"schema": {"type": "object"}}}
    return {
        "/public/months.json": _op(
            "Published months, categories, districts and the rules",
            {"application/json": {"schema": ref("PublicMonths")}},
            False,
        ),
        "/public/districts.json": _op(
            "Counts and rates by district and category for one month",
            {"application/json": {"schema": ref("PublicDistricts")}},
            True,
        ),
        "/public/districts.csv": _op(
            "The same as CSV (empty = withheld; last row: totals, with the city's rate)",
            csv,
            True,
            lang=True,
        ),
        "/public/districts.geojson": _op("The same on district polygons", geojson, True),
        "/public/cells.geojson": _op(
            "Coarse H3 cells of one month (rounded; cells under k left out)", geojson, True
        ),
        "/public/trend.json": _op(
            "Monthly totals by category",
            {"application/json": {"schema": ref("PublicTrend")}},
            False,
        ),
        "/public/trend.csv": _op("Monthly totals by category as CSV", csv, False, lang=True),
    }
