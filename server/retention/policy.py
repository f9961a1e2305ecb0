"""When each kind of old data is due: the cut-offs of one run, computed from its clock."""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from server.retention.settings import RetentionSettings

DAY_MS = 86_400_000

# The kinds one run handles, in the order it handles them (docs/operations.md, "Retention").
KINDS = (
    "track_points",
    "patrol_logs",
    "incident_pii",
    "pii_files",
    "conflict_pii",
    "conflicts",
    "audit",
    "batch_answers",
)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Everything strictly older than these goes (ms since the epoch, UTC; track points in s)."""

    now_ms: int
    positions_s: int
    patrol_logs_ms: int
    pii_ms: int
    conflicts_ms: int
    audit_ms: int
    answers_ms: int

    def as_dict(self) -> dict[str, Any]:
        """ISO 8601 UTC times by kind ("now" is the run's clock)."""
        return {
            name.rsplit("_", 1)[0]: _iso(value * (1000 if name.endswith("_s") else 1))
            for name, value in asdict(self).items()
        }


def months_ago(now_ms: int, months: int) -> int:
    """The same instant ``months`` calendar months earlier (the day clamped to the month's
    length: 31 March less one month is 28 or 29 February), in ms."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    index = now.year * 12 + now.month - 1 - months
    year, month = divmod(index, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return int(now.replace(year=year, month=month + 1, day=day).timestamp() * 1000)


def cutoffs(policy: RetentionSettings, answer_days: int, now_ms: int) -> Cutoffs:
    return Cutoffs(
        now_ms=now_ms,
        positions_s=months_ago(now_ms, policy.positions_months) // 1000,
        patrol_logs_ms=months_ago(now_ms, 12 * policy.patrol_log_years),
        pii_ms=months_ago(now_ms, 12 * policy.pii_years),
        conflicts_ms=months_ago(now_ms, 12 * policy.conflict_years),
        audit_ms=months_ago(now_ms, 12 * policy.audit_years),
        answers_ms=now_ms - answer_days * DAY_MS,
    )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
