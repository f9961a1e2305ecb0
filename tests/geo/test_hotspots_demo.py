"""The demo city's planted hotspots must come out (fixtures/city/truth.json).

Each plant is analysed in its own category and active window, like an analyst would.
Plant cells: cells whose centre lies within the plant's radius, plus the cell holding its
centre. Background cells: centre farther than radius + 2 cell spacings (the k-ring reach)
from every plant.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3i
import numpy as np
import pytest

from geo.analysis.emerging import compute_emerging
from geo.analysis.hotspots import HotspotResult, compute_hotspots
from geo.grid.cells import cell_centres

CITY = Path(__file__).resolve().parents[2] / "fixtures" / "city"
pytestmark = pytest.mark.skipif(
    not (CITY / "truth.json").exists() or not (CITY / "incidents.csv.gz").exists(),
    reason="demo city not generated yet (fixtures/city/truth.json)",
)
EMERGING_OK = {"new hot spot", "consecutive hot spot", "intensifying hot spot"}
FADING_OK = {"fading hot spot", "historical hot spot", "diminishing hot spot"}


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


@pytest.fixture(scope="module")
def city() -> dict[str, Any]:
    import pandas as pd

    df = pd.read_csv(CITY / "incidents.csv.gz").dropna(subset=["lon", "lat"])
    t = pd.to_datetime(df.occurred_at, utc=True).dt.tz_localize(None)
    cats, code = np.unique(df.category.to_numpy(), return_inverse=True)
    return {
        "lon": df.lon.to_numpy(float),
        "lat": df.lat.to_numpy(float),
        "t": t.to_numpy().astype("datetime64[s]").astype(np.int64),
        "code": code,
        "cats": cats,
        "truth": json.loads((CITY / "truth.json").read_text()),
    }


def _dist_m(lon: np.ndarray, lat: np.ndarray, plant: dict[str, Any]) -> np.ndarray:
    c = plant["centre"]
    dx = (lon - c["lon"]) * 111_320 * np.cos(np.radians(c["lat"]))
    metres: np.ndarray = np.hypot(dx, (lat - c["lat"]) * 110_540)
    return metres


def test_planted_cells_hot_and_background_quiet(city: dict[str, Any]) -> None:
    plant_hot, plant_n, bg_hot, bg_n = 0, 0, 0, 0
    for p in city["truth"]:
        cat = int(np.searchsorted(city["cats"], p["category"]))
        window = (_epoch(p["start"]), _epoch(p["end"]))
        res = compute_hotspots(
            city["lon"], city["lat"], city["t"], city["code"], window=window, categories=[cat]
        )
        lon, lat = cell_centres(res.cells, res.spec)
        centre = h3i.latlng_to_cell(p["centre"]["lat"], p["centre"]["lon"], res.spec.resolution)
        inside = (_dist_m(lon, lat, p) <= p["radius_m"]) | (res.cells == centre)
        reach = 2 * np.sqrt(3) * h3i.average_hexagon_edge_length(res.spec.resolution, "m")
        far = np.all([_dist_m(lon, lat, q) > q["radius_m"] + reach for q in city["truth"]], 0)
        plant_hot += int((res.gi_bin[inside] >= 2).sum())
        plant_n += int(inside.sum())
        bg_hot += int((res.gi_bin[far] >= 2).sum())
        bg_n += int(far.sum())
    assert plant_n >= len(city["truth"])
    assert plant_hot / plant_n >= 0.90
    assert bg_hot / bg_n <= 0.05


def _patterns(city: dict[str, Any], time_k: int) -> dict[str, tuple[str, float]]:
    end = max(_epoch(p["end"]) for p in city["truth"])
    out = {}
    for p in city["truth"]:
        cat = int(np.searchsorted(city["cats"], p["category"]))
        res = compute_emerging(
            city["lon"],
            city["lat"],
            city["t"],
            city["code"],
            end=end,
            n_slices=52,
            categories=[cat],
            resolution=9,
            time_k=time_k,
        )
        cell = h3i.latlng_to_cell(p["centre"]["lat"], p["centre"]["lon"], 9)
        i = int(np.searchsorted(res.cells, cell))
        out[p["id"]] = (str(res.pattern_names()[i]), float(res.mk_z[i]))
    return out


def test_emerging_and_fading_plants_get_their_categories(city: dict[str, Any]) -> None:
    kinds = {p["id"]: p["kind"] for p in city["truth"]}
    # same-slice neighbours only (time_k=0): every fading plant fading/historical/diminishing,
    # and at least 3 of 4 emerging plants new/consecutive/intensifying (see docs/hotspots.md
    # for the one that is "sporadic": its cell was an on-and-off hurto hot spot before)
    got = _patterns(city, time_k=0)
    emerging = [got[i] for i, k in kinds.items() if k == "emerging"]
    fading = [got[i] for i, k in kinds.items() if k == "fading"]
    steady = [got[i] for i, k in kinds.items() if k == "steady"]
    assert all(name in FADING_OK for name, _ in fading), fading
    assert sum(name in EMERGING_OK for name, _ in emerging) >= len(emerging) - 1, emerging
    # every emerging plant is hot at the end with a rising trend, every fading one falling
    assert all(name.endswith("hot spot") and mk > 1.96 for name, mk in emerging), emerging
    assert all(mk < -1.96 for _, mk in fading), fading
    assert all(
        name in {"persistent hot spot", "intensifying hot spot", "diminishing hot spot"}
        for name, _ in steady
    ), steady


def _recovery(
    city: dict[str, Any], res: HotspotResult, plants: list[dict[str, Any]]
) -> tuple[int, int, int, int, int]:
    """(plants whose centre cell is hot, plant cells hot, plant cells, background cells hot,
    background cells) at 95 %, as in the hinted test."""
    lon, lat = cell_centres(res.cells, res.spec)
    reach = 2 * np.sqrt(3) * h3i.average_hexagon_edge_length(res.spec.resolution, "m")
    far = np.all([_dist_m(lon, lat, q) > q["radius_m"] + reach for q in city["truth"]], 0)
    centres_hot, plant_hot, plant_n = 0, 0, 0
    for p in plants:
        centre = h3i.latlng_to_cell(p["centre"]["lat"], p["centre"]["lon"], res.spec.resolution)
        inside = (_dist_m(lon, lat, p) <= p["radius_m"]) | (res.cells == centre)
        centres_hot += int((res.gi_bin[res.cells == centre] >= 2).any())
        plant_hot += int((res.gi_bin[inside] >= 2).sum())
        plant_n += int(inside.sum())
    return centres_hot, plant_hot, plant_n, int((res.gi_bin[far] >= 2).sum()), int(far.sum())


@pytest.mark.parametrize("days", [90, 365])
def test_planted_hotspots_found_with_no_hints(city: dict[str, Any], days: int) -> None:
    """The analyst's default view: every category at once, the last ``days`` days of data,
    automatic resolution. No plant's category or window is handed over.

    Measured on the committed city (2026-12). 90 days (the map's default window), resolution
    9 chosen: 9 of 9 active plants have their centre cell hot, 14 of 14 plant cells hot, 33 of
    1,589 background cells hot (2.1 %). 365 days, resolution 10 chosen: 12 of 12 centres,
    109 of 132 plant cells (83 %, against >= 90 % when each plant is analysed in its own
    category and window), 3 of 6,235 background cells. The bounds below are what we claim.
    """
    end = int(city["t"].max()) + 1
    window = (end - days * 86_400, end)
    res = compute_hotspots(
        city["lon"], city["lat"], city["t"], np.zeros(city["t"].size, dtype=np.int64), window=window
    )
    active = [p for p in city["truth"] if _epoch(p["start"]) < end and _epoch(p["end"]) > window[0]]
    centres_hot, plant_hot, plant_n, bg_hot, bg_n = _recovery(city, res, active)
    assert len(active) == (9 if days == 90 else 12)
    assert centres_hot == len(active)
    assert plant_hot / plant_n >= 0.8
    assert bg_hot / bg_n <= 0.03
