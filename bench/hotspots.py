"""Benchmark: Gi* hotspots on one million incidents in a Lima-sized box, against esda.

The incidents are written into a real store (SQLite, the ``incident_point`` table that
placement fills on every push), then read back the way the server does it. Prints stage
timings, the esda comparison and a last line:

    cells=N gi_s=X esda_s=X speedup=X ehsa_s=X

gi_s: end to end, store -> Gi* classes (the database counts incidents per H3 cell for the
window, then study area, weights, Gi*, FDR, bins) — what /v1/analysis/hotspots does.
The same from numpy arrays (binning in Python) is printed too.
speedup: esda.G_Local(star=True, permutations=0) time / our Gi* step on the same cells and
weights (z-scores and normal p-values, like esda's analytic output).
ehsa_s: emerging hot spots over 52 weekly slices, end to end from the same arrays.

Run: .venv/bin/python -m bench.hotspots [--n 1000000] [--res 9] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from geo.analysis.emerging import WEEK_S, compute_emerging
from geo.analysis.hotspots import (
    cell_counts,
    compute_hotspots,
    gi_from_counts,
    gi_star,
    p_two_sided,
)
from geo.analysis.weights import kring_weights, study_cells
from geo.grid.cells import h3_bin, h3_cells_slow, make_spec, select

LON = (-77.19, -76.62)
LAT = (-12.52, -11.58)


def incidents(n: int, seed: int = 42) -> tuple[np.ndarray, ...]:
    """A Lima-like city: dense urban core of overlapping districts, sparse outskirts,
    40 hotspot clusters; 52 weeks of timestamps; 8 categories."""
    rng = np.random.default_rng(seed)
    n_cl, n_bg = n // 10, n // 50
    n_city = n - n_cl - n_bg
    centres = np.column_stack([rng.uniform(-77.10, -76.85, 25), rng.uniform(-12.25, -11.90, 25)])
    pick = rng.integers(0, 25, n_city)
    lon = centres[pick, 0] + rng.normal(0, 0.025, n_city)
    lat = centres[pick, 1] + rng.normal(0, 0.025, n_city)
    hot = np.column_stack([rng.uniform(-77.10, -76.85, 40), rng.uniform(-12.25, -11.90, 40)])
    pick = rng.integers(0, 40, n_cl)
    lon = np.concatenate([lon, hot[pick, 0] + rng.normal(0, 0.002, n_cl), rng.uniform(*LON, n_bg)])
    lat = np.concatenate([lat, hot[pick, 1] + rng.normal(0, 0.002, n_cl), rng.uniform(*LAT, n_bg)])
    keep = (lon > LON[0]) & (lon < LON[1]) & (lat > LAT[0]) & (lat < LAT[1])
    lon, lat = lon[keep], lat[keep]
    t0 = 1_727_000_000
    t = t0 + rng.integers(0, 52 * WEEK_S, lon.size)
    return lon, lat, t, rng.integers(0, 8, lon.size)


def best_of(fn, repeat: int) -> tuple[float, object]:
    """Smallest wall time of ``repeat`` runs (the machine is shared) and the last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def store_path(
    lon: np.ndarray, lat: np.ndarray, t: np.ndarray, cat: np.ndarray, res: int, repeat: int
) -> tuple[float, object, float]:
    """Seconds for store -> classes (best of ``repeat``), the result, and the load time."""
    import asyncio
    import tempfile

    from geo.analysis.hotspots import hotspots_from_cells
    from geo.grid.cells import CellSpec, h3_cells
    from sync.store.records import PointQuery
    from sync.store.sql import SQLStore

    cells = h3_cells(lon, lat, res)
    rows = [
        (f"i{i}", "st-1", f"c{c}", int(ts), float(x), float(y), None, None, int(h), False, i)
        for i, (x, y, ts, c, h) in enumerate(zip(lon, lat, t, cat, cells, strict=True))
    ]
    spec = CellSpec("h3", resolution=res)
    window = PointQuery(since_s=int(t.min()), until_s=int(t.max()) + 1)

    async def run() -> tuple[float, object, float]:
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLStore(f"sqlite+aiosqlite:///{tmp}/bench.db")
            await store.open()
            start = time.perf_counter()
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql(
                    "INSERT INTO incident_point (id, station_id, category, occurred_s, lon, lat,"
                    " district, sector, cell, deleted, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            load_s = time.perf_counter() - start
            best, out = np.inf, None
            for _ in range(repeat):
                start = time.perf_counter()
                counts = await store.cell_counts(window)
                out = hotspots_from_cells(counts["cell"], counts["count"], spec)
                best = min(best, time.perf_counter() - start)
            await store.close()
            return best, out, load_s

    return asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--res", type=int, default=9)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lon, lat, t, cat = incidents(args.n)
    print(f"incidents={lon.size} resolution={args.res} k=1 (k-ring weights, self included)")

    gi_s, res, load_s = store_path(lon, lat, t, cat, args.res, args.repeat)
    print(f"store: {lon.size} incident points written in {load_s:.1f} s (setup, not timed)")
    print(
        f"end to end (store -> classes): {gi_s:.3f} s; cells={res.cells.size} "  # type: ignore[attr-defined]
        f"(observed {int((res.counts > 0).sum())}, rule: {res.area_rule})"  # type: ignore[attr-defined]
    )
    arrays_s, res = best_of(
        lambda: compute_hotspots(lon, lat, t, cat, resolution=args.res), args.repeat
    )
    print(
        f"end to end (arrays -> classes): {arrays_s:.3f} s; cells={res.cells.size} "
        f"(observed {int((res.counts > 0).sum())}, rule: {res.area_rule})"
    )
    print(f"  classes: {dict(zip(*np.unique(res.gi_bin, return_counts=True), strict=True))}")

    # stage by stage
    spec = make_spec(lon, lat, resolution=args.res)
    stages = {
        "select": lambda: select(t, cat),
        "h3 binning (numpy path, distinct cells + inverse)": lambda: h3_bin(lon, lat, args.res),
    }
    for name, fn in stages.items():
        print(f"  {name}: {best_of(fn, args.repeat)[0]:.3f} s")
    obs, inv = h3_bin(lon, lat, args.res)
    slow_s, slow = best_of(lambda: h3_cells_slow(lon, lat, args.res), 1)
    same = bool(np.array_equal(slow, obs[inv]))
    print(f"  h3 binning, python loop over h3.latlng_to_cell: {slow_s:.3f} s (identical: {same})")
    area_s, (cells, _) = best_of(lambda: study_cells(obs, spec, "ring", 1), args.repeat)
    print(f"  study area (observed cells + 1-ring): {area_s:.3f} s")
    cnt_s, (counts, _) = best_of(lambda: cell_counts(obs, inv, cells), args.repeat)
    print(f"  counts: {cnt_s:.3f} s")
    w_s, w = best_of(lambda: kring_weights(cells, spec, 1), args.repeat)
    print(f"  k-ring weights (lattice neighbours, sparse CSR): {w_s:.3f} s")

    def gi_step() -> tuple[np.ndarray, np.ndarray]:
        z = gi_star(counts, w)
        return z, p_two_sided(z)

    ours_s, z = best_of(gi_step, args.repeat)
    full_s, _ = best_of(lambda: gi_from_counts(counts, w), args.repeat)
    print(f"  Gi* z + p: {ours_s:.4f} s; with BH FDR and bins: {full_s:.4f} s")

    import esda
    from libpysal.weights import WSP

    w0 = w.copy()
    w0.setdiag(0)
    w0.eliminate_zeros()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_s, pw = best_of(lambda: WSP(w0).to_W(silence_warnings=True), 1)
        y = counts.astype(np.float64)
        esda_s, g = best_of(
            lambda: esda.G_Local(y, pw, transform="B", star=True, permutations=0), args.repeat
        )
    diff = float(np.nanmax(np.abs(g.Zs - z[0])))
    print(
        f"esda: libpysal W from our sparse matrix {build_s:.3f} s; "
        f"G_Local(star=True, permutations=0, transform='B') {esda_s:.3f} s; "
        f"max |z - esda Zs| = {diff:.2e}"
    )
    speedup = esda_s / ours_s

    ehsa_s, em = best_of(
        lambda: compute_emerging(lon, lat, t, cat, resolution=args.res, n_slices=52), 1
    )
    names, n_per = np.unique(em.pattern_names(), return_counts=True)
    print(
        f"emerging hot spots, 52 weekly slices: {ehsa_s:.3f} s; "
        f"{dict(zip(names.tolist(), n_per.tolist(), strict=True))}"
    )
    print(
        f"cells={res.cells.size} gi_s={gi_s:.3f} esda_s={esda_s:.3f} "
        f"speedup={speedup:.1f} ehsa_s={ehsa_s:.3f}"
    )


if __name__ == "__main__":
    main()
