"""Answers of the public API (server/routes/public.py): open objects (a published month's
frozen JSON may carry members later code no longer writes)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from server.answers import Number, OpenAnswer

Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]
Count = Annotated[int, Field(ge=0)] | None
Counts = dict[str, Count]


class PublicRules(OpenAnswer):
    model_config = ConfigDict(
        json_schema_extra={"description": "The publication rules in force (docs/public.md)."}
    )

    k: int
    delay_days: int
    months: int
    utc_offset_minutes: int
    cell_resolution: Annotated[int, Field(le=7)]
    cell_rounding: int
    rate_per: int


class PublicMonths(OpenAnswer):
    months: list[Month]
    categories: list[str]
    districts: list[dict[str, Any]]
    rules: PublicRules


class PublicDistrict(OpenAnswer):
    district: str
    name: str
    population: int
    counts: Counts
    total: Count
    rate: Number | None


class PublicTotals(OpenAnswer):
    counts: Counts
    total: Count


class PublicDistricts(OpenAnswer):
    model_config = ConfigDict(
        json_schema_extra={
            "description": "A month's counts by district and category as frozen when it was"
            " published; null = withheld."
        }
    )

    month: Month
    published_at: Annotated[
        str,
        Field(
            json_schema_extra={"format": "date-time"},
            description="When the month was published (UTC); it never changes after.",
        ),
    ]
    categories: list[str]
    districts: list[PublicDistrict]
    totals: PublicTotals
    rules: PublicRules


class PublicTrend(OpenAnswer):
    model_config = ConfigDict(
        json_schema_extra={
            "description": "Monthly totals by category (the totals row of each month)."
        }
    )

    months: list[Month]
    series: dict[str, list[Any]]
