"""A/B timing of geocoding and placement on a shared machine: wall and CPU time.

The same calls as ``bench/geocode.py`` times (the 2,000 labelled demo addresses; two million
points spread like the incidents, best of three), with ``time.process_time`` beside the wall
clock, so an old and a new tree can be compared while other processes load the machine.
It imports ``fixtures`` and ``geo`` from the current directory, so it runs against any tree:

    git worktree add --detach /tmp/old <commit>
    (cd /tmp/old && /work/main/.venv/bin/python /work/main/bench/geocode_ab.py all)
    (cd /work/main && .venv/bin/python bench/geocode_ab.py all)

``--dump FILE`` pickles every answer (geocoder results, placement arrays) to check that two
trees answer alike.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.getcwd())

import numpy as np

from fixtures.city import load_city, load_labelled
from geo.geocode import Geocoder
from geo.placement.placer import Placer

N_POINTS = 2_000_000  # as bench/geocode.py


def _rates(fn: Callable[[], Any], n: int, repeat: int) -> tuple[float, float]:
    """(wall, CPU) items per second, each the best of ``repeat`` passes."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - w), min(cpu, time.process_time() - c)
    return n / wall, n / cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["geocode", "place", "all"])
    ap.add_argument("--dump", help="pickle every answer to this file")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    out: dict[str, Any] = {}
    city = load_city()
    print(f"tree {os.getcwd()}; load average {os.getloadavg()}")
    if a.what in ("geocode", "all"):
        g = Geocoder.from_city(city)
        lab = load_labelled()
        rows = list(zip(lab.text, lab.context_station.fillna(""), strict=True))
        res = [g.geocode(t, station=s or None) for t, s in rows]
        out["geocode"] = [(r.lon, r.lat, r.quality, r.confidence, r.components) for r in res]
        w, c = _rates(
            lambda: [g.geocode(t, station=s or None) for t, s in rows], len(rows), a.repeat
        )
        print(f"geocode_per_s wall={w:,.0f} cpu={c:,.0f}")
    if a.what in ("place", "all"):
        placer = Placer.from_layers(city.districts, city.stations, city.sectors, h3_resolution=9)
        rng = np.random.default_rng(42)
        pts = city.incidents.dropna(subset=["lon"])
        pick = rng.integers(0, len(pts), N_POINTS)
        lon = pts.lon.to_numpy()[pick] + rng.normal(0, 0.003, N_POINTS)
        lat = pts.lat.to_numpy()[pick] + rng.normal(0, 0.003, N_POINTS)
        p = placer.place(lon, lat)
        fields = ("district", "station", "sector", "h3_cell", "flag", "station_flag", "sector_flag")
        out["place"] = {k: getattr(p, k) for k in fields}
        w, c = _rates(lambda: placer.place(lon, lat), N_POINTS, a.repeat)
        print(f"place_per_s wall={w:,.0f} cpu={c:,.0f}")
        w, c = _rates(lambda: placer.place(lon, lat, with_h3=False), N_POINTS, a.repeat)
        print(f"  districts + stations + sectors wall={w:,.0f} cpu={c:,.0f}")
        w, c = _rates(lambda: placer.h3_cells(lon, lat), N_POINTS, a.repeat)
        print(f"  H3 alone wall={w:,.0f} cpu={c:,.0f}")
    if a.dump:
        with open(a.dump, "wb") as f:
            pickle.dump(out, f)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
