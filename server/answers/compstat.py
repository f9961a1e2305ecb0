"""The CompStat report's answer (server/routes/analysis_compstat.py and _places.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from server.answers import Answer, Number
from server.answers.analysis import Cell

Date = Annotated[str, Field(json_schema_extra={"format": "date"})]


class Span(Answer):
    first: Date
    last: Date
    start: int
    end: int


class CompstatPeriod(Answer):
    name: str
    current: Span
    previous: Span
    last_year: Span


class Figures(Answer):
    current: int
    previous: int
    change: int
    change_pct: Number | None
    last_year: int
    change_last_year: int
    change_last_year_pct: Number | None


class ByPeriod(Answer):
    d7: Figures = Field(alias="7d")
    d28: Figures = Field(alias="28d")
    ytd: Figures


class CompstatRow(Answer):
    category: str
    periods: ByPeriod


class PlacesPeriod(Answer):
    name: str
    current: Span
    previous: Span


class Sector(Answer):
    code: str
    name: str


class HotPlace(Answer):
    cell: Cell
    count: int
    z: Number
    gi_bin: int
    previous_count: int
    change: int
    change_pct: int | None
    streets: list[str]
    sector: Sector | None
    center: Annotated[list[Number], Field(min_length=2, max_length=2)]


class PatrolFigures(Answer):
    hours: Number
    km: Number
    hot_hours: Number
    hot_share: Number | None


class PatrolRow(Answer):
    sector: str | None
    sector_name: str | None
    shift: str
    hours: Number
    km: Number
    hot_hours: Number
    hot_share: Number | None


class Patrol(Answer):
    shifts: list[str]
    gap_cap_s: int
    speed_cap_kmh: Number
    hot_min_bin: int
    intervals: int
    dropped_gaps: int
    dropped_jumps: int
    rows: list[PatrolRow]
    total: PatrolFigures


class CompstatPai(Answer):
    min_bin: int
    hot_cells: int
    cells: list[Cell]
    area_hot_km2: Number | None
    area_total_km2: Number | None
    n_incidents: int
    n_in_hotspots: int
    n_outside_area: int
    hit_rate: Number | None
    pai: Number | None


class CompstatAnswer(Answer):
    date: Date
    scope: Literal["station", "district", "city"]
    stations: list[str] | None
    district: str | None
    categories: list[str] | None
    periods: list[CompstatPeriod]
    rows: list[CompstatRow]
    total: ByPeriod
    places_period: PlacesPeriod
    hot_places: list[HotPlace]
    patrol: Patrol
    pai: CompstatPai | None
