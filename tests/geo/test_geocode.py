"""Geocoder on the demo city: the labelled set, each address form, reverse, GPS-fix checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from fixtures.city import City, load_city, load_labelled
from geo.boundaries import haversine_m
from geo.geocode import QUALITIES, Geocoder, GeocodeResult, assess_fix
from geo.importer import import_streets


@pytest.fixture(scope="module")
def city() -> City:
    return load_city()


@pytest.fixture(scope="module")
def geocoder(city: City) -> Geocoder:
    return Geocoder.from_city(city)


@pytest.fixture(scope="module")
def labelled(geocoder: Geocoder) -> pd.DataFrame:
    lab = load_labelled()
    res = [geocoder.geocode(r.text, station=r.context_station or None) for r in lab.itertuples()]
    lab["glon"] = [np.nan if r.lon is None else r.lon for r in res]
    lab["glat"] = [np.nan if r.lat is None else r.lat for r in res]
    lab["conf"] = [r.confidence for r in res]
    lab["quality"] = [r.quality for r in res]
    lab["dist"] = haversine_m(lab.lon, lab.lat, lab.glon, lab.glat)
    return lab


def test_labelled_set_shape() -> None:
    lab = load_labelled()
    assert 1900 <= len(lab) <= 2100
    assert 0.07 <= (lab.exists == 0).mean() <= 0.13
    assert set(lab.form) == {"number", "block", "intersection", "mzlt", "landmark", "missing"}
    assert lab.loc[lab.exists == 1, ["lon", "lat"]].notna().all().all()


def test_labelled_accuracy(labelled: pd.DataFrame) -> None:
    existing = labelled[labelled.exists == 1]
    assert (existing.dist <= 50).mean() >= 0.95
    confident = labelled[labelled.conf >= 0.9]
    assert len(confident) > 0.7 * len(labelled)
    assert ((confident.exists == 1) & (confident.dist <= 100)).mean() >= 0.99
    assert set(labelled.quality) <= set(QUALITIES)


def test_non_existing_addresses_are_never_confident(labelled: pd.DataFrame) -> None:
    missing = labelled[labelled.exists == 0]
    assert (missing.conf < 0.9).all()


def _street_row(city: City, name: str | None = None) -> pd.Series:
    streets = city.streets
    return (
        streets[streets.cuadra >= 3].iloc[0]
        if name is None
        else streets[streets.name == name].iloc[0]
    )


def test_number_is_interpolated_on_its_side(city: City, geocoder: Geocoder) -> None:
    seg = _street_row(city)
    district = city.districts.set_index("code").loc[seg.district_code, "name"]
    line = seg.geometry
    n_even = int(seg.from_right) + 50
    even = geocoder.geocode(f"{seg.street_type} {seg['name']} {n_even}, {district}")
    odd = geocoder.geocode(f"{seg.street_type} {seg['name']} {n_even + 1}, {district}")
    assert even.quality == odd.quality == "interpolated"
    assert even.confidence >= 0.9 and even.components["number"] == n_even
    mid = line.interpolate(0.5, normalized=True)
    for r in (even, odd):
        assert haversine_m(r.lon, r.lat, mid.x, mid.y) < 20
    # even on the right of the numbering direction, odd on the left
    (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]

    def side(r: GeocodeResult) -> float:
        assert r.lon is not None and r.lat is not None
        return float((r.lon - x0) * (y1 - y0) - (r.lat - y0) * (x1 - x0))

    assert side(even) > 0 > side(odd)


def test_block_intersection_mzlt_landmark(city: City, geocoder: Geocoder) -> None:
    seg = _street_row(city)
    district = city.districts.set_index("code").loc[seg.district_code, "name"]
    r = geocoder.geocode(f"{seg['name']} cdra. {int(seg.cuadra)} - {district}")
    assert r.quality == "block" and r.components["segment"] == seg.code
    lot = city.lotes.iloc[10]
    area = city.aa_hh.set_index("code").loc[lot.aa_hh_code]
    r = geocoder.geocode(
        f"AA.HH. {area['name']} Mz. {lot.mz} Lt. {lot.lt}, {district}", district=area.district_code
    )
    assert r.quality == "exact" and haversine_m(r.lon, r.lat, lot.geometry.x, lot.geometry.y) < 1
    lm = city.landmarks[city.landmarks.kind == "mercado"].iloc[0]
    r = geocoder.geocode(f"frente al {lm.label}", district=lm.district_code)
    assert r.quality == "exact" and r.components["landmark"] == lm.label
    ends = city.streets[city.streets.district_code == seg.district_code]
    a = ends[ends.street_id == seg.street_id]
    cross = ends[
        (ends.node0.isin(a.node0) | ends.node1.isin(a.node0)) & (ends.street_id != seg.street_id)
    ].iloc[0]
    r = geocoder.geocode(
        f"esquina {seg.street_type} {seg['name']} y {cross.street_type} {cross['name']}",
        district=seg.district_code,
    )
    assert r.quality == "exact" and r.confidence >= 0.9
    assert r.components["cross_street"].endswith(cross["name"])


def test_failures_and_district_only(geocoder: Geocoder) -> None:
    assert geocoder.geocode("").quality == "failed"
    r = geocoder.geocode("asdf qwerty 99999")
    assert r.quality == "failed" and r.lon is None and r.confidence == 0
    r = geocoder.geocode("Miraflores")
    assert r.quality == "district" and r.confidence < 0.5


def test_reverse_geocoding_round_trip(city: City, geocoder: Geocoder) -> None:
    seg = _street_row(city)
    n = int(seg.from_right) + 40
    fwd = geocoder.geocode(f"{seg.street_type} {seg['name']} {n}", district=seg.district_code)
    assert fwd.lon is not None and fwd.lat is not None
    back = geocoder.reverse(fwd.lon, fwd.lat)
    assert back is not None
    assert back["segment"] == seg.code and back["district_code"] == seg.district_code
    assert abs(back["number"] - n) <= 4 and back["number"] % 2 == 0
    assert geocoder.reverse(-77.5, -12.0) is None


def test_assess_fix(city: City) -> None:
    box = city.bounds
    outline = shapely.union_all(city.districts.geometry.values)
    assert assess_fix(-77.03, -12.12, 15.0, box).ok
    assert assess_fix(-77.03, -12.12, 250.0, box).flags == ["poor_accuracy"]
    assert assess_fix(-77.03, -12.12, None, box).flags == ["poor_accuracy"]
    assert assess_fix(-70.0, -15.0, 10.0, box).flags == ["outside_city"]
    assert "null_island" in assess_fix(0.0, 0.0, 5.0, box).flags
    assert assess_fix(math.nan, -12.0, 5.0, box).flags == ["missing"]
    assert assess_fix(-77.5, -12.0, 5.0, outline).flags == ["outside_city"]
    assert assess_fix(-77.03, -12.12, 150.0, box, max_accuracy_m=200).ok


def test_geocoder_from_imported_layers(tmp_path: Path, city: City) -> None:
    """Streets from a GeoPackage with other column names and no district column still work."""
    streets = city.streets[city.streets.district_code == "150105"].rename(
        columns={
            "code": "ID",
            "name": "NOMBRE",
            "street_type": "TIPO",
            "from_left": "IZQ_INI",
            "to_left": "IZQ_FIN",
            "from_right": "DER_INI",
            "to_right": "DER_FIN",
        }
    )
    streets = streets.drop(columns=["district_code", "node0", "node1"])
    path = tmp_path / "calles.gpkg"
    streets.to_file(path, engine="pyogrio")
    imported = import_streets(
        path,
        code_column="ID",
        name_column="NOMBRE",
        type_column="TIPO",
        from_left_column="IZQ_INI",
        to_left_column="IZQ_FIN",
        from_right_column="DER_INI",
        to_right_column="DER_FIN",
    )
    geocoder = Geocoder.from_layers(imported.frame, city.districts)
    seg = imported.frame.iloc[5]
    r = geocoder.geocode(f"{seg.street_type} {seg['name']} {int(seg.from_right) + 10}, Breña")
    assert r.quality == "interpolated" and r.confidence >= 0.9
    assert r.components["district_code"] == "150105" and r.components["segment"] == seg.code
