"""The committed demo city: shape of its layers, incidents, truth, and absence of real PII."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from fixtures.city import INCIDENT_COLUMNS, City, load_city


@pytest.fixture(scope="module")
def city() -> City:
    return load_city()


def test_layers(city: City) -> None:
    assert 38 <= len(city.districts) <= 45
    assert city.districts.code.str.fullmatch(r"1501\d\d").all()
    assert (city.districts.population > 0).all()
    assert city.districts.geometry.is_valid.all()
    per_district = city.stations.groupby("district_code").size()
    assert per_district.between(1, 2).all() and len(per_district) == len(city.districts)
    per_station = city.sectors.groupby("station_code").size()
    assert per_station.between(1, 6).all()
    assert set(city.streets.street_type) == {"Av.", "Jr.", "Ca.", "Psje.", "Prol."}
    assert (city.streets.from_right % 2 == 0).all() and (city.streets.from_left % 2 == 1).all()
    assert len(city.lotes) > 1000 and set(city.landmarks.kind) >= {
        "mercado",
        "colegio",
        "comisaria",
    }
    assert set(city.officers.role) == {"officer", "chief", "analyst", "admin"}
    assert city.devices.officer_id.isin(city.officers.id).all()


def test_incidents(city: City) -> None:
    inc = city.incidents
    assert tuple(inc.columns) == INCIDENT_COLUMNS
    assert 50_000 <= len(inc) <= 100_000 and inc.id.is_unique
    assert inc.occurred_at.str.endswith("Z").all()
    t = pd.to_datetime(inc.occurred_at)
    assert (t.max() - t.min()).days >= 360
    addr = inc[inc.source == "address"]
    assert len(addr) > 0 and addr.lon.isna().all() and (addr.address_text.str.len() > 5).all()
    assert inc.station_id.notna().mean() > 0.999
    # daily rhythm: robbery peaks in the evening (Lima = UTC-5)
    local_hour = (t[inc.category == "robo"].dt.hour - 5) % 24
    assert local_hour.between(18, 23).mean() > 2 * local_hour.between(2, 7).mean()


def test_truth_matches_planted_incidents(city: City) -> None:
    kinds = {p["kind"] for p in city.truth}
    assert kinds == {"steady", "emerging", "fading"}
    inc = city.incidents.dropna(subset=["lon"])
    t = pd.to_datetime(inc.occurred_at)
    end = t.max()
    for p in city.truth:
        near = (
            np.hypot(
                (inc.lon - p["centre"]["lon"]) * 108_800, (inc.lat - p["centre"]["lat"]) * 110_574
            )
            < p["radius_m"]
        ) & (inc.category == p["category"])
        last8 = near & (t > end - pd.Timedelta(weeks=8))
        first8 = near & (t < t.min() + pd.Timedelta(weeks=8))
        if p["kind"] == "emerging":
            assert last8.sum() > 3 * max(first8.sum(), 1)
        if p["kind"] == "fading":
            assert first8.sum() > 3 * max(last8.sum(), 1)


def test_no_real_personal_data(city: City) -> None:
    people = [
        q for col in ("victims", "witnesses", "suspects") for v in city.incidents[col] for q in v
    ]
    assert 0 < len(people) < 0.05 * len(city.incidents)
    for person in people:
        assert person["name"].endswith("(FICTICIO)")
        assert re.fullmatch(r"99\d{6}", person["dni"])
    assert city.officers.display_name.str.contains("Demo").all()
    assert city.tracks.groupby("shift_id").size().min() > 100
