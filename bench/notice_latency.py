"""The notice part of bench/analysis.py: from posting a notice to an online phone having pulled it.

A real server (``uvicorn --workers 2`` on a SQLite file, so the post and the phone's wait may
land on different workers and the wake-up crosses processes through the last-sequence poll)
with one station, its chief and one officer's phone. For each round the phone holds
``GET /v1/sync/wait`` with its cursor; the chief posts a notice (``POST /v1/notices``); the
clock stops when the phone's wait has answered and its pull page holds the notice. The
figure is the median over the rounds, in milliseconds.

Run alone: .venv/bin/python -m bench.notice_latency [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.serve import free_port, wait_ready
from sync.identity import create_device_token
from sync.store.records import Officer, Station
from sync.store.sql import SQLStore

REPO = Path(__file__).resolve().parent.parent


async def _seed(url: str) -> tuple[str, str]:
    store = SQLStore(url)
    await store.open()
    try:
        await store.put_station(Station("st-1", "Comisaría 1", "150101"))
        await store.put_officer(Officer("chief-1", "Rosa Huamán", "chief", "st-1"))
        await store.put_officer(Officer("off-1", "Ana Quispe", "officer", "st-1"))
        _, chief = await create_device_token(store, "chief-1", "tableta", 0)
        _, phone = await create_device_token(store, "off-1", "Moto G", 0)
        return chief, phone
    finally:
        await store.close()


async def _round(http: httpx.AsyncClient, chief: str, phone: str, cursor: str) -> tuple[float, str]:
    waiting = asyncio.create_task(
        http.get(
            "/v1/sync/wait",
            params={"cursor": cursor, "timeout_s": 25},
            headers={"Authorization": f"Bearer {phone}"},
        )
    )
    await asyncio.sleep(0.3)  # the phone is waiting before the chief posts
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"text": "Moto roja sin placa", "category": "robo", "expires_at": expires}
    start = time.perf_counter()
    posted = await http.post("/v1/notices", json=body, headers={"Authorization": f"Bearer {chief}"})
    posted.raise_for_status()
    notice_id = posted.json()["notice"]["notice_id"]
    woke = await waiting
    assert woke.json()["changed"], woke.text
    page = await http.get(
        "/v1/sync/pull",
        params={"cursor": cursor, "limit": 500},
        headers={"Authorization": f"Bearer {phone}"},
    )
    ms = (time.perf_counter() - start) * 1000
    got = page.json()
    assert any(c.get("notice_id") == notice_id for c in got["changes"]), "not pulled"
    return ms, str(got["cursor"])


async def notice_p50_ms(rounds: int = 30, workers: int = 2) -> tuple[float, list[float]]:
    """Median ms from posting to the phone having pulled, and every round's figure."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        chief, phone = await _seed(url)
        port = free_port()
        env = {**os.environ, "RONDA_DATABASE__URL": url, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        command += ["--log-level", "warning"]
        with open(Path(tmp) / "server.log", "wb") as log:
            proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
            try:
                base = f"http://127.0.0.1:{port}"
                async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                    await wait_ready(http, proc, seconds=60)
                    auth = {"Authorization": f"Bearer {phone}"}
                    cursor = (await http.get("/v1/sync/pull", headers=auth)).json()["cursor"]
                    figures = []
                    for _ in range(rounds):
                        ms, cursor = await _round(http, chief, phone, cursor)
                        figures.append(ms)
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return statistics.median(figures), figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    p50, figures = asyncio.run(notice_p50_ms(args.rounds))
    print(f"load_average={' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"rounds={len(figures)} min_ms={min(figures):.0f} max_ms={max(figures):.0f}")
    print(f"notice_p50_ms={p50:.0f}")


if __name__ == "__main__":
    main()
