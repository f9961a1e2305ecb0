"""Binning incidents into hotspot cells: H3 hexagons or a projected square grid.

Everything is vectorised over numpy arrays of lon/lat degrees (EPSG:4326).

H3 fast path. ``h3.latlng_to_cell`` is scalar (~1 µs a call, ~1.7 s for a million points in a
Python loop). :func:`h3_cells` reproduces H3's own first step in numpy — the gnomonic projection
of the point onto its closest icosahedron face and the rounding to the hexagon lattice of that
face at the resolution — which partitions points exactly as H3 does. Points are grouped by
(face, lattice hexagon), and H3 is called once per group, on one member, to get the index. A
point closer than 1e-7 hexagon spacings (~2e-5 m at resolution 9) to a hexagon edge, or
nearly equidistant from two face centres, could round differently in numpy and in H3's C
code, so it is sent to H3 itself (:mod:`geo.grid.h3lattice`). The result is therefore exactly
H3's, which tests check on random points.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3.api.basic_int as h3i
import numpy as np
import pyproj

from geo.errors import BadParameterError, InvalidInputError
from geo.grid import h3lattice


@dataclass(frozen=True)
class CellSpec:
    """Which cells: H3 at ``resolution``, or a square grid of ``size_m`` metres in ``epsg``."""

    kind: str  # "h3" or "square"
    resolution: int | None = None
    size_m: float | None = None
    epsg: int | None = None
    rule: str = "given"  # how the resolution / size was chosen


def check_counts(values: np.ndarray | list[int], name: str = "counts") -> np.ndarray:
    """``values`` as int64 counts, refusing NaN, infinities, negatives and fractions.

    A cast alone turned NaN into int64's minimum and let -3 or 2.5 through as counts.
    """
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise InvalidInputError(f"{name} must be numbers", {"dtype": str(arr.dtype)})
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise InvalidInputError(
                f"{name} must be whole numbers",
                {"count": int(bad.sum()), "first_index": int(np.flatnonzero(bad)[0])},
            )
    if (arr < 0).any():
        raise InvalidInputError(
            f"{name} must be >= 0",
            {"count": int((arr < 0).sum()), "first_index": int(np.flatnonzero(arr < 0)[0])},
        )
    return arr.astype(np.int64).ravel()


def check_lonlat(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 copies of lon/lat: same length, finite, within range."""
    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    if lon.shape != lat.shape:
        raise InvalidInputError("lon and lat differ in length", {"lon": lon.size, "lat": lat.size})
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            "coordinates must be finite lon/lat degrees",
            {"count": int(bad.sum()), "first_index": first},
        )
    return lon, lat


