"""Geocoder and placement benchmark on the demo city and on a real OpenStreetMap extract.

Run: ``.venv/bin/python -m bench.geocode``. Prints accuracy on the demo city's labelled
address set (``fixtures/labelled/addresses.csv``) and on the set drawn from the real Helsinki
extract (``fixtures/osm_extract.py``), geocoding throughput, OSM import speed and memory, and
placement throughput; the last line is ``match_50m=X precision_conf90=X osm_match_50m=X
osm_precision_conf90=X geocode_per_s=N osm_import_mb_s=X place_per_s=N``.

- match_50m: share of existing addresses placed within 50 m of the truth.
- precision_conf90: among answers with confidence >= 0.9, the share within 100 m of the truth
  (an answer for an address that does not exist counts as wrong).
- geocode_per_s: addresses per second, one thread, best of three passes over the set.
- osm_match_50m / osm_precision_conf90: the same measures on the Helsinki set (held-out
  address points and intersections of the real street graph, expected answers from the
  extract); the stricter variant (every point of a held-out address removed) is printed
  above.
- osm_import_mb_s: the extract's size over the whole ``import_osm`` time (read, streets,
  cuadras, layers); the read pass alone and the peak RSS are printed above.
- place_per_s: points per second for the whole placement a push does (district, station,
  sector and H3 cell: ``Placer.place``); the district step alone is printed above it.
  Measured on two million points spread like the incidents, best of three.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from fixtures.city import load_city, load_labelled
from fixtures.osm_extract import helsinki_pbf, labelled_set
from geo.boundaries import haversine_m
from geo.geocode import Geocoder
from geo.osm.build import import_osm
from geo.placement.placer import Placer

N_POINTS = 2_000_000


def _best_rate(fn: object, n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return n / best


def geocode_figures(geocoder: Geocoder, lab: pd.DataFrame) -> dict[str, float]:
    """Accuracy figures on the labelled set, printed per form on the way."""
    rows = list(zip(lab.text, lab.context_station.fillna(""), strict=True))
    res = [geocoder.geocode(t, station=s or None) for t, s in rows]
    lon = np.array([np.nan if r.lon is None else r.lon for r in res])
    lat = np.array([np.nan if r.lat is None else r.lat for r in res])
    conf = np.array([r.confidence for r in res])
    dist = haversine_m(lab.lon.to_numpy(), lab.lat.to_numpy(), lon, lat)
    exists = lab.exists.to_numpy() == 1
    within50 = np.nan_to_num(dist, nan=np.inf) <= 50
    within100 = np.nan_to_num(dist, nan=np.inf) <= 100
    confident = conf >= 0.9
    print(f"labelled addresses: {len(lab)} ({exists.sum()} exist, {(~exists).sum()} do not)")
    for form in sorted(lab.form.unique()):
        m = (lab.form == form).to_numpy()
        if form == "missing":
            print(f"  {form:<13} n={m.sum():4d}  confident (>=0.9): {(confident & m).sum()}")
        else:
            print(
                f"  {form:<13} n={m.sum():4d}  within 50 m: {within50[m].mean():.3f}"
                f"  confident: {confident[m].mean():.3f}"
            )
    quality = pd.Series([r.quality for r in res]).value_counts().to_dict()
    print(f"qualities: {quality}")
    bins = pd.cut(conf[exists], [-0.01, 0.3, 0.6, 0.9, 1.0])
    calib = pd.Series(within100[exists]).groupby(bins, observed=True).agg(["mean", "size"])
    print("calibration (existing addresses, share within 100 m by confidence):")
    print(calib.round(3).to_string())
    return {
        "match_50m": float(within50[exists].mean()),
        "precision_conf90": float((within100 & exists)[confident].mean()),
        "confident_nonexisting": int((confident & ~exists).sum()),
        "geocode_per_s": _best_rate(
            lambda: [geocoder.geocode(t, station=s or None) for t, s in rows], len(rows)
        ),
    }


def place_figures(placer: Placer, incidents: pd.DataFrame) -> dict[str, float]:
    """Placement throughput on points spread like the incidents (plus 300 m jitter)."""
    rng = np.random.default_rng(42)
    pts = incidents.dropna(subset=["lon"])
    pick = rng.integers(0, len(pts), N_POINTS)
    lon = pts.lon.to_numpy()[pick] + rng.normal(0, 0.003, N_POINTS)
    lat = pts.lat.to_numpy()[pick] + rng.normal(0, 0.003, N_POINTS)
    district = _best_rate(lambda: placer.districts.assign(lon, lat), N_POINTS)
    layers = _best_rate(lambda: placer.place(lon, lat, with_h3=False), N_POINTS)
    k = 500_000
    h3rate = _best_rate(lambda: placer.h3_cells(lon[:k], lat[:k]), k, repeat=2)
    full = _best_rate(lambda: placer.place(lon, lat), N_POINTS)
    flags = pd.Series(placer.place(lon[:k], lat[:k], with_h3=False).flag).value_counts().to_dict()
    print(
        f"placement of {N_POINTS:,} points: district step {district:,.0f}/s; districts + stations"
        f" + sectors {layers:,.0f}/s; H3 res {placer.h3_resolution} {h3rate:,.0f}/s;"
        f" everything (what a push does) {full:,.0f}/s; flags {flags}"
    )
    # The last line reports the whole placement of a push (issue 17), not the district step.
    return {"place_per_s": full}


def osm_figures() -> dict[str, float]:
    """Import the real extract, then the labelled set drawn from it (see the module doc)."""
    path = helsinki_pbf()
    imp = import_osm(path)
    f = imp.figures
    print(f"OSM import of {path.name}: {imp.summary()}")
    print(
        f"  read pass {f['mb'] / f['read_seconds']:.2f} MB/s; whole import"
        f" {f['mb_s']:.2f} MB/s; peak RSS of this process so far {f['peak_rss_mb']:.0f} MB"
    )
    out: dict[str, float] = {"osm_import_mb_s": f["mb_s"]}
    for strict in (True, False):
        lab, held = labelled_set(whole_address=strict)
        geocoder = imp.geocoder(without=held)
        res = [geocoder.geocode(t) for t in lab.text]
        lon = np.array([np.nan if r.lon is None else r.lon for r in res])
        lat = np.array([np.nan if r.lat is None else r.lat for r in res])
        dist = np.nan_to_num(haversine_m(lab.lon.to_numpy(), lab.lat.to_numpy(), lon, lat), nan=1e9)
        conf = np.array([r.confidence for r in res])
        name = "whole addresses held out" if strict else "address points held out"
        print(f"OSM labelled set ({name}): {len(lab)} rows, {len(held)} points left out")
        for form in ("address", "intersection"):
            m = (lab.form == form).to_numpy()
            src = pd.Series([res[i].components.get("source") for i in np.flatnonzero(m)])
            print(
                f"  {form:<13} n={m.sum():4d}  within 50 m: {(dist[m] <= 50).mean():.3f}"
                f"  confident: {(conf[m] >= 0.9).mean():.3f}"
                f"  sources {src.value_counts().to_dict()}"
            )
        confident = conf >= 0.9
        prec = float((dist[confident] <= 100).mean()) if confident.any() else float("nan")
        print(f"  all: within 50 m {(dist <= 50).mean():.3f}; precision at conf >= 0.9 {prec:.4f}")
        if not strict:
            out["osm_match_50m"] = float((dist <= 50).mean())
            out["osm_precision_conf90"] = prec
            texts = list(lab.text)
            rate = _best_rate(lambda g=geocoder, ts=texts: [g.geocode(t) for t in ts], len(texts))
            print(f"  geocoding on the extract: {rate:,.0f} addresses/s")
    return out


def main() -> None:
    """Run both benchmarks and print the figures."""
    print(f"load average (1, 5, 15 min) at start: {os.getloadavg()}; nproc {os.cpu_count()}")
    o = osm_figures()  # first: its peak RSS is then the import's, not the demo city's
    t = time.perf_counter()
    city = load_city()
    geocoder = Geocoder.from_city(city)
    placer = Placer.from_layers(city.districts, city.stations, city.sectors, h3_resolution=9)
    print(
        f"set-up (load city, gazetteer, placer): {time.perf_counter() - t:.1f} s;"
        f" {len(city.streets):,} street segments, {len(city.lotes):,} lotes,"
        f" {len(city.landmarks)} landmarks, {len(city.districts)} districts,"
        f" {len(city.sectors)} sectors"
    )
    g = geocode_figures(geocoder, load_labelled())
    p = place_figures(placer, city.incidents)
    print(f"confident answers for addresses that do not exist: {g['confident_nonexisting']}")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(
        f"match_50m={g['match_50m']:.4f} precision_conf90={g['precision_conf90']:.4f}"
        f" osm_match_50m={o['osm_match_50m']:.4f}"
        f" osm_precision_conf90={o['osm_precision_conf90']:.4f}"
        f" geocode_per_s={g['geocode_per_s']:.0f} osm_import_mb_s={o['osm_import_mb_s']:.2f}"
        f" place_per_s={p['place_per_s']:.0f}"
    )


if __name__ == "__main__":
    main()
