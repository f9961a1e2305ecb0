"""The officer's app hashes and stamps as the server does: the committed test vectors are what
the server's Python computes now, the worked example of docs/protocol.md is among them, and the
app's JavaScript modules pass them (``node --test tests/app/``, run here so CI runs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.app import make_vectors

REPO = Path(__file__).resolve().parents[2]
APP_TESTS = REPO / "tests" / "app"


def test_committed_vectors_are_what_the_server_computes() -> None:
    committed = make_vectors.OUT.read_text(encoding="utf-8")
    assert committed == make_vectors.render(make_vectors.build()), (
        "tests/app/vectors.json is stale: run .venv/bin/python -m tests.app.make_vectors"
    )


def test_vectors_hold_the_worked_example_of_the_protocol() -> None:
    """Expected values from the document, not from the code that wrote the vectors."""
    doc = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")

    def first_group(pattern: str, flags: int = 0) -> str:
        found = re.search(pattern, doc, flags)
        assert found is not None, f"docs/protocol.md lost {pattern!r}"
        return found.group(1)

    example = json.loads(first_group(r"```json hash-example\n(.*?)```", re.S))
    material = first_group(r"```text hash-material\n(.*?)\n```", re.S)
    second = first_group(r"its own hash is\n`([0-9a-f]{64})`")
    chain = json.loads(make_vectors.OUT.read_text(encoding="utf-8"))["chains"][0]
    first, then = chain["entries"][0], chain["entries"][1]
    assert chain["device_id"] == "dev-3f9c2a71b5e04d18"
    assert first["change"] == example
    assert first["material"] == material
    assert len(material.encode()) == 241
    assert then["change"]["prev_hash"] == example["hash"]
    assert then["change"]["hash"] == second


def test_node_modules_pass_the_vectors() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (scripts/system-deps installs it)")
    tests = sorted(str(p.relative_to(REPO)) for p in APP_TESTS.glob("*.test.mjs"))
    assert tests
    done = subprocess.run(
        [node, "--test", *tests], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"^# fail 0$", done.stdout, re.M), done.stdout[-2000:]
