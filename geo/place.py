"""Vectorised placement of points: district, station jurisdiction, patrol sector, H3 cell.

Rules (the same for every layer):

- A point is *inside* a polygon when the polygon covers it (interior or boundary).
- On a shared border, or where sloppy data makes polygons overlap, the polygon with the
  **lowest code** (string order) wins, so every point gets exactly one answer.
- A point covered by no polygon but within ``tolerance_m`` (default 250 m) of one is assigned
  to the nearest (ties again to the lowest code) and flagged ``nearest``; farther away it is
  ``outside`` and gets no code. Non-finite coordinates are flagged ``missing``.

Speed: a lookup grid over the layer's bounds answers every point that falls in a grid cell
lying wholly inside one polygon with two array lookups; a point in a cell crossed by a
boundary is tested exactly (``intersects_xy`` on prepared polygons) against only the few
polygons that touch its cell; the STRtree answers points beyond the grid and nearest queries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import shapely

from geo.boundaries import M_PER_DEG_LAT, BoundarySet, LocalMetric
from geo.cells import h3_cells
from geo.errors import InvalidInputError

OUTSIDE = -1
MIXED = -2
FAR = -3  # grid cell farther than the tolerance from every polygon
FLAG_NAMES = np.array(["inside", "nearest", "outside", "missing"], dtype=object)
INSIDE, NEAREST, OUT, MISSING = 0, 1, 2, 3


class PolygonIndex:
    """Point-in-polygon lookup for one layer, answering an index into ``codes`` or -1."""

    def __init__(
        self, geoms: Any, codes: Any, tolerance_m: float = 250.0, grid_cells: int = 256
    ) -> None:
        codes = np.asarray(codes, dtype=str)
        order = np.argsort(codes, kind="stable")  # index order == code order: min index wins
        self.codes = codes[order].astype(object)
        self.geoms = np.asarray(geoms, dtype=object)[order]
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self.metric = LocalMetric.around(self.geoms)
        self._metric_tree = shapely.STRtree(self.metric.geometry(self.geoms))
        self.tolerance_m = tolerance_m
        self._grid_cells = grid_cells
        self._build_grid()

    def _build_grid(self) -> None:
        x0, y0, x1, y1 = shapely.total_bounds(self.geoms)
        span = max(x1 - x0, y1 - y0)
        step = span / self._grid_cells
        nx, ny = int(np.ceil((x1 - x0) / step)) or 1, int(np.ceil((y1 - y0) / step)) or 1
        ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
        bx0, by0 = x0 + ix.ravel() * step, y0 + iy.ravel() * step
        boxes = shapely.box(bx0, by0, bx0 + step, by0 + step)
        grid = np.full(nx * ny, OUTSIDE, dtype=np.int32)
        crossed = shapely.STRtree(shapely.boundary(self.geoms)).query(boxes, predicate="intersects")
        grid[np.unique(crossed[0])] = MIXED
        clear = np.flatnonzero(grid != MIXED)
        centres = shapely.points(bx0[clear] + step / 2, by0[clear] + step / 2)
        hits = self.tree.query(centres, predicate="intersects")
        counts = np.bincount(hits[0], minlength=len(clear))
        grid[clear[hits[0]]] = hits[1]
        grid[clear[counts > 1]] = MIXED  # overlapping polygons: decide per point
        self._mark_far(grid, boxes)
        self._candidates(grid, boxes)
        self._grid = grid.reshape(ny, nx)
        self._origin = (x0, y0)
        self._step = step

    def _candidates(self, grid: np.ndarray, boxes: np.ndarray) -> None:
        """For each mixed cell, the polygons that touch it (CSR arrays, polygons ascending)."""
        mixed = np.flatnonzero(grid == MIXED)
        pairs = self.tree.query(boxes[mixed], predicate="intersects")
        order = np.lexsort((pairs[1], pairs[0]))
        cells, polys = pairs[0][order], pairs[1][order]
        self._slot = np.full(len(grid), -1, dtype=np.int64)
        self._slot[mixed] = np.arange(len(mixed))
        self._ptr = np.searchsorted(cells, np.arange(len(mixed) + 1))
        self._cand = polys.astype(np.int64)

    def _mixed(self, cell: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Exact answer for points in mixed cells: test only the cell's candidate polygons."""
        slot = self._slot[cell]
        start, count = self._ptr[slot], self._ptr[slot + 1] - self._ptr[slot]
        point = np.repeat(np.arange(len(cell)), count)
        first = np.repeat(np.cumsum(count) - count, count)
        poly = self._cand[np.repeat(start, count) + np.arange(len(point)) - first]
        order = np.argsort(poly, kind="stable")
        point, poly = point[order], poly[order]
        out = np.full(len(cell), OUTSIDE, dtype=np.int64)
        bounds = np.flatnonzero(np.r_[True, poly[1:] != poly[:-1], True])
        # Polygons in ascending code order: a point keeps the first (lowest) that covers it.
        for a, b in itertools.pairwise(bounds):
            pts = point[a:b]
            pts = pts[shapely.intersects_xy(self.geoms[poly[a]], lon[pts], lat[pts])]
            out[pts[out[pts] == OUTSIDE]] = poly[a]
        return out

    def _mark_far(self, grid: np.ndarray, boxes: np.ndarray) -> None:
        """Mark cells beyond the tolerance (converted to degrees generously) as FAR."""
        lat_max = float(np.abs(shapely.total_bounds(self.geoms)[[1, 3]]).max())
        tol_deg = 1.01 * self.tolerance_m / (M_PER_DEG_LAT * np.cos(np.radians(min(lat_max, 80))))
        out = np.flatnonzero(grid == OUTSIDE)
        near = self.tree.query(boxes[out], predicate="dwithin", distance=tol_deg)[0]
        far = np.ones(len(out), dtype=bool)
        far[near] = False
        grid[out[far]] = FAR
        self._tol_deg = tol_deg

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the covering polygon per point (lowest code on ties), else -1 or -3.

        -3 (FAR) means certainly farther than the tolerance from every polygon; -1 means
        covered by none but possibly near one.
        """
        ny, nx = self._grid.shape
        fx = (lon - self._origin[0]) / self._step
        fy = (lat - self._origin[1]) / self._step
        with np.errstate(invalid="ignore"):
            ingrid = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)
        out = np.full(len(lon), OUTSIDE, dtype=np.int64)
        gi = np.flatnonzero(ingrid)
        cell = fy[gi].astype(np.intp) * nx + fx[gi].astype(np.intp)
        out[gi] = self._grid.ravel()[cell]
        mixed = np.flatnonzero(out[gi] == MIXED)
        if len(mixed):
            sel = gi[mixed]
            out[sel] = self._mixed(cell[mixed], lon[sel], lat[sel])
        # Points just beyond the grid (e.g. on its far edge) may still touch or be near a polygon.
        m = self._tol_deg / self._step
        with np.errstate(invalid="ignore"):
            edge = ~ingrid & (fx >= -m) & (fx < nx + m) & (fy >= -m) & (fy < ny + m)
        out[~ingrid] = FAR
        exact = np.flatnonzero(edge)
        if len(exact):
            out[exact] = self._exact(lon[exact], lat[exact])
        return out

    def _exact(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        pairs = self.tree.query(shapely.points(lon, lat), predicate="intersects")
        best = np.full(len(lon), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, pairs[0], pairs[1])
        best[best == np.iinfo(np.int64).max] = OUTSIDE
        return best

    def nearest(self, lon: np.ndarray, lat: np.ndarray, tolerance_m: float) -> tuple[Any, Any]:
        """(index or -1, distance in metres) of the nearest polygon within ``tolerance_m``."""
        x, y = self.metric.forward(lon, lat)
        idx = np.full(len(lon), OUTSIDE, dtype=np.int64)
        dist = np.full(len(lon), np.nan)
        if len(lon) == 0 or tolerance_m <= 0:
            return idx, dist
        pairs, d = self._metric_tree.query_nearest(
            shapely.points(x, y), max_distance=tolerance_m, return_distance=True, all_matches=True
        )
        best = np.full(len(lon), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, pairs[0], pairs[1])
        found = best != np.iinfo(np.int64).max
        idx[found] = best[found]
        dist[pairs[0]] = d
        return idx, dist

    def assign(self, lon: np.ndarray, lat: np.ndarray) -> tuple[Any, Any]:
        """(code per point or None, flag per point as small ints INSIDE/NEAREST/OUT/MISSING)."""
        idx = self.lookup(lon, lat)
        flags = np.where(idx >= 0, INSIDE, OUT).astype(np.int8)
        idx[idx == FAR] = OUTSIDE
        finite = np.isfinite(lon) & np.isfinite(lat)
        flags[~finite] = MISSING
        miss = np.flatnonzero((idx == OUTSIDE) & finite)
        if len(miss):
            near, _ = self.nearest(lon[miss], lat[miss], self.tolerance_m)
            idx[miss] = near
            flags[miss[near >= 0]] = NEAREST
        codes = np.empty(len(lon), dtype=object)
        ok = idx >= 0
        codes[ok] = self.codes[idx[ok]]
        return codes, flags


@dataclass
class Placement:
    """Per-point answers, all arrays of the input length.

    ``district``/``station``/``sector`` hold codes (None where unplaced); ``h3_cell`` holds
    uint64 H3 indexes (0 where coordinates are missing); ``flag`` is the district layer's
    flag (inside/nearest/outside/missing); each layer applies the same rules on its own,
    so ``station_flag`` and ``sector_flag`` are given too.
    """

    district: np.ndarray
    station: np.ndarray
    sector: np.ndarray
    h3_cell: np.ndarray
    flag: np.ndarray
    station_flag: np.ndarray
    sector_flag: np.ndarray

    def h3_hex(self) -> np.ndarray:
        """H3 cells as hex strings (None where missing)."""
        return np.array([h3.int_to_str(int(c)) if c else None for c in self.h3_cell], dtype=object)


def _layer_arrays(layer: BoundarySet | gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    frame = layer.frame if isinstance(layer, BoundarySet) else layer
    return np.asarray(frame.geometry.values, dtype=object), frame["code"].to_numpy(dtype=str)


class Placer:
    """Places points on districts, station jurisdictions, patrol sectors and H3 cells."""

    def __init__(
        self,
        districts: PolygonIndex,
        stations: PolygonIndex | None = None,
        sectors: PolygonIndex | None = None,
        h3_resolution: int | None = 9,
        tolerance_m: float = 250.0,
    ) -> None:
        self.districts = districts
        self.stations = stations
        self.sectors = sectors
        self.h3_resolution = h3_resolution
        self.tolerance_m = tolerance_m

    @classmethod
    def from_layers(
        cls,
        districts: BoundarySet | gpd.GeoDataFrame,
        stations: BoundarySet | gpd.GeoDataFrame | None = None,
        sectors: BoundarySet | gpd.GeoDataFrame | None = None,
        h3_resolution: int | None = 9,
        tolerance_m: float = 250.0,
    ) -> Placer:
        """Build from layers with a ``code`` column and polygon geometries in EPSG:4326."""

        def index(layer: Any) -> PolygonIndex | None:
            return None if layer is None else PolygonIndex(*_layer_arrays(layer), tolerance_m)

        dist = index(districts)
        assert dist is not None
        return cls(dist, index(stations), index(sectors), h3_resolution, tolerance_m)

    def place(self, lons: Any, lats: Any, *, with_h3: bool = True) -> Placement:
        """Place many points at once (arrays of equal length, degrees EPSG:4326)."""
        lon = np.ascontiguousarray(lons, dtype=np.float64)
        lat = np.ascontiguousarray(lats, dtype=np.float64)
        if lon.shape != lat.shape or lon.ndim != 1:
            raise InvalidInputError(
                "lons and lats must be 1-d arrays of the same length",
                {"lons": list(lon.shape), "lats": list(lat.shape)},
            )
        district, dflag = self.districts.assign(lon, lat)
        station, sflag = self._optional(self.stations, lon, lat)
        sector, cflag = self._optional(self.sectors, lon, lat)
        cells = self.h3_cells(lon, lat) if with_h3 else np.zeros(len(lon), dtype=np.uint64)
        return Placement(
            district,
            station,
            sector,
            cells,
            FLAG_NAMES[dflag],
            FLAG_NAMES[sflag],
            FLAG_NAMES[cflag],
        )

    def _optional(self, index: PolygonIndex | None, lon: Any, lat: Any) -> tuple[Any, Any]:
        if index is None:
            return np.full(len(lon), None, dtype=object), np.full(len(lon), OUT, dtype=np.int8)
        return index.assign(lon, lat)

    def h3_cells(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """H3 cells (uint64) at the placer's resolution; 0 for non-finite coordinates.

        Vectorised (``geo.cells.h3_cells``: the H3 lattice in numpy, equal to
        ``h3.latlng_to_cell`` on every point, tested), several times a Python loop's speed.
        """
        out = np.zeros(len(lon), dtype=np.uint64)
        if self.h3_resolution is None:
            return out
        ok = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        if ok.size:
            out[ok] = h3_cells(lon[ok], lat[ok], self.h3_resolution).astype(np.uint64)
        return out

    def place_one(self, lon: float, lat: float) -> dict[str, Any]:
        """Place a single point; returns codes, flags and the H3 cell as a hex string."""
        p = self.place(np.array([lon], dtype=float), np.array([lat], dtype=float))
        cell = int(p.h3_cell[0])
        return {
            "district": p.district[0],
            "station": p.station[0],
            "sector": p.sector[0],
            "h3_cell": h3.int_to_str(cell) if cell else None,
            "flag": p.flag[0],
            "station_flag": p.station_flag[0],
            "sector_flag": p.sector_flag[0],
        }
