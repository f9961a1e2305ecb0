"""``ronda demo`` keeps its attachments beside its database file and starts both afresh
(docs/operations.md, the commands' table)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main


@pytest.mark.slow
def test_the_demo_keeps_attachments_beside_its_file_and_starts_them_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier demo's files stayed in ./attachments of the folder the command ran from,
    named by no record of the new database (a security review found 32 there)."""
    monkeypatch.delenv("RONDA_ATTACHMENTS__DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    stale = tmp_path / "city-attachments" / "blobs" / "ab" / ("ab" * 32)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier demo's photo")
    db = tmp_path / "city.db"

    done = CliRunner().invoke(
        main, ["demo", "--db-file", str(db), "--incidents", "5", "--no-serve"]
    )

    assert done.exit_code == 0, done.output
    assert db.exists() and not stale.exists()
    assert not (tmp_path / "attachments").exists()
    # the server the demo starts reads its settings from the environment
    assert os.environ["RONDA_ATTACHMENTS__DIR"] == str(tmp_path / "city-attachments")
