"""Patrol plans on the wire (docs/protocol.md, "Patrol plans").

A plan is what a station chief asks for one Lima day: hot cells given to a sector, a shift
and a number of minutes in each cell. The server writes it as a record of the collection
``patrol_plans`` (whole documents, station-scoped, no personal data); phones pull it like any
record and never push one: a change naming ``patrol_plans`` gets ``unknown_collection``,
because plans are not in ``sync.protocol.COLLECTIONS`` (the merge machinery is for devices'
edits; a plan has one author and is replaced whole).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PLANS = "patrol_plans"
LIMA = timezone(timedelta(hours=-5), "America/Lima")  # Peru keeps no daylight saving time
SHIFTS: dict[str, tuple[int, int]] = {"06-14": (6, 8), "14-22": (14, 8), "22-06": (22, 8)}
Shift = Literal["06-14", "14-22", "22-06"]
CELL_PATTERN = r"^[0-9a-f]{15}$"
SECTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_ASSIGNMENTS = 30
MAX_CELLS = 50
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AssignmentBody(_Strict):
    """Hot cells given to one sector and shift, ``minutes`` in each cell."""

    sector: Annotated[str, Field(pattern=SECTOR_PATTERN)]
    shift: Shift
    minutes: Annotated[int, Field(ge=1, le=480)]
    cells: Annotated[list[Annotated[str, Field(pattern=CELL_PATTERN)]], Field(min_length=1)]

    @field_validator("cells")
    @classmethod
    def _few_and_distinct(cls, cells: list[str]) -> list[str]:
        if len(cells) > MAX_CELLS:
            raise ValueError(f"at most {MAX_CELLS} cells in one assignment")
        if len(set(cells)) != len(cells):
            raise ValueError("a cell is named twice")
        return cells


class PlanBody(_Strict):
    """``POST /v1/plans``: the plan of one Lima day for the chief's station."""

    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    note: Annotated[str, Field(max_length=500)] = ""
    assignments: Annotated[list[AssignmentBody], Field(min_length=1)]

    @field_validator("date")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            parsed = date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("date must be a calendar date, e.g. 2026-12-03") from exc
        if not 2000 <= parsed.year <= 9998:
            raise ValueError("date must be in the years 2000 to 9998")
        return value

    @model_validator(mode="after")
    def _bounded(self) -> PlanBody:
        if len(self.assignments) > MAX_ASSIGNMENTS:
            raise ValueError(f"at most {MAX_ASSIGNMENTS} assignments in one plan")
        seen = {(a.sector, a.shift) for a in self.assignments}
        if len(seen) != len(self.assignments):
            raise ValueError("one assignment per sector and shift")
        return self


def shift_window(day: str, shift: str) -> tuple[datetime, datetime]:
    """The shift's start and end in Lima time (22-06 ends the next morning)."""
    hour, hours = SHIFTS[shift]
    start = datetime.fromisoformat(day).replace(hour=hour, tzinfo=LIMA)
    return start, start + timedelta(hours=hours)


def plan_doc(
    plan_id: str,
    station_id: str,
    author: str,
    body: PlanBody,
    published_ms: int,
    boundaries: dict[str, list[list[float]]],
    sector_names: dict[str, str],
) -> dict[str, Any]:
    """The plan's document as phones pull it (without ``seq``, which the write adds)."""
    assignments = []
    for a in body.assignments:
        start, end = shift_window(body.date, a.shift)
        assignments.append(
            {
                "sector": a.sector,
                "sector_name": sector_names.get(a.sector, a.sector),
                "shift": a.shift,
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
                "minutes": a.minutes,
                "cells": [{"cell": c, "boundary": boundaries[c]} for c in a.cells],
            }
        )
    return {
        "collection": PLANS,
        "id": plan_id,
        "station_id": station_id,
        "author": author,
        "deleted": False,
        "date": body.date,
        "note": body.note,
        "published_ms": published_ms,
        "assignments": assignments,
    }