def h3_bin(lon: np.ndarray, lat: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct H3 cells (int64) of the points, and each point's index into them.

    ``cells[inverse]`` equals ``h3.latlng_to_cell`` of every point exactly."""
    if not 0 <= int(resolution) <= 15:
        raise BadParameterError("H3 resolution must be 0..15", {"resolution": resolution})
    lon, lat = check_lonlat(lon, lat)
    return h3lattice.h3_bin(lon, lat, int(resolution))


def h3_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell (int64) of every point at ``resolution``, exactly as ``h3.latlng_to_cell``."""
    cells, inverse = h3_bin(lon, lat, resolution)
    result: np.ndarray = cells[inverse]
    return result


def h3_cells_slow(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """Reference: one ``h3.latlng_to_cell`` call per point (for tests and benchmarks)."""
    lon, lat = check_lonlat(lon, lat)
    return h3lattice.h3_cells_slow(lon, lat, int(resolution))


def utm_epsg(lon: np.ndarray, lat: np.ndarray) -> int:
    """EPSG code of the WGS 84 / UTM zone holding the median point (326zz north, 327zz south)."""
    lon0, lat0 = float(np.median(lon)), float(np.median(lat))
    zone = min(int((lon0 + 180.0) // 6.0) + 1, 60)
    return (32600 if lat0 >= 0 else 32700) + zone


def project(lon: np.ndarray, lat: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Project lon/lat degrees to ``epsg`` metres (vectorised pyproj)."""
    tr = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    x, y = tr.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return np.asarray(x), np.asarray(y)


def unproject(x: np.ndarray, y: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`project`: metres in ``epsg`` to lon/lat degrees."""
    tr = pyproj.Transformer.from_crs(epsg, 4326, always_xy=True)
    lon, lat = tr.transform(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return np.asarray(lon), np.asarray(lat)


_GRID_OFFSET = 1 << 30  # column/row offset so that keys stay non-negative


def square_keys(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Cell id of square-grid (column, row) pairs."""
    return ((col.astype(np.int64) + _GRID_OFFSET) << 32) | (row.astype(np.int64) + _GRID_OFFSET)


def square_colrow(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`square_keys`."""
    cells = np.asarray(cells, dtype=np.int64)
    return (cells >> 32) - _GRID_OFFSET, (cells & 0xFFFFFFFF) - _GRID_OFFSET


def square_cells(lon: np.ndarray, lat: np.ndarray, spec: CellSpec) -> np.ndarray:
    """Square-grid cell id of every point; the grid is anchored at the projection's origin,
    so the same point gets the same cell in every window."""
    x, y = project(lon, lat, int(spec.epsg or 0))
    size = float(spec.size_m or 0.0)
    return square_keys(np.floor(x / size), np.floor(y / size))


def make_spec(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    grid: str = "h3",
    resolution: int | None = None,
    size_m: float | None = None,
    epsg: int | None = None,
) -> CellSpec:
    """The cell specification for these points: given, or chosen from the data."""
    if grid == "h3":
        if resolution is not None:
            if not 0 <= int(resolution) <= 15:
                raise BadParameterError("H3 resolution must be 0..15", {"resolution": resolution})
            return CellSpec("h3", resolution=int(resolution))
        res, rule = choose_h3_resolution(lon, lat)
        return CellSpec("h3", resolution=res, rule=rule)
    if grid == "square":
        if size_m is None or not 1.0 <= float(size_m) <= 100_000.0:
            raise BadParameterError("square cells need size_m in 1..100000", {"size_m": size_m})
        code = int(epsg) if epsg is not None else (utm_epsg(lon, lat) if lon.size else 32718)
        return CellSpec("square", size_m=float(size_m), epsg=code)
    raise BadParameterError("grid must be 'h3' or 'square'", {"grid": grid})


def _parents(cells: np.ndarray, res: int) -> np.ndarray:
    return np.fromiter(
        (h3i.cell_to_parent(c, res) for c in cells.tolist()), dtype=np.int64, count=cells.size
    )


def _auto_h3(
    lon: np.ndarray, lat: np.ndarray, min_res: int, max_res: int, target_mean: float
) -> tuple[int, np.ndarray, np.ndarray]:
    """Chosen resolution, and the points binned at it (distinct cells, inverse).

    Occupied cells at coarser resolutions are counted as the parents of the occupied
    ``max_res`` cells (one binning). H3 children are not geometrically inside their parent,
    so a point's cell is *not* always the parent of its finer cell: the final binning at the
    chosen resolution is done directly (reused when it is ``max_res``)."""
    cells, inverse = h3_bin(lon, lat, max_res)
    occupied = cells
    for res in range(max_res, min_res - 1, -1):
        if res < max_res:
            occupied = np.unique(_parents(occupied, res))
        if lon.size / max(occupied.size, 1) >= target_mean or res == min_res:
            if res == max_res:
                return res, cells, inverse
            return res, *h3_bin(lon, lat, res)
    raise AssertionError("unreachable")  # the loop returns at min_res


def _rule(min_res: int, max_res: int, target_mean: float) -> str:
    return (
        f"finest H3 res in {min_res}..{max_res} with mean count per occupied cell >= {target_mean}"
    )


def choose_h3_resolution(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    min_res: int = 7,
    max_res: int = 10,
    target_mean: float = 5.0,
) -> tuple[int, str]:
    """The finest resolution in ``min_res..max_res`` whose occupied cells hold at least
    ``target_mean`` incidents on average (``min_res`` when none does)."""
    if lon.size == 0:
        return min_res, _rule(min_res, max_res, target_mean)
    res, _, _ = _auto_h3(lon, lat, min_res, max_res, target_mean)
    return res, _rule(min_res, max_res, target_mean)


def bin_incidents(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    grid: str = "h3",
    resolution: int | None = None,
    size_m: float | None = None,
    epsg: int | None = None,
) -> tuple[CellSpec, np.ndarray, np.ndarray]:
    """Cell specification (given or chosen) and the points binned under it: (spec, distinct
    cells, each point's index into them). With the resolution chosen from the data, the
    points are binned once, at the finest candidate resolution."""
    lon, lat = check_lonlat(lon, lat)
    if grid == "h3" and resolution is None and lon.size:
        res, cells, inverse = _auto_h3(lon, lat, 7, 10, 5.0)
        return CellSpec("h3", resolution=res, rule=_rule(7, 10, 5.0)), cells, inverse
    spec = make_spec(lon, lat, grid=grid, resolution=resolution, size_m=size_m, epsg=epsg)
    cells, inverse = bin_points(lon, lat, spec)
    return spec, cells, inverse


def bin_points(lon: np.ndarray, lat: np.ndarray, spec: CellSpec) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct cells of the points under ``spec`` and each point's index into them."""
    lon, lat = check_lonlat(lon, lat)
    if spec.kind == "h3":
        return h3_bin(lon, lat, int(spec.resolution or 0))
    if lon.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    cells, inverse = np.unique(square_cells(lon, lat, spec), return_inverse=True)
    return cells, inverse.ravel()


def point_cells(lon: np.ndarray, lat: np.ndarray, spec: CellSpec) -> np.ndarray:
    """Cell id (int64) of every point under ``spec``."""
    lon, lat = check_lonlat(lon, lat)
    if lon.size == 0:
        return np.empty(0, dtype=np.int64)
    if spec.kind == "h3":
        return h3_cells(lon, lat, int(spec.resolution or 0))
    return square_cells(lon, lat, spec)


def cell_centres(cells: np.ndarray, spec: CellSpec) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat degrees of the centre of each cell."""
    cells = np.asarray(cells, dtype=np.int64)
    if spec.kind == "h3":
        ll = np.array([h3i.cell_to_latlng(c) for c in cells.tolist()], dtype=np.float64)
        ll = ll.reshape(-1, 2)
        return ll[:, 1].copy(), ll[:, 0].copy()
    col, row = square_colrow(cells)
    size = float(spec.size_m or 0.0)
    return unproject((col + 0.5) * size, (row + 0.5) * size, int(spec.epsg or 0))


def cell_areas_km2(cells: np.ndarray, spec: CellSpec) -> np.ndarray:
    """Area of each cell in km² (exact spherical area for H3)."""
    cells = np.asarray(cells, dtype=np.int64)
    if spec.kind == "h3":
        return np.array([h3i.cell_area(c, "km^2") for c in cells.tolist()], dtype=np.float64)
    return np.full(cells.size, (float(spec.size_m or 0.0) / 1000.0) ** 2)


def select(
    t: np.ndarray,
    category: np.ndarray,
    *,
    window: tuple[int, int] | None = None,
    categories: np.ndarray | list[int] | None = None,
) -> np.ndarray:
    """Boolean mask of incidents with ``window[0] <= t < window[1]`` and category in the set."""
    t = np.asarray(t)
    mask = np.ones(t.size, dtype=bool)
    if window is not None:
        lo, hi = int(window[0]), int(window[1])
        if hi < lo:
            raise BadParameterError("window end is before its start", {"window": [lo, hi]})
        mask &= (t >= lo) & (t < hi)
    if categories is not None:
        mask &= np.isin(np.asarray(category), np.asarray(list(categories)))
    return mask
