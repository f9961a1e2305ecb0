"""Binning: the numpy H3 path must agree exactly with h3.latlng_to_cell."""

from __future__ import annotations

import h3.api.basic_int as h3i
import numpy as np
import pytest

from geo.errors import BadParameterError, InvalidInputError
from geo.grid.cells import (
    CellSpec,
    cell_areas_km2,
    cell_centres,
    choose_h3_resolution,
    h3_cells,
    h3_cells_slow,
    make_spec,
    point_cells,
    select,
    square_colrow,
    utm_epsg,
)


@pytest.mark.parametrize("res", [0, 4, 7, 9, 10, 12, 15])
def test_h3_fast_path_equals_h3_worldwide(res: int) -> None:
    rng = np.random.default_rng(42)
    lon = rng.uniform(-180, 180, 40_000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 40_000)))
    assert np.array_equal(h3_cells(lon, lat, res), h3_cells_slow(lon, lat, res))


def test_h3_fast_path_equals_h3_in_lima_and_on_edges() -> None:
    rng = np.random.default_rng(42)
    lon = rng.uniform(-77.19, -76.62, 100_000)
    lat = rng.uniform(-12.52, -11.58, 100_000)
    # points on cell vertices and edge midpoints, where rounding is hardest
    cells = np.unique(h3_cells_slow(lon[:300], lat[:300], 9))
    verts = np.array([v for c in cells.tolist() for v in h3i.cell_to_boundary(c)])
    mids = (verts + np.roll(verts, 1, axis=0)) / 2
    lat = np.concatenate([lat, verts[:, 0], mids[:, 0]])
    lon = np.concatenate([lon, verts[:, 1], mids[:, 1]])
    for res in (8, 9):
        assert np.array_equal(h3_cells(lon, lat, res), h3_cells_slow(lon, lat, res))


def test_h3_face_centres_and_poles() -> None:
    from geo.grid.h3lattice import _FACE_LATLNG

    lat = np.degrees(np.concatenate([_FACE_LATLNG[:, 0], [np.pi / 2, -np.pi / 2]]))
    lon = np.degrees(np.concatenate([_FACE_LATLNG[:, 1], [0.0, 0.0]]))
    lat = np.concatenate([lat, lat + 1e-9, lat - 1e-6])
    lon = np.concatenate([lon, lon, lon + 1e-6])
    lat = np.clip(lat, -90.0, 90.0)
    for res in (5, 9, 15):
        assert np.array_equal(h3_cells(lon, lat, res), h3_cells_slow(lon, lat, res))


def test_empty_and_bad_input() -> None:
    assert h3_cells(np.empty(0), np.empty(0), 9).size == 0
    with pytest.raises(InvalidInputError):
        h3_cells(np.array([np.nan]), np.array([0.0]), 9)
    with pytest.raises(InvalidInputError):
        h3_cells(np.array([0.0, 1.0]), np.array([0.0]), 9)
    with pytest.raises(BadParameterError):
        h3_cells(np.array([0.0]), np.array([0.0]), 16)
    with pytest.raises(BadParameterError):
        make_spec(np.zeros(1), np.zeros(1), grid="square", size_m=0.1)


def test_square_grid_cells_are_stable_and_sized() -> None:
    lon = np.array([-77.03, -77.0301, -77.03])
    lat = np.array([-12.05, -12.05, -12.06])
    spec = make_spec(lon, lat, grid="square", size_m=250)
    assert spec.epsg == 32718 == utm_epsg(lon, lat)
    cells = point_cells(lon, lat, spec)
    assert cells[0] != cells[2]
    # the same point gets the same cell whatever else is in the window
    assert point_cells(lon[:1], lat[:1], spec)[0] == cells[0]
    clon, clat = cell_centres(cells[:1], spec)
    assert abs(clon[0] - lon[0]) < 0.003 and abs(clat[0] - lat[0]) < 0.003
    _col, row = square_colrow(cells)
    assert abs(int(row[0]) - int(row[2])) >= 1
    assert cell_areas_km2(cells, spec)[0] == pytest.approx(0.0625)


def test_choose_resolution_rule() -> None:
    rng = np.random.default_rng(42)
    lon = rng.normal(-77.03, 0.01, 5000)
    lat = rng.normal(-12.05, 0.01, 5000)
    res, rule = choose_h3_resolution(lon, lat)
    assert 7 <= res <= 10 and "mean count" in rule
    cells = np.unique(h3_cells(lon, lat, res))
    assert lon.size / cells.size >= 5 or res == 7
    if res < 10:
        finer = np.unique(h3_cells(lon, lat, res + 1))
        assert lon.size / finer.size < 5
    assert make_spec(lon, lat).resolution == res


