"""The analysis endpoints' part of the OpenAPI document (see ``server.openapi``)."""

from __future__ import annotations

from typing import Any

from server.openapi import INT, ROLE_ERRORS, STR, _errors, _nullable, _obj, _op, _query
from server.routes.analysis_params import TIME_MAX_S, TIME_MIN_S

Schema = dict[str, Any]
NUM: Schema = {"type": "number"}
TIME: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": TIME_MIN_S, "maximum": TIME_MAX_S},
        {"type": "string"},
    ],
    "description": "Epoch seconds, or an ISO 8601 date or date-time (UTC when no zone); "
    f"either way within {TIME_MIN_S}..{TIME_MAX_S} (1970 to the end of year 9999 UTC)",
}
CELL: Schema = {"type": "string", "pattern": "^[0-9a-f]{15}$", "description": "H3 index"}


def _params(extra: list[Schema] | None = None) -> list[Schema]:
    return [
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
        *(extra or []),
    ]


def analysis_schemas() -> dict[str, Schema]:
    window = _obj(
        {
            "stations": _nullable({"type": "array", "items": STR}),
            "start": INT,
            "end": INT,
            "categories": _nullable({"type": "array", "items": STR}),
            "resolution": INT,
            "k": INT,
        }
    )
    hot_cell = _obj({"cell": CELL, "count": INT, "z": NUM, "p": NUM, "p_fdr": NUM, "gi_bin": INT})
    return {
        "AnalysisWindow": window,
        "HotspotAnswer": _obj(
            {
                "version": STR,
                "window": window,
                "method": {"type": "object"},
                "n_incidents": INT,
                "n_cells": INT,
                "classes": {"type": "object", "additionalProperties": INT},
                "cells": {"type": "array", "items": hot_cell},
            }
        ),
        "EmergingAnswer": _obj(
            {
                "version": STR,
                "window": window,
                "slice_edges": {"type": "array", "items": INT},
                "method": {"type": "object"},
                "patterns": {"type": "object", "additionalProperties": INT},
                "cells": {
                    "type": "array",
                    "items": _obj({"cell": CELL, "pattern": STR, "trend_z": NUM, "trend_p": NUM}),
                },
            }
        ),
        "RatesAnswer": _obj(
            {
                "window": window,
                "per": INT,
                "districts": {
                    "type": "array",
                    "items": _obj(
                        {
                            "district": STR,
                            "name": STR,
                            "count": INT,
                            "population": INT,
                            "rate_per_10k": _nullable(NUM),
                            "lower": _nullable(NUM),
                            "upper": _nullable(NUM),
                        }
                    ),
                },
            }
        ),
        "PaiAnswer": _obj(
            {
                "version": STR,
                "train": window,
                "test": _obj({"start": INT, "end": INT}),
                "min_bin": INT,
                "hot_cells": INT,
                "area_hot_km2": NUM,
                "area_total_km2": NUM,
                "hit_rate": _nullable(NUM),
                "pai": _nullable(NUM),
                "rri": _nullable(NUM),
                "pei": _nullable(NUM),
                "n_test": INT,
                "n_test_in_hotspots": INT,
            }
        ),
        "DosageAnswer": _obj(
            {
                "version": STR,
                "window": window,
                "summary": {
                    "type": "array",
                    "items": _obj(
                        {
                            "station": STR,
                            "shift": STR,
                            "minutes_by_class": {"type": "object", "additionalProperties": NUM},
                        }
                    ),
                },
            }
        ),
        **tactical_schemas(),
        **compstat_schemas(),
    }


def analysis_paths() -> dict[str, Schema]:
    errors = _errors({400: ["invalid_request"]}, ROLE_ERRORS)
    slices = _query(
        "slices", {"type": "integer", "minimum": 4, "maximum": 104, "default": 12}, "Weeks."
    )
    test_end = _query("test_end", TIME, "End of the test period (default: as long as training).")

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

TACTICAL_WINDOW: Schema = _obj(
    {
        "stations": _nullable({"type": "array", "items": STR}),
        "start": INT,
        "end": INT,
        "categories": _nullable({"type": "array", "items": STR}),
    }
)


def _int(name: str, low: int, high: int, default: int, description: str) -> Schema:
    schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
    return _query(name, schema, description)


def _tactical_params(extra: list[Schema] | None = None) -> list[Schema]:
    return [p for p in _params(extra) if p["name"] not in ("k",)]


def _concentration_schema() -> Schema:
    return _obj(
        {
            "units": INT,
            "incidents": INT,
            "top": {
                "type": "array",
                "items": _obj({"percent": NUM, "units": INT, "share": NUM}),
            },
            "holding": {
                "type": "array",
                "items": _obj({"share": NUM, "units": INT, "percent": NUM}),
            },
        }
    )


