"""Regenerating the demo city gives the committed bytes (the generator is deterministic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.city import CITY_DIR, LABELLED_CSV


@pytest.mark.slow
def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    from fixtures.citygen import generate

    generate(tmp_path / "city", tmp_path / "addresses.csv")
    for committed in sorted(CITY_DIR.iterdir()):
        assert (tmp_path / "city" / committed.name).read_bytes() == committed.read_bytes(), (
            committed.name
        )
    assert (tmp_path / "addresses.csv").read_bytes() == LABELLED_CSV.read_bytes()