def test_select_window_and_categories() -> None:
    t = np.array([0, 10, 20, 30])
    cat = np.array([1, 2, 1, 3])
    assert select(t, cat, window=(10, 30)).tolist() == [False, True, True, False]
    assert select(t, cat, categories=[1, 3]).tolist() == [True, False, True, True]
    with pytest.raises(BadParameterError):
        select(t, cat, window=(5, 1))


def test_h3_centres_and_areas() -> None:
    spec = CellSpec("h3", resolution=9)
    c = h3i.latlng_to_cell(-12.05, -77.03, 9)
    lon, lat = cell_centres(np.array([c]), spec)
    assert (lat[0], lon[0]) == h3i.cell_to_latlng(c)
    assert cell_areas_km2(np.array([c]), spec)[0] == pytest.approx(0.105, rel=0.2)


@pytest.mark.parametrize(("res", "k"), [(2, 1), (5, 1), (9, 1), (9, 2), (11, 3)])
def test_lattice_kring_equals_grid_disk(res: int, k: int) -> None:
    from geo.analysis.weights import _h3_disks, kring_weights, study_cells

    rng = np.random.default_rng(42)
    lon = rng.uniform(-180, 180, 3000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 3000)))
    seeds = np.unique(h3_cells_slow(lon, lat, res))
    pent = np.array([h3i.cell_to_center_child(p, res) for p in h3i.get_pentagons(0)])
    seeds = np.union1d(seeds, pent)  # pentagons and face corners
    spec = CellSpec("h3", resolution=res)
    ring, _ = study_cells(seeds, spec, "ring", k)
    _, nb = _h3_disks(seeds, k)
    assert np.array_equal(ring, np.unique(nb))
    cells = ring[:: max(1, ring.size // 20000)]  # a dense-enough subset keeps it quick
    cells = np.union1d(cells, seeds)
    w = kring_weights(cells, spec, k).tocoo()
    got = set(zip(w.row.tolist(), w.col.tolist(), strict=True))
    src, nb = _h3_disks(cells, k)
    pos = np.searchsorted(cells, nb).clip(0, cells.size - 1)
    ok = cells[pos] == nb
    want = set(zip(src[ok].tolist(), pos[ok].tolist(), strict=True))
    assert got == want


def test_small_boxes_across_face_edges_and_pentagons() -> None:
    """City-sized boxes use only the candidate faces of their box; check boxes everywhere,
    including on face edges and around the pentagons."""
    from geo.grid.h3lattice import candidate_faces

    rng = np.random.default_rng(42)
    centres = [
        (float(a), float(b))
        for a, b in zip(
            rng.uniform(-180, 180, 40), np.degrees(np.arcsin(rng.uniform(-1, 1, 40))), strict=True
        )
    ]
    pents = [h3i.cell_to_latlng(p) for p in h3i.get_pentagons(0)]
    centres += [(lng, lat) for lat, lng in pents]
    multi = 0
    for lon0, lat0 in centres:
        lon = np.clip(lon0 + rng.uniform(-0.3, 0.3, 3000), -180, 180)
        lat = np.clip(lat0 + rng.uniform(-0.3, 0.3, 3000), -90, 90)
        multi += candidate_faces(lon, lat).size > 1
        for res in (7, 10):
            assert np.array_equal(h3_cells(lon, lat, res), h3_cells_slow(lon, lat, res))
    assert multi >= 12  # the pentagon boxes at least straddle several faces


def test_bin_incidents_with_chosen_resolution_equals_direct_binning() -> None:
    from geo.grid.cells import bin_incidents, h3_bin

    rng = np.random.default_rng(42)
    lon = rng.normal(-77.03, 0.02, 20_000)
    lat = rng.normal(-12.05, 0.02, 20_000)
    spec, cells, inverse = bin_incidents(lon, lat)
    assert spec.resolution == choose_h3_resolution(lon, lat)[0] and "mean count" in spec.rule
    direct, inv = h3_bin(lon, lat, int(spec.resolution or 0))
    assert np.array_equal(cells, direct) and np.array_equal(inverse, inv)
    spec, cells, inverse = bin_incidents(lon[:0], lat[:0])
    assert spec.resolution == 7 and cells.size == 0
