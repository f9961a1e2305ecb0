"""``ronda retention``: a run that finds another one going ends the command with a message
(exit 1), not with a traceback."""

from __future__ import annotations

from pathlib import Path

from sync.clock import now_ms
from tests.cli_support import db_url_on_both_backends, ronda, said, with_store

db_url = db_url_on_both_backends()


def test_apply_while_another_run_holds_the_lease_ends_with_its_message(
    db_url: str, tmp_path: Path
) -> None:
    held = with_store(db_url, lambda s: s.take_lease("retention", "other-run", now_ms(), 600_000))
    assert held
    answer = ronda(db_url, "retention", "apply", "--archive", str(tmp_path / "archive"))
    assert answer.exit_code == 1
    assert said(answer).startswith("Error:") and "lease" in said(answer)
