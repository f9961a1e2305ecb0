"""schemathesis, written from the served /openapi.json alone, against a real uvicorn.

For every role and anonymously, in a bounded run (25 examples per operation, a fixed seed):
no 5xx, every answer valid against its schema, every status code documented. A failure here
means the spec and the server disagree, or the server breaks on input the spec allows.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync.clock import HybridClock
from tests.server_process import REPO, ServerProcess, seed_database
from tests.support import batch, incident, log_entry, new_id

Server = tuple[ServerProcess, dict[str, str], Path]  # the process, its tokens, its folder

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"
REVOKE = "/v1/admin/devices/{device_id}/revoke"
# The admin runs last and without revocation (its fuzzing revokes the devices it lists,
# its own included); revocation gets a run of its own at the very end.
IDENTITIES = ["anonymous", "off-a", "chief-a", "analyst", "admin", "admin-revoke"]


async def _some_data(base_url: str, tokens: dict[str, str]) -> None:
    """Incidents with and without personal data, and a patrol log, so layers have content."""
    rng, clock = random.Random(42), HybridClock()
    changes = []
    for i in range(120):
        fields = {
            "category": rng.choice(["robo", "hurto", "violencia_familiar"]),
            "occurred_at": f"2026-11-{1 + i % 28:02d}T22:15:00-05:00",
            "location": {
                "lon": -77.03 + rng.uniform(-0.01, 0.01),
                "lat": -12.05 + rng.uniform(-0.01, 0.01),
                "accuracy_m": 12,
            },
        }
        pii = {"victims": [{"name": "María Torres", "age": 34}]} if i % 10 == 0 else None
        changes.append(incident(new_id(), clock, fields, pii=pii))
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        auth = {"Authorization": f"Bearer {tokens['off-a']}"}
        me = (await http.get("/v1/me", headers=auth)).json()
        changes.append(log_entry(me["device_id"], 1, "", clock))
        answer = await http.post("/v1/sync/push", json=batch(changes), headers=auth)
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import asyncio

    tmp = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite+aiosqlite:///{tmp / 'ronda.db'}"
    tokens = asyncio.run(seed_database(url)).tokens
    proc = ServerProcess(url, tmp / "logs")
    asyncio.run(proc.start())
    asyncio.run(_some_data(proc.base_url, tokens))
    yield proc, tokens, tmp
    asyncio.run(proc.stop())


@pytest.mark.parametrize("who", IDENTITIES)
def test_schemathesis_finds_nothing(server: Server, who: str) -> None:
    proc, tokens, tmp = server
    st = Path(sys.executable).with_name("st")
    command = [
        str(st),
        "run",
        f"{proc.base_url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        "25",
        "--seed",
        "42",
        "--phases",
        "examples,fuzzing",
        "--workers",
        "2",
        "--generation-database",
        "none",
        "--no-color",
        "--request-timeout",
        "30",
    ]
    officer = who.removesuffix("-revoke")
    if officer != "anonymous":
        command += ["--header", f"Authorization: Bearer {tokens[officer]}"]
    if who == "admin":
        command += ["--exclude-path", REVOKE]
    elif who == "admin-revoke":
        command += ["--include-path", REVOKE]
    # The hooks teach schemathesis the tus upload body (application/offset+octet-stream).
    hooks = {"SCHEMATHESIS_HOOKS": "tests.server.schemathesis_hooks", "PYTHONPATH": str(REPO)}
    env = {**os.environ, **hooks}
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp, check=False, env=env
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    counts = re.search(r"^\s*(\d+) generated, (\d+) passed\s*$", run.stdout, re.MULTILINE)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 0, report
    assert "Traceback" not in proc.logs(), proc.logs()[-4000:]
