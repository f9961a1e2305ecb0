"""The placer's two-level lookup grid against shapely's predicates on hard points.

Most points are answered from the grid (a cell, or a sub-cell of a cell that a boundary
crosses, lying wholly inside one polygon); only points in sub-cells that a boundary
touches are tested exactly. These tests put points where a wrong grid would show: on
vertices, on edges, a hair off edges, on sub-cell corners, in overlaps and holes, in
polygons smaller than a sub-cell, beyond the grid's edge. The expected answer is always
computed from shapely predicates on the polygons, never from the placer.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely

from geo.placement.placer import Placer


def _expected(frame: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Lowest code among the polygons that intersect each point (None: none does)."""
    tree = shapely.STRtree(frame.geometry.values)
    pairs = tree.query(shapely.points(lon, lat), predicate="intersects")
    codes = np.sort(frame.code.to_numpy().astype(str))
    rank = np.searchsorted(codes, frame.code.to_numpy().astype(str))
    best = np.full(len(lon), len(codes))
    np.minimum.at(best, pairs[0], rank[pairs[1]])
    owner: np.ndarray = np.concatenate([codes.astype(object), [None]])[best]
    return owner


def _hard_points(frame: gpd.GeoDataFrame, rng: np.random.Generator) -> tuple[Any, Any]:
    """Vertices, points along edges, points 1e-9 to 1e-6 degrees off them, and random
    points over the layer's bounds."""
    rings = shapely.get_rings(shapely.get_parts(np.asarray(frame.geometry.values)))
    xy = shapely.get_coordinates(rings)
    lines = shapely.get_parts(shapely.boundary(np.asarray(frame.geometry.values)))
    on = shapely.get_coordinates(
        shapely.line_interpolate_point(
            np.repeat(lines, 20), rng.uniform(0, 1, len(lines) * 20), normalized=True
        )
    )
    near = np.concatenate([on + rng.normal(0, s, on.shape) for s in (1e-9, 1e-7, 1e-6)])
    x0, y0, x1, y1 = frame.total_bounds
    rand = np.column_stack([rng.uniform(x0, x1, 50_000), rng.uniform(y0, y1, 50_000)])
    pts = np.concatenate([xy, on, near, rand])
    return pts[:, 0].copy(), pts[:, 1].copy()


def _sub_cell_corners(placer: Placer, name: str) -> tuple[Any, Any]:
    """Corners and centres of the sub-cells of the layer's grid (where rounding decides)."""
    index = getattr(placer, name)
    fstep = index._step / index._sub
    ny, nx = index._grid.shape
    i = np.arange(0, nx * index._sub + 1, 13)
    j = np.arange(0, ny * index._sub + 1, 13)
    gx, gy = np.meshgrid(i, j)
    lon = index._origin[0] + gx.ravel() * fstep
    lat = index._origin[1] + gy.ravel() * fstep
    return np.concatenate([lon, lon + fstep / 2]), np.concatenate([lat, lat + fstep / 2])


@pytest.fixture(scope="module")
def city() -> Any:
    from fixtures.city import load_city

    return load_city()


@pytest.fixture(scope="module")
def city_placer(city: Any) -> Placer:
    return Placer.from_layers(city.districts, city.stations, city.sectors, h3_resolution=9)


@pytest.mark.parametrize("layer", ["districts", "stations", "sectors"])
def test_demo_city_hard_points_agree_with_shapely(
    city: Any, city_placer: Placer, layer: str
) -> None:
    frame = getattr(city, layer)
    rng = np.random.default_rng(7)
    lon, lat = _hard_points(frame, rng)
    clon, clat = _sub_cell_corners(city_placer, layer)
    lon, lat = np.concatenate([lon, clon]), np.concatenate([lat, clat])
    p = city_placer.place(lon, lat, with_h3=False)
    got = {"districts": p.district, "stations": p.station, "sectors": p.sector}[layer]
    flag = {"districts": p.flag, "stations": p.station_flag, "sectors": p.sector_flag}[layer]
    expected = _expected(frame, lon, lat)
    covered = expected != None  # noqa: E711 (elementwise on an object array)
    assert covered.sum() > 50_000
    assert (got[covered] == expected[covered]).all()
    assert (flag[covered] == "inside").all()
    assert set(flag[~covered].tolist()) <= {"nearest", "outside"}


