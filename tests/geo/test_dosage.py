"""Patrol minutes per cell, station and shift from GPS tracks."""

from __future__ import annotations

import h3
import numpy as np
import pytest

from geo.analysis.dosage import compute_dosage, shift_of
from geo.analysis.hotspots import HotspotResult, compute_hotspots
from geo.errors import BadParameterError, InvalidInputError

T0 = 1_735_707_600  # 2025-01-01 05:00 UTC = 00:00 in Lima


def _hotspots() -> HotspotResult:
    rng = np.random.default_rng(42)
    lon = np.concatenate([rng.uniform(-77.06, -77.00, 3000), rng.normal(-77.03, 0.001, 500)])
    lat = np.concatenate([rng.uniform(-12.08, -12.02, 3000), rng.normal(-12.05, 0.001, 500)])
    return compute_hotspots(lon, lat, np.zeros(lon.size), np.zeros(lon.size), resolution=9)


def test_shifts_in_lima_time() -> None:
    hours = np.array([0, 5, 6, 13, 14, 21, 22, 23])
    got = shift_of(T0 + hours * 3600, (6, 14, 22), -5 * 3600)
    assert got.tolist() == [2, 2, 0, 0, 1, 1, 2, 2]


def test_minutes_gaps_and_first_fix_rule() -> None:
    res = _hotspots()
    hot = (-77.03, -12.05)
    cold = (-77.058, -12.078)
    # officer A: 3 fixes at the hot spot 60 s apart, then 1 fix in the cold corner 120 s later,
    # then a 10-minute gap (ignored), then one more fix. Officer B: two fixes 4 min apart.
    t = T0 + 8 * 3600 + np.array([0, 60, 120, 240, 840, 0, 240])
    lon = np.array([hot[0]] * 3 + [cold[0], cold[0], hot[0], hot[0]])
    lat = np.array([hot[1]] * 3 + [cold[1], cold[1], hot[1], hot[1]])
    officer = np.array(["A"] * 5 + ["B"] * 2)
    station = np.array(["C1"] * 5 + ["C2"] * 2)
    order = np.random.default_rng(42).permutation(7)  # input order must not matter
    d = compute_dosage(
        officer[order], t[order], lon[order], lat[order], station[order], hotspots=res
    )
    hot_cell = h3.str_to_int(h3.latlng_to_cell(hot[1], hot[0], 9))
    a_hot = (d.cells == hot_cell) & (d.station == "C1")
    assert d.minutes[a_hot].sum() == pytest.approx(4.0)  # 60 + 60 + 120 s, from the first fix
    assert d.minutes[d.station == "C1"].sum() == pytest.approx(4.0)  # the 600 s gap is ignored
    assert d.minutes[d.station == "C2"].sum() == pytest.approx(4.0)
    assert set(d.shift.tolist()) == {0} and d.shift_names == ("06-14", "14-22", "22-06")
    assert d.gi_bin[a_hot][0] == res.gi_bin[np.searchsorted(res.cells, hot_cell)] == 3
    share = d.hot_share()
    assert share.tolist() == [1.0, 1.0]
    assert d.summary_minutes_by_bin.sum() == pytest.approx(8.0)


def test_outside_area_and_errors() -> None:
    res = _hotspots()
    t = T0 + 23 * 3600 + np.array([0, 120])
    d = compute_dosage(
        np.array([1, 1]),
        t,
        np.array([-76.0, -76.0]),
        np.array([-12.0, -12.0]),
        np.array(["C9", "C9"]),
        hotspots=res,
    )
    assert d.minutes.tolist() == [2.0] and not d.in_area[0] and d.gi_bin[0] == 0
    assert d.shift.tolist() == [2]
    empty = compute_dosage(
        np.array([1]), t[:1], np.array([-76.0]), np.array([-12.0]), np.array(["C9"]), hotspots=res
    )
    assert empty.minutes.size == 0
    with pytest.raises(InvalidInputError):
        compute_dosage(
            np.array([1]), t, np.zeros(2), np.zeros(2), np.array(["a"] * 2), hotspots=res
        )
    with pytest.raises(BadParameterError):
        compute_dosage(
            np.array([1]),
            t[:1],
            np.zeros(1),
            np.zeros(1),
            np.array(["a"]),
            hotspots=res,
            gap_cap_s=0,
        )


CITY = __import__("pathlib").Path(__file__).resolve().parents[2] / "fixtures" / "city"


@pytest.mark.skipif(
    not (CITY / "tracks.csv.gz").exists() or not (CITY / "officers.csv").exists(),
    reason="demo city tracks not generated yet",
)
def test_demo_city_tracks_match_an_independent_pandas_count() -> None:
    import pandas as pd

    tracks = pd.read_csv(CITY / "tracks.csv.gz")
    officers = pd.read_csv(CITY / "officers.csv")
    tracks = tracks.merge(officers[["id", "station_id"]], left_on="officer_id", right_on="id")
    ts = pd.to_datetime(tracks.timestamp, utc=True).dt.tz_localize(None)
    tracks["t"] = ts.to_numpy().astype("datetime64[s]").astype(np.int64)
    res = _hotspots()
    d = compute_dosage(
        tracks.officer_id.to_numpy(),
        tracks.t.to_numpy(),
        tracks.lon.to_numpy(float),
        tracks.lat.to_numpy(float),
        tracks.station_id.to_numpy(),
        hotspots=res,
    )
    tracks = tracks.sort_values(["officer_id", "t"])
    gap = tracks.groupby("officer_id").t.diff()
    tracks["min"] = np.where(gap.shift(-1).le(300), gap.shift(-1) / 60.0, 0.0)
    # the interval after a fix belongs to that fix; the officer's last fix has none
    last = tracks.officer_id.ne(tracks.officer_id.shift(-1))
    tracks.loc[last, "min"] = 0.0
    want = tracks.groupby("station_id")["min"].sum()
    got = pd.Series(d.minutes).groupby(d.station).sum()
    assert np.allclose(got.reindex(want.index).fillna(0).to_numpy(), want.to_numpy())
    assert d.summary_minutes_by_bin.sum() == pytest.approx(d.minutes.sum())
