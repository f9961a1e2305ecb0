"""The officer app's JavaScript modules (server/static/app/js) run by node, for tests that
check what they compute against the server's rules."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

APP_JS = Path(__file__).resolve().parents[2] / "server" / "static" / "app" / "js"


def run_node(script: str) -> object:
    """The JSON that ``script`` (an ES module run in APP_JS) prints; skips without node."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=APP_JS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
