"""Placement: inside / border / nearest / outside rules, layers, H3, real Lima districts."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely

from geo.boundaries import BoundarySet
from geo.errors import InvalidInputError
from geo.importer import import_districts
from geo.placement.placer import Placer

# Four squares of 0.01 deg meeting at (-77.04, -12.09); codes chosen so order != row order.
CODES = ["150104", "150102", "150103", "150101"]


def _grid() -> gpd.GeoDataFrame:
    boxes = [
        shapely.box(-77.05, -12.10, -77.04, -12.09),
        shapely.box(-77.04, -12.10, -77.03, -12.09),
        shapely.box(-77.05, -12.09, -77.04, -12.08),
        shapely.box(-77.04, -12.09, -77.03, -12.08),
    ]
    return gpd.GeoDataFrame({"code": CODES, "name": CODES}, geometry=boxes, crs=4326)


@pytest.fixture(scope="module")
def placer() -> Placer:
    districts = _grid()
    stations = gpd.GeoDataFrame(
        {"code": ["st-w", "st-e"]},
        crs=4326,
        geometry=[
            shapely.box(-77.05, -12.10, -77.04, -12.08),
            shapely.box(-77.04, -12.10, -77.03, -12.08),
        ],
    )
    return Placer.from_layers(districts, stations, None, h3_resolution=9)


def test_inside_points_get_their_polygon(placer: Placer) -> None:
    p = placer.place(
        np.array([-77.045, -77.035, -77.045, -77.035]),
        np.array([-12.095, -12.095, -12.085, -12.085]),
    )
    assert p.district.tolist() == CODES
    assert p.flag.tolist() == ["inside"] * 4
    assert p.station.tolist() == ["st-w", "st-e", "st-w", "st-e"]
    assert p.sector.tolist() == [None] * 4


def test_shared_border_goes_to_lowest_code(placer: Placer) -> None:
    # on the vertical border between 150104 (west) and 150102 (east); on the 4-way corner
    p = placer.place(np.array([-77.04, -77.04, -77.045]), np.array([-12.095, -12.09, -12.09]))
    assert p.district.tolist() == ["150102", "150101", "150103"]
    assert p.flag.tolist() == ["inside"] * 3


def test_near_outside_and_missing(placer: Placer) -> None:
    lon = np.array(
        [-77.0290, -77.0200, np.nan, -77.0505]
    )  # ~110 m east, ~1.1 km east, NaN, ~55 m west
    lat = np.array([-12.0850, -12.0850, -12.0850, -12.0950])
    p = placer.place(lon, lat)
    assert p.flag.tolist() == ["nearest", "outside", "missing", "nearest"]
    assert p.district.tolist() == ["150101", None, None, "150104"]
    assert p.h3_cell[2] == 0


def test_h3_matches_the_library(placer: Placer) -> None:
    one = placer.place_one(-77.045, -12.095)
    assert one["h3_cell"] == h3.latlng_to_cell(-12.095, -77.045, 9)
    assert one["district"] == "150104" and one["flag"] == "inside"
    assert placer.place(np.array([-77.045]), np.array([-12.095])).h3_hex()[0] == one["h3_cell"]


def test_bad_input_is_refused(placer: Placer) -> None:
    with pytest.raises(InvalidInputError):
        placer.place(np.zeros(3), np.zeros(2))


def test_grid_lookup_agrees_with_exact_predicate() -> None:
    rng = np.random.default_rng(42)
    centres = rng.uniform([-77.2, -12.5], [-76.6, -11.6], (40, 2))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(centres)))
    frame = gpd.GeoDataFrame(
        {"code": [f"c{i:02d}" for i in range(len(cells))]},
        geometry=list(shapely.intersection(cells, shapely.box(-77.2, -12.5, -76.6, -11.6))),
        crs=4326,
    )
    placer = Placer.from_layers(frame, h3_resolution=None)
    lon, lat = rng.uniform(-77.2, -76.6, 50_000), rng.uniform(-12.5, -11.6, 50_000)
    got = placer.place(lon, lat).district
    tree = shapely.STRtree(frame.geometry.values)
    pairs = tree.query(shapely.points(lon, lat), predicate="intersects")
    expected = np.empty(len(lon), dtype=object)
    codes = frame.code.to_numpy()
    for i, j in zip(pairs[0], pairs[1], strict=True):
        if expected[i] is None or codes[j] < expected[i]:
            expected[i] = codes[j]
    assert (got == expected).all()


@pytest.fixture(scope="module")
def lima(shared_data_dir: Path) -> tuple[BoundarySet, Placer]:
    districts = import_districts(shared_data_dir / "lima_callao_districts.geojson")
    return districts, Placer.from_layers(districts)


def test_lima_known_points(lima: tuple[BoundarySet, Placer]) -> None:
    _, placer = lima
    assert (
        placer.place_one(-77.0300, -12.1210)["district"] == "150122"
    )  # Miraflores, Parque Kennedy
    assert placer.place_one(-77.0428, -12.0464)["district"] == "150101"  # Lima, Plaza de Armas
    assert placer.place_one(-77.30, -12.10)["flag"] == "outside"  # in the Pacific


def test_lima_border_points_land_in_exactly_one_of_the_neighbours(
    lima: tuple[BoundarySet, Placer],
) -> None:
    districts, placer = lima
    frame = districts.frame.set_index("code")
    a, b = frame.loc["150122"].geometry, frame.loc["150131"].geometry  # Miraflores, San Isidro
    border = shapely.intersection(shapely.boundary(a), shapely.boundary(b))
    assert not border.is_empty
    pts = [border.interpolate(f, normalized=True) for f in np.linspace(0.05, 0.95, 25)]
    p = placer.place(np.array([q.x for q in pts]), np.array([q.y for q in pts]))
    # Interpolated points sit a rounding error off the line: one of the two, never none.
    assert set(p.district.tolist()) <= {"150122", "150131"}
    assert set(p.flag.tolist()) == {"inside"}
    # Vertices shared by both polygons are exactly on both: the lower code wins.
    va = {tuple(c) for c in shapely.get_coordinates(a)}
    shared = np.array([c for c in shapely.get_coordinates(b) if tuple(c) in va])
    assert len(shared) >= 2
    p = placer.place(shared[:, 0], shared[:, 1])
    assert set(p.district.tolist()) == {"150122"}


def _containing(frame: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The lowest code of the polygons that intersect each point, by shapely predicates
    alone (None where no polygon does): what the Placer must agree with."""
    tree = shapely.STRtree(frame.geometry.values)
    pairs = tree.query(shapely.points(lon, lat), predicate="intersects")
    codes = frame.code.to_numpy()
    expected = np.full(len(lon), None, dtype=object)
    for i, j in zip(pairs[0], pairs[1], strict=True):
        if expected[i] is None or codes[j] < expected[i]:
            expected[i] = codes[j]
    return expected


def test_demo_city_incidents_are_placed_as_shapely_says() -> None:
    # The fixture's own district codes were made by the same Placer, so they prove nothing
    # about it: the expected answer here comes from shapely's predicates on the polygons.
    from fixtures.city import load_city

    city = load_city()
    placer = Placer.from_layers(city.districts, city.stations, city.sectors, h3_resolution=None)
    inc = city.incidents.dropna(subset=["lon"])
    lon, lat = inc.lon.to_numpy(), inc.lat.to_numpy()
    p = placer.place(lon, lat, with_h3=False)
    for layer, got in (
        (city.districts, p.district),
        (city.stations, p.station),
        (city.sectors, p.sector),
    ):
        expected = _containing(layer, lon, lat)
        inside = expected != None  # noqa: E711 (elementwise on an object array)
        assert inside.mean() > 0.99
        assert (got[inside] == expected[inside]).all()
    # a point no district polygon holds is "nearest" (within tolerance) or "outside", never
    # "inside"
    none = _containing(city.districts, lon, lat) == None  # noqa: E711
    assert set(p.flag[none].tolist()) <= {"nearest", "outside"}
    assert (p.flag[~none] == "inside").all()
