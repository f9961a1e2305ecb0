"""The ``retention`` settings group (docs/operations.md, "Retention").

The periods are defaults a deployment must confirm with its legal adviser: Peru's personal-data
law (Ley 29733) asks that personal data be kept no longer than its purpose needs, and names no
number of years for police records.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class RetentionSettings(BaseModel):
    positions_months: int = Field(
        24,
        ge=1,
        le=1200,
        description="Patrol positions (the track index of maps and dosage) older than this "
        "many months leave the database; their monthly dosage is archived.",
    )
    patrol_log_years: int = Field(
        5,
        ge=1,
        le=100,
        description="Patrol-log entries received more than this many years ago are archived, "
        "then removed; each chain keeps its archived head.",
    )
    pii_years: int = Field(
        5,
        ge=1,
        le=100,
        description="Personal data of closed incidents that occurred and were last edited "
        "more than this many years ago is removed; the incident's other facts stay.",
    )
    pii_clear_description: bool = Field(
        True,
        description="Also empty the free-text description of those incidents (it often "
        "names people).",
    )
    pii_archive: bool = Field(
        False,
        description="Write the removed personal data into the archive (then the archive is "
        "personal data too), with the references of the files removed (not their bytes); "
        "otherwise only whether there was some.",
    )
    conflict_years: int = Field(
        2, ge=1, le=100, description="Conflict log rows (and their reviews) older than this."
    )
    audit_years: int = Field(
        5, ge=1, le=100, description="Audit log rows older than this are archived, then removed."
    )
    batch_rows: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Rows removed per transaction (short transactions: sync goes on).",
    )

    @model_validator(mode="after")
    def _positions_before_logs(self) -> RetentionSettings:
        # A position is read from its patrol-log entry: dropping the entry first would drop
        # its position without its dosage being archived.
        if self.positions_months > 12 * self.patrol_log_years:
            raise ValueError("positions_months must not exceed 12 x patrol_log_years")
        return self
