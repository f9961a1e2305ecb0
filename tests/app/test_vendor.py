"""Vendored JavaScript is what scripts/vendor-js recorded: the file's sha256 matches its
VERSION, and the package's licence travels with it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENDORED = [REPO / "server/static/app/vendor/jsqr", REPO / "tests/e2e/vendor/axe-core"]


@pytest.mark.parametrize("folder", VENDORED, ids=lambda p: p.name)
def test_vendored_file_matches_its_record(folder: Path) -> None:
    record = dict(
        line.split(": ", 1) for line in (folder / "VERSION").read_text().splitlines() if line
    )
    data = (folder / record["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == record["sha256"]
    assert (folder / "LICENSE").stat().st_size > 1000
    assert record["license"] in {"Apache-2.0", "MPL-2.0"}
