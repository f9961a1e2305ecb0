"""The analysis endpoints' part of the OpenAPI document (see ``server.openapi``)."""

from __future__ import annotations

from typing import Any

from server.maps.window import END_MAX_S, TIME_MAX_S, TIME_MIN_S
from server.openapi import ROLE_ERRORS, STR, _errors, _op, _query

Schema = dict[str, Any]
NUM: Schema = {"type": "number"}
TIME: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": TIME_MIN_S, "maximum": TIME_MAX_S},
        {"type": "string"},
    ],
    "description": "Epoch seconds, or an ISO 8601 date (a whole Lima day) or date-time (UTC "
    "when no zone); "
    f"either way within {TIME_MIN_S}..{TIME_MAX_S} (1970 to the end of year 9999 UTC); an "
    f"end date or date-time past it is clamped to {END_MAX_S}",
}
START_DOC = (
    "Window start (inclusive; a date: its 00:00 Lima); default `end` minus the default weeks."
)
END_DOC = (
    "Window end: a date is included whole (up to the next day's 00:00 Lima), a date-time or "
    "epoch second is exclusive; default just after the last incident."
)
CELL: Schema = {"type": "string", "pattern": "^[0-9a-f]{15}$", "description": "H3 index"}


def _params(extra: list[Schema] | None = None) -> list[Schema]:
    return [
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
        *(extra or []),
    ]


def analysis_paths() -> dict[str, Schema]:
    errors = _errors({400: ["invalid_request"]}, ROLE_ERRORS)
    slices = _query(
        "slices", {"type": "integer", "minimum": 4, "maximum": 104, "default": 12}, "Weeks."
    )
    test_end = _query(
        "test_end", TIME, "End of the test period, read as `end` (default: as long as training)."
    )

    def get(summary: str, answer: str, params: list[Schema]) -> Schema:
        return {"get": _op(summary, "analysis", (200, answer, summary), errors, params=params)}

    return {
        "/v1/analysis/hotspots": get("Gi* hot and cold cells", "HotspotAnswer", _params()),
        "/v1/analysis/emerging": get(
            "Emerging hotspot patterns", "EmergingAnswer", _params([slices])
        ),
        "/v1/analysis/rates": get("Incidents per 10,000 residents", "RatesAnswer", _params()),
        "/v1/analysis/pai": get("PAI, RRI and PEI", "PaiAnswer", _params([test_end])),
        "/v1/analysis/dosage": get("Patrol minutes by hotspot class", "DosageAnswer", _params()),
        **tactical_paths(),
        **compstat_paths(),
    }


# --- tactical analysis (server.routes.analysis_tactical) ---


def _int(name: str, low: int, high: int, default: int, description: str) -> Schema:
    schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
    return _query(name, schema, description)


def _tactical_params(extra: list[Schema] | None = None) -> list[Schema]:
    return [p for p in _params(extra) if p["name"] not in ("k",)]


def tactical_paths() -> dict[str, Schema]:
    errors = _errors({400: ["invalid_request"]}, ROLE_ERRORS)

    def get(summary: str, answer: str, params: list[Schema]) -> Schema:
        return {"get": _op(summary, "analysis", (200, answer, summary), errors, params=params)}

    tolerance = _int("tolerance_m", 0, 50, 5, "Incidents this close (metres) are one place.")
    limit = _int("limit", 1, 500, 50, "Most listed.")
    knox = [
        _int("distance_m", 1, 5000, 100, "Width of a distance band (metres)."),
        _int("distance_bands", 1, 10, 5, "Distance bands after 'same location'."),
        _int("days", 1, 365, 7, "Width of a time band (days)."),
        _int("time_bands", 1, 10, 5, "Time bands before 'more than'."),
        _int("permutations", 19, 999, 99, "Monte Carlo permutations of the dates."),
        _int("seed", 0, 2**31 - 1, 42, "Seed of the permutations (same seed, same answer)."),
    ]
    near = get(
        "Near repeats: Knox test by space and time bands",
        "NearRepeatAnswer",
        _tactical_params(knox),
    )
    # One Knox test runs at a time and a few wait; more are told to come back.
    near["get"] = _op(
        "Near repeats: Knox test by space and time bands",
        "analysis",
        (200, "NearRepeatAnswer", "Near repeats: Knox test by space and time bands"),
        _errors({400: ["invalid_request"], 429: ["busy"]}, ROLE_ERRORS),
        params=_tactical_params(knox),
    )
    near["get"]["responses"]["429"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
    }
    return {
        "/v1/analysis/near-repeat": near,
        "/v1/analysis/repeat-locations": get(
            "Places with repeated incidents",
            "RepeatLocationsAnswer",
            _tactical_params([tolerance, limit]),
        ),
        "/v1/analysis/repeat-victims": get(
            "Victims (by DNI) in two or more incidents; DNI only for personal-data roles",
            "RepeatVictimsAnswer",
            _tactical_params([limit]),
        ),
        "/v1/analysis/concentration": get(
            "Share of incidents in the busiest places and cells",
            "ConcentrationAnswer",
            _tactical_params([tolerance]),
        ),
    }


# --- CompStat (server.routes.analysis_compstat) ---


def _compstat_params() -> list[Schema]:
    return [
        _query(
            "date",
            {"type": "string", "format": "date"},
            "Last Lima day of the periods (included), years 1971..9998; default today in Lima.",
        ),
        _query("station", STR, "One station (analysts; chiefs are held to their own)."),
        _query(
            "district",
            {"type": "string", "pattern": "^[0-9]{6}$"},
            "One district (UBIGEO), as placement assigned the incidents.",
        ),
        _query("category", STR, "Comma-separated categories (all when absent)."),
        _query(
            "period",
            {"enum": ["7d", "28d", "ytd"], "default": "28d"},
            "The period of the hot places, the patrol figures and the PAI.",
        ),
    ]


def compstat_paths() -> dict[str, Schema]:
    errors = _errors({400: ["invalid_request"]}, ROLE_ERRORS)
    summary = (
        "CompStat: counts by category, 7 days, 28 days and year to date (Lima); hot places,"
        " patrol hours and km per sector and shift, PAI of the previous period's map"
    )
    section = _query(
        "section",
        {"enum": ["counts", "places", "patrol", "pai"], "default": "counts"},
        "Which table: counts by category, hot places, patrol per sector and shift, or PAI.",
    )
    csv_op = _op(
        summary + ", as CSV",
        "analysis",
        (200, "CompstatAnswer", summary),
        errors,
        params=[*_compstat_params(), section],
    )
    csv_op["responses"]["200"] = {
        "description": "counts: one row per category and period, then the totals; the other"
        " sections: one row per place, per sector and shift (then the total), or the PAI",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
    return {
        "/v1/analysis/compstat": {
            "get": _op(
                summary,
                "analysis",
                (200, "CompstatAnswer", summary),
                errors,
                params=_compstat_params(),
            )
        },
        "/v1/analysis/compstat.csv": {"get": csv_op},
    }
