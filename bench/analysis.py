"""Benchmark: near repeats (Knox) on 100,000 incidents, and CompStat for one station.

near_repeat_s: ``geo.analysis.near_repeat.knox_test`` end to end (projected points -> close pairs ->
99 permutations -> table, ratios, p-values) on 100,000 incidents of the demo city's
geography: its placed incidents plus the near-repeat plant, topped up to 100,000 by
resampling them with a 50 m jitter and a random day of the year. Bands 5 x 100 m and
5 x 7 days (the NRC's usual burglary settings). The compilation of the loops (numba, once
per install: cached on disk) is timed apart and not included.

compstat_ms: the whole CompStat report of one station through a real server
(``bench.compstat_report``: ``GET /v1/analysis/compstat`` by the chief of the demo city's
busiest station: counts of the nine windows, hot places with streets and sectors, patrol
hours and kilometres, PAI), the median of 9 reports for dates a week apart, none answered
from a cache. The counting query alone (``counts_by_category`` over the nine windows, best
of 5, on the ``incident_point`` rows) is printed too; until 2026-12-03 evening it was the
figure.

notice_p50_ms: the median over 30 rounds of the time from posting a notice to an online
phone (waiting on ``GET /v1/sync/wait``) having pulled it, through a real two-worker server
(``bench.notice_latency``). The load average is printed with it: the machine is shared.

Last line: ``near_repeat_s=X compstat_ms=X notice_p50_ms=X``

Run: .venv/bin/python -m bench.analysis [--n 100000] [--permutations 99]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import tempfile
import time

import numpy as np
import pandas as pd

from bench.compstat_report import compstat_report_ms
from bench.notice_latency import notice_p50_ms
from fixtures.city import load_city
from fixtures.gen_near_repeat import with_near_repeats
from geo.analysis.compstat import comparisons
from geo.analysis.near_repeat import KnoxBands, knox_test, lima_day
from geo.grid.cells import project, utm_epsg


def epoch_s(iso: pd.Series) -> np.ndarray:
    when = pd.to_datetime(iso, utc=True) - pd.Timestamp(0, tz="UTC")
    return (when // pd.Timedelta(seconds=1)).to_numpy().astype(np.int64)


def incidents(n: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y (metres, UTM 18S) and Lima day numbers of ``n`` incidents."""
    frame, _ = with_near_repeats(load_city())
    frame = frame[frame.lon.notna()]
    lon, lat = frame.lon.to_numpy(), frame.lat.to_numpy()
    x, y = project(lon, lat, utm_epsg(lon, lat))
    day = lima_day(epoch_s(frame.occurred_at))
    extra = max(0, n - x.size)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, x.size, extra)
    x = np.concatenate([x, x[pick] + rng.normal(0, 50, extra)])[:n]
    y = np.concatenate([y, y[pick] + rng.normal(0, 50, extra)])[:n]
    day = np.concatenate([day, rng.integers(day.min(), day.max() + 1, extra)])[:n]
    return x, y, day


def near_repeat(n: int, permutations: int) -> float:
    x, y, day = incidents(n)
    bands = KnoxBands(100, 5, 7, 5)
    start = time.perf_counter()
    knox_test(x[:2000], y[:2000], day[:2000], bands, 19, 1)  # compile (or load the cache)
    print(f"compile_or_load_s={time.perf_counter() - start:.2f}")
    start, cpu = time.perf_counter(), time.process_time()
    result = knox_test(x, y, day, bands, permutations, 42)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"incidents={result.n_events} close_pairs={result.n_close_pairs}"
        f" seconds={seconds:.2f} cpu_seconds={cpu:.2f} (all threads)"
    )
    for r, label in enumerate(result.space_labels[:3]):
        ratios = " ".join(f"{v:5.2f}" for v in result.knox_ratio[r])
        print(f"  {label:>14}: knox ratio {ratios}  p {result.p_value[r].round(2).tolist()}")
    return seconds


async def compstat_ms(repeat: int = 5) -> tuple[float, str, int]:
    from server.routes.analysis_queries import counts_by_category
    from sync.store.records import PointQuery
    from sync.store.sql import SQLStore

    city = load_city().incidents
    seconds = epoch_s(city.occurred_at)
    rows = [
        (str(i), str(s), str(c), int(t), None, None, None, None, None, False, k)
        for k, (i, s, c, t) in enumerate(
            zip(city.id, city.station_id, city.category, seconds, strict=True)
        )
    ]
    station = str(city.station_id.value_counts().index[0])
    last = dt.datetime.fromtimestamp(int(seconds.max()), dt.UTC).date()
    windows = [
        (s.start_s, s.end_s)
        for p in comparisons(last)
        for s in (p.current, p.previous, p.last_year)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await store.open()
        try:
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql(
                    "INSERT INTO incident_point (id, station_id, category, occurred_s, lon, lat,"
                    " district, sector, cell, deleted, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            best = np.inf
            for _ in range(repeat):
                start = time.perf_counter()
                await counts_by_category(store, PointQuery((station,)), windows)
                best = min(best, time.perf_counter() - start)
        finally:
            await store.close()
    station_rows = int((city.station_id == station).sum())
    return best * 1000, station, station_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--permutations", type=int, default=99)
    args = ap.parse_args()
    nr_s = near_repeat(args.n, args.permutations)
    query_ms, station, n_station = asyncio.run(compstat_ms())
    print(f"compstat query station={station} incidents={n_station} best_of_5_ms={query_ms:.1f}")
    ms, facts = asyncio.run(compstat_report_ms())
    print("compstat report " + " ".join(f"{k}={v}" for k, v in facts.items()))
    notice_ms, rounds = asyncio.run(notice_p50_ms())
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"notice rounds={len(rounds)} max_ms={max(rounds):.0f} load_average={load}")
    print(f"near_repeat_s={nr_s:.2f} compstat_ms={ms:.0f} notice_p50_ms={notice_ms:.0f}")


if __name__ == "__main__":
    main()
