"""Answers of the patrol plans API (server/routes/plans.py); ``PlanDoc`` is also what a
pull carries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from server.answers import Answer, Ms, Number
from server.answers.common import Id, Seq
from sync.protocol_plans import CELL_PATTERN

Cell = Annotated[str, Field(pattern=CELL_PATTERN, description="H3 index")]
Shift = Annotated[Literal["06-14", "14-22", "22-06"], Field(description="Lima hours")]
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Lima date")]
LimaTime = Annotated[str, Field(description="ISO 8601 with the Lima offset (-05:00)")]


class PlanCell(Answer):
    cell: Cell
    boundary: list[list[Any]]


class PlanAssignment(Answer):
    sector: str
    sector_name: str
    shift: Shift
    starts_at: LimaTime
    ends_at: LimaTime
    minutes: Annotated[int, Field(ge=1, description="asked in each cell")]
    cells: list[PlanCell]


class PlanDoc(Answer):
    collection: Literal["patrol_plans"]
    id: Id
    station_id: str
    author: Annotated[str, Field(description="the chief who published it")]
    deleted: Annotated[bool, Field(description="true: withdrawn")]
    date: Day
    note: str
    published_ms: Ms
    assignments: list[PlanAssignment]
    seq: Seq  # last, as the stored document has it (the answer's bytes stay the same)


class PlanList(Answer):
    plans: list[PlanDoc]


class PlanHotCell(Answer):
    cell: Cell
    count: int
    z: Number
    gi_bin: Annotated[int, Field(ge=1, le=3)]
    lon: Number
    lat: Number


class HotCellsAnswer(Answer):
    version: str
    start: int
    end: int
    resolution: int
    min_bin: int
    cells: list[PlanHotCell]


class CellMinutes(Answer):
    cell: Cell
    minutes: Number


class OfficerDosage(Answer):
    officer_id: str
    minutes: Number
    cells: list[CellMinutes]


class AssignmentDosage(Answer):
    sector: str
    sector_name: str
    shift: Shift
    starts_at: LimaTime
    ends_at: LimaTime
    minutes_per_cell: int
    planned_minutes: int
    minutes: Number
    progress: Annotated[
        int | float,
        Field(ge=0, le=1),
        WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
    ]
    cells: list[CellMinutes]
    officers: list[OfficerDosage]


class DosageRules(Answer):
    gap_cap_s: int
    max_speed_mps: Number
    attributed_to: Literal["first_position"]


class PlanDosageAnswer(Answer):
    plan_id: Id
    station_id: str
    date: Day
    version: str
    rules: DosageRules
    assignments: list[AssignmentDosage]