def tactical_schemas() -> dict[str, Schema]:
    knox_cell = _obj(
        {
            "space": STR,
            "time": STR,
            "observed": INT,
            "expected": NUM,
            "knox_ratio": _nullable(NUM),
            "p": NUM,
        }
    )
    victim = _obj(
        {
            "dni": STR,
            "name": STR,
            "count": INT,
            "incidents": {
                "type": "array",
                "items": _obj({"id": STR, "station": STR, "category": STR, "occurred": INT}),
            },
        }
    )
    return {
        "NearRepeatAnswer": _obj(
            {
                "window": TACTICAL_WINDOW,
                "method": {"type": "object", "additionalProperties": STR},
                "bands": _obj(
                    {"distance_m": INT, "distance_bands": INT, "days": INT, "time_bands": INT}
                ),
                "permutations": INT,
                "seed": INT,
                "n_incidents": INT,
                "n_close_pairs": INT,
                "space_bands": {"type": "array", "items": STR},
                "time_bands": {"type": "array", "items": STR},
                "cells": {"type": "array", "items": knox_cell},
            }
        ),
        "RepeatLocationsAnswer": _obj(
            {
                "window": TACTICAL_WINDOW,
                "tolerance_m": INT,
                "n_incidents": INT,
                "n_places": INT,
                "n_repeat_places": INT,
                "n_incidents_at_repeat_places": INT,
                "places": {
                    "type": "array",
                    "items": _obj(
                        {
                            "lon": NUM,
                            "lat": NUM,
                            "count": INT,
                            "first": INT,
                            "last": INT,
                            "categories": {"type": "object", "additionalProperties": INT},
                            "incidents": {"type": "array", "items": STR},
                        }
                    ),
                },
            }
        ),
        "RepeatVictimsAnswer": _obj(
            {
                "window": TACTICAL_WINDOW,
                "personal_data": {"type": "boolean"},
                "n_victims_with_dni": INT,
                "n_repeat_victims": INT,
                "n_incidents_of_repeat_victims": INT,
                "victims": _nullable({"type": "array", "items": victim}),
            }
        ),
        "ConcentrationAnswer": _obj(
            {
                "window": TACTICAL_WINDOW,
                "tolerance_m": INT,
                "resolution": INT,
                "places": _concentration_schema(),
                "cells": _concentration_schema(),
            }
        ),
    }


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


DATE: Schema = {"type": "string", "format": "date"}


def _compstat_place_schemas(span: Schema) -> dict[str, Schema]:
    """The report's members for one period: hot places, patrols, PAI."""
    place = _obj(
        {
            "cell": CELL,
            "count": INT,
            "z": NUM,
            "gi_bin": INT,
            "previous_count": INT,
            "change": INT,
            "change_pct": _nullable(INT),
            "streets": {"type": "array", "items": STR},
            "sector": _nullable(_obj({"code": STR, "name": STR})),
            "center": {"type": "array", "items": NUM, "minItems": 2, "maxItems": 2},
        }
    )
    figures = {"hours": NUM, "km": NUM, "hot_hours": NUM, "hot_share": _nullable(NUM)}
    patrol_row = _obj(
        {"sector": _nullable(STR), "sector_name": _nullable(STR), "shift": STR, **figures}
    )
    patrol = _obj(
        {
            "shifts": {"type": "array", "items": STR},
            "gap_cap_s": INT,
            "speed_cap_kmh": NUM,
            "hot_min_bin": INT,
            "intervals": INT,
            "dropped_gaps": INT,
            "dropped_jumps": INT,
            "rows": {"type": "array", "items": patrol_row},
            "total": _obj(figures),
        }
    )
    pai = _obj(
        {
            "min_bin": INT,
            "hot_cells": INT,
            "cells": {"type": "array", "items": CELL},
            "area_hot_km2": _nullable(NUM),
            "area_total_km2": _nullable(NUM),
            "n_incidents": INT,
            "n_in_hotspots": INT,
            "n_outside_area": INT,
            "hit_rate": _nullable(NUM),
            "pai": _nullable(NUM),
        }
    )
    return {
        "places_period": _obj({"name": STR, "current": span, "previous": span}),
        "hot_places": {"type": "array", "items": place},
        "patrol": patrol,
        "pai": _nullable(pai),
    }


def compstat_schemas() -> dict[str, Schema]:
    span = _obj({"first": DATE, "last": DATE, "start": INT, "end": INT})
    figures = _obj(
        {
            "current": INT,
            "previous": INT,
            "change": INT,
            "change_pct": _nullable(NUM),
            "last_year": INT,
            "change_last_year": INT,
            "change_last_year_pct": _nullable(NUM),
        }
    )
    by_period = _obj({"7d": figures, "28d": figures, "ytd": figures})
    return {
        "CompstatAnswer": _obj(
            {
                "date": {"type": "string", "format": "date"},
                "scope": {"enum": ["station", "district", "city"]},
                "stations": _nullable({"type": "array", "items": STR}),
                "district": _nullable(STR),
                "categories": _nullable({"type": "array", "items": STR}),
                "periods": {
                    "type": "array",
                    "items": _obj(
                        {"name": STR, "current": span, "previous": span, "last_year": span}
                    ),
                },
                "rows": {
                    "type": "array",
                    "items": _obj({"category": STR, "periods": by_period}),
                },
                "total": by_period,
                **_compstat_place_schemas(span),
            }
        )
    }


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
