"""The CompStat part of bench/analysis.py: the whole report of one station, over HTTP.

A real server (uvicorn, one worker, a SQLite file) holding the whole demo city as
``ronda demo`` loads it (its incidents and its officers' patrol positions, pushed through the
sync engine). The station chief asks ``GET /v1/analysis/compstat`` for their station: the
counts of the nine windows, the hot places with their streets and sectors (two Gi* maps),
patrol hours and kilometres by sector and shift with the time in the previous map's hot
cells, and the PAI. The figure is the median over ``--reports`` reports for different dates
a week apart, so each one computes its own Gi* maps and patrol table: no answer is reused
from a cache. The first request is printed apart and not counted: it builds the
streets-and-sectors index that every later report of the process reuses (a server does that
once after it starts). A repeat of the last date, answered from the analysis cache, is
printed too, for comparison.

Run alone: .venv/bin/python -m bench.compstat_report [--reports 9]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.serve import free_port, wait_ready
from server.demo import load_demo
from sync.engine import SyncEngine
from sync.identity import create_device_token
from sync.store.sql import SQLStore

REPO = Path(__file__).resolve().parent.parent


async def _seed(url: str) -> tuple[str, dt.date]:
    """The demo city in a new store: a token of the chief of the busiest station, and the
    day of that station's last incident."""
    from fixtures.city import load_city

    city = load_city()
    station = str(city.incidents.station_id.value_counts().index[0])
    chiefs = city.officers[(city.officers.role == "chief") & (city.officers.station_id == station)]
    last = str(city.incidents[city.incidents.station_id == station].occurred_at.max())
    store = SQLStore(url)
    await store.open()
    try:
        await load_demo(store, SyncEngine(store))
        _, token = await create_device_token(store, str(chiefs.id.iloc[0]), "bench", 0)
    finally:
        await store.close()
    return token, dt.datetime.fromisoformat(last.replace("Z", "+00:00")).date()


async def _report_ms(
    http: httpx.AsyncClient, token: str, day: dt.date
) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    answer = await http.get(
        "/v1/analysis/compstat",
        params={"date": day.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    )
    ms = (time.perf_counter() - start) * 1000
    answer.raise_for_status()
    return ms, answer.json()


async def compstat_report_ms(reports: int = 9) -> tuple[float, dict[str, object]]:
    """Median ms of a whole station report, and what else was seen."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        seeded = time.perf_counter()
        token, last_day = await _seed(url)
        seed_s = time.perf_counter() - seeded
        port = free_port()
        env = {**os.environ, "RONDA_DATABASE__URL": url, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        with open(Path(tmp) / "server.log", "wb") as log:
            proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", timeout=120
                ) as http:
                    await wait_ready(http, proc, seconds=120)
                    me = await http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
                    station = str(me.json()["station_id"])
                    # Not counted: the first report builds the process's place index.
                    first_day = last_day - dt.timedelta(days=7 * (reports + 1))
                    first_ms, _ = await _report_ms(http, token, first_day)
                    figures, seen = [], {}
                    for k in range(reports):
                        day = last_day - dt.timedelta(days=7 * k)
                        ms, body = await _report_ms(http, token, day)
                        figures.append(ms)
                        if k == 0:
                            seen = body
                    cached_ms, _ = await _report_ms(http, token, last_day)
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    patrol = seen.get("patrol") or {}
    rows = patrol.get("rows") if isinstance(patrol, dict) else None
    facts: dict[str, object] = {
        "station": station,
        "seed_s": round(seed_s, 1),
        "first_ms": round(first_ms),
        "cached_ms": round(cached_ms, 1),
        "figures_ms": [round(f) for f in figures],
        "hot_places": len(seen.get("hot_places") or []),
        "patrol_rows": len(rows) if isinstance(rows, list) else None,
        "pai": (seen.get("pai") or {}).get("pai") if isinstance(seen.get("pai"), dict) else None,
    }
    return statistics.median(figures), facts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=9)
    args = ap.parse_args()
    ms, facts = asyncio.run(compstat_report_ms(args.reports))
    print(f"load_average={' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(" ".join(f"{k}={v}" for k, v in facts.items()))
    print(f"compstat_ms={ms:.0f}")


if __name__ == "__main__":
    main()