def _sloppy_layer() -> gpd.GeoDataFrame:
    """Overlapping discs, a ring with a polygon in its hole, a two-part polygon, a polygon
    smaller than a sub-cell and a sliver: what real jurisdiction files contain."""
    rng = np.random.default_rng(3)
    centres = rng.uniform([-77.10, -12.15], [-76.95, -12.00], (25, 2))
    discs = list(shapely.buffer(shapely.points(centres), rng.uniform(0.005, 0.03, 25)))
    ring = shapely.Polygon(
        shapely.box(-77.20, -12.30, -77.10, -12.20).exterior.coords,
        [shapely.box(-77.17, -12.27, -77.13, -12.23).exterior.coords],
    )
    in_hole = shapely.box(-77.16, -12.26, -77.14, -12.24)
    two = shapely.MultiPolygon(
        [shapely.box(-76.90, -12.30, -76.88, -12.28), shapely.box(-76.85, -12.25, -76.80, -12.20)]
    )
    tiny = shapely.box(-77.0, -12.25, -77.0 + 1e-5, -12.25 + 1e-5)
    sliver = shapely.Polygon([(-77.05, -12.10), (-76.90, -12.10 + 1e-7), (-76.90, -12.10)])
    geoms = [*discs, ring, in_hole, two, tiny, sliver]
    codes = [f"z{i:03d}" for i in rng.permutation(len(geoms))]  # code order != row order
    return gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=4326)


def test_overlaps_holes_parts_and_tiny_polygons_agree_with_shapely() -> None:
    frame = _sloppy_layer()
    placer = Placer.from_layers(frame, h3_resolution=None)
    rng = np.random.default_rng(11)
    lon, lat = _hard_points(frame, rng)
    clon, clat = _sub_cell_corners(placer, "districts")
    tiny = shapely.box(-77.0, -12.25, -77.0 + 1e-5, -12.25 + 1e-5)
    tx, ty = rng.uniform(-77.0, -77.0 + 1e-5, 500), rng.uniform(-12.25, -12.25 + 1e-5, 500)
    lon = np.concatenate([lon, clon, tx])
    lat = np.concatenate([lat, clat, ty])
    got = placer.place(lon, lat).district
    expected = _expected(frame, lon, lat)
    covered = expected != None  # noqa: E711
    assert (got[covered] == expected[covered]).all()
    assert shapely.intersects_xy(tiny, tx, ty).all()
    assert (placer.place(tx, ty).flag == "inside").all()


def test_points_beyond_the_grid_missing_and_strided_input(city: Any, city_placer: Placer) -> None:
    x0, y0, x1, y1 = city.sectors.total_bounds
    rng = np.random.default_rng(5)
    # around the bounds' edges (some exactly on them), far away, NaN and infinite
    lon = np.concatenate(
        [rng.uniform(x0 - 0.01, x1 + 0.01, 20_000), [x1, x0, x1, np.nan, np.inf, -70.0]]
    )
    lat = np.concatenate(
        [rng.choice([y0, y1], 20_000) + rng.normal(0, 0.002, 20_000), [y1, y0, y0, -12.0, 1, 0]]
    )
    p = city_placer.place(lon, lat)
    expected = _expected(city.sectors, lon, lat)
    covered = expected != None  # noqa: E711
    assert (p.sector[covered] == expected[covered]).all()
    assert p.flag[-3:-1].tolist() == ["missing", "missing"]
    assert p.flag[-1] == "outside" and p.district[-1] is None
    assert p.h3_cell[-3] == 0 and p.h3_cell[-2] == 0
    finite = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))[:2000]
    assert [int(c) for c in p.h3_cell[finite]] == [
        h3.str_to_int(h3.latlng_to_cell(float(lat[i]), float(lon[i]), 9)) for i in finite
    ]
    # a strided float32 view: same answers as the contiguous float64 copy
    both = np.column_stack([lon, lat]).astype(np.float32)
    q = city_placer.place(both[:, 0], both[:, 1])
    r = city_placer.place(both[:, 0].astype(float), both[:, 1].astype(float))
    assert (q.sector == r.sector).all() and (q.h3_cell == r.h3_cell).all()


def test_compiled_pass_constants_match_the_placer() -> None:
    from geo.placement import grid_jit as placement_jit
    from geo.placement import polygons as place

    assert (placement_jit.MIXED, placement_jit.OFF_GRID) == (place.MIXED, place.OFF_GRID)
    assert (placement_jit.INSIDE, placement_jit.OUT, placement_jit.MISSING) == (
        place.INSIDE,
        place.OUT,
        place.MISSING,
    )
