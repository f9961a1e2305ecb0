"""Point-in-polygon lookup for one boundary layer (:class:`PolygonIndex`), the placer's engine.

It applies the rules of :mod:`geo.placement.placer` (covers, lowest code on shared borders,
nearest within the tolerance). Speed: a lookup grid over the layer's bounds answers every
point that falls in a grid cell lying wholly inside one polygon with two array lookups; a
point in a cell crossed by a boundary is tested exactly (``intersects_xy`` on prepared
polygons) against only the few polygons that touch its cell; the STRtree answers points
beyond the grid and nearest queries. The grid step itself is compiled
(:mod:`geo.placement.grid_jit`).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import shapely
from scipy import ndimage

from geo.boundaries import M_PER_DEG_LAT, LocalMetric

OUTSIDE = -1
MIXED = -2
FAR = -3  # grid cell farther than the tolerance from every polygon
OFF_GRID = -4  # the compiled pass's mark for a finite point beyond the grid
FINE_BUDGET = 1 << 21  # sub-cells (int32) per layer for the cells that boundaries cross
MAX_SUB = 16  # at most 16 x 16 sub-cells per cell (the demo city's sectors: 22 m)
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
        self._code_table = np.concatenate([np.full(-FAR, None, dtype=object), self.codes])
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
        self._origin = (x0, y0)
        self._step = step
        # How finely to split the coarse cells that a boundary crosses: as finely as
        # FINE_BUDGET cells allow (a first pass at the coarse step counts them).
        crossed = len(self._boundary_cells(step, nx, ny))
        sub = int(np.clip(np.sqrt(FINE_BUDGET / max(crossed, 1)), 1, MAX_SUB))
        fine = self._boundary_cells(step / sub, nx * sub, ny * sub)  # flat ids, fine grid
        fx, fy = fine % (nx * sub), fine // (nx * sub)
        mixed = np.unique((fy // sub) * nx + fx // sub)
        ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
        bx0, by0 = x0 + ix.ravel() * step, y0 + iy.ravel() * step
        grid = np.full(nx * ny, OUTSIDE, dtype=np.int32)
        grid[mixed] = MIXED
        # A cell no boundary touches has one answer for all its points: its centre's.
        clear = np.flatnonzero(grid != MIXED)
        grid[clear] = self._covering(bx0[clear] + step / 2, by0[clear] + step / 2)
        out = np.flatnonzero(grid == OUTSIDE)
        self._mark_far(grid, out, shapely.box(bx0[out], by0[out], bx0[out] + step, by0[out] + step))
        # Margin: a point a rounding error outside its cell's box still meets the polygons.
        pad = step * 1e-6
        mx, my = bx0[mixed], by0[mixed]
        self._candidates(
            grid, mixed, shapely.box(mx - pad, my - pad, mx + step + pad, my + step + pad)
        )
        self._grid = grid.reshape(ny, nx)
        self._sub = sub
        self._fine_grid(mixed, fine, fx, fy, nx, sub)

    def _boundary_cells(self, step: float, nx: int, ny: int) -> np.ndarray:
        """Flat ids (row-major, ``nx`` by ``ny``, origin at the bounds' corner) of every cell of
        side ``step`` that a polygon boundary touches, with a margin: a superset.

        Each boundary edge is cut into pieces no longer than one cell in x and y; a piece
        lies in the box spanned by its ends, so the cells of that box (at most 3 x 3 with
        the rounding margin) hold it.
        """
        x0, y0 = self._origin
        rings = shapely.get_rings(shapely.get_parts(self.geoms))
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        u, v = (xy[:, 0] - x0) / step, (xy[:, 1] - y0) / step
        edge = np.flatnonzero(ring[1:] == ring[:-1])
        ua, va, ub, vb = u[edge], v[edge], u[edge + 1], v[edge + 1]
        pieces = np.maximum(np.ceil(np.maximum(np.abs(ub - ua), np.abs(vb - va))), 1).astype(
            np.int64
        )
        which = np.repeat(np.arange(len(edge)), pieces)
        k = np.arange(len(which)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        t0, t1 = k / pieces[which], (k + 1) / pieces[which]
        du, dv = (ub - ua)[which], (vb - va)[which]
        pu0, pu1 = ua[which] + t0 * du, ua[which] + t1 * du
        pv0, pv1 = va[which] + t0 * dv, va[which] + t1 * dv
        eps = 1e-6  # cells; float error is ~1e-10 of a cell here
        ilo = np.floor(np.minimum(pu0, pu1) - eps).astype(np.int64)
        ihi = np.floor(np.maximum(pu0, pu1) + eps).astype(np.int64)
        jlo = np.floor(np.minimum(pv0, pv1) - eps).astype(np.int64)
        jhi = np.floor(np.maximum(pv0, pv1) + eps).astype(np.int64)
        ids = []
        for di in range(3):
            for dj in range(3):
                i, j = ilo + di, jlo + dj
                ok = (i <= ihi) & (j <= jhi) & (i >= 0) & (j >= 0) & (i < nx) & (j < ny)
                ids.append(j[ok] * nx + i[ok])
        return np.unique(np.concatenate(ids))

    def _covering(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Lowest polygon index covering each point, else OUTSIDE."""
        hits = self.tree.query(shapely.points(x, y), predicate="intersects")
        best = np.full(len(x), np.iinfo(np.int32).max, dtype=np.int64)
        np.minimum.at(best, hits[0], hits[1])
        best[best == np.iinfo(np.int32).max] = OUTSIDE
        return best

    def _fine_grid(
        self, mixed: np.ndarray, fine: np.ndarray, fx: np.ndarray, fy: np.ndarray, nx: int, sub: int
    ) -> None:
        """Sub-cells of each mixed cell: the polygon of a sub-cell no boundary touches (the
        centre of one sub-cell answers for its whole connected patch), MIXED for the rest."""
        slot = np.searchsorted(mixed, (fy // sub) * nx + fx // sub)
        marked = np.zeros((len(mixed), sub, sub), dtype=bool)
        marked[slot, fy % sub, fx % sub] = True
        # 4-connected patches within each block, never across blocks
        links = np.zeros((3, 3, 3), dtype=bool)
        links[1] = [[False, True, False], [True, True, True], [False, True, False]]
        patch, n = ndimage.label(~marked, structure=links)
        values = np.full(len(mixed) * sub * sub, MIXED, dtype=np.int32)
        if n:
            flat = patch.ravel()
            first = np.full(n + 1, -1, dtype=np.int64)
            cells = np.flatnonzero(flat)
            first[flat[cells]] = cells  # any sub-cell of the patch will do
            rep = first[1:]
            b, r = rep // (sub * sub), rep % (sub * sub)
            coarse = mixed[b]
            cx = (coarse % nx) * sub + r % sub
            cy = (coarse // nx) * sub + r // sub
            fstep = self._step / sub
            answer = self._covering(
                self._origin[0] + (cx + 0.5) * fstep, self._origin[1] + (cy + 0.5) * fstep
            )
            values[cells] = answer[flat[cells] - 1]
        self._fine = values

    def _candidates(self, grid: np.ndarray, mixed: np.ndarray, boxes: np.ndarray) -> None:
        """For each mixed cell (``boxes``: theirs), the polygons that touch it (CSR arrays,
        polygons ascending)."""
        pairs = self.tree.query(boxes, predicate="intersects")
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

    def _mark_far(self, grid: np.ndarray, out: np.ndarray, boxes: np.ndarray) -> None:
        """Mark the uncovered cells ``out`` (``boxes``: theirs) that lie beyond the tolerance
        (converted to degrees generously) as FAR."""
        lat_max = float(np.abs(shapely.total_bounds(self.geoms)[[1, 3]]).max())
        tol_deg = 1.01 * self.tolerance_m / (M_PER_DEG_LAT * np.cos(np.radians(min(lat_max, 80))))
        near = self.tree.query(boxes, predicate="dwithin", distance=tol_deg)[0]
        far = np.ones(len(out), dtype=bool)
        far[near] = False
        grid[out[far]] = FAR
        self._tol_deg = tol_deg

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the covering polygon per point (lowest code on ties), else -1 or -3.

        -3 (FAR) means certainly farther than the tolerance from every polygon (and
        non-finite coordinates); -1 means covered by none but possibly near one.
        """
        return self._grid_pass(
            np.ascontiguousarray(lon, dtype=np.float64), np.ascontiguousarray(lat, dtype=np.float64)
        )[0]

    def _grid_pass(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index, OUTSIDE or FAR; flag INSIDE/OUT/MISSING) per point, NEAREST not yet
        decided. The compiled grid pass answers most points; the rest are tested here."""
        ny, nx = self._grid.shape
        sub = self._sub
        # Coordinates on the fine grid; the coarse cell is the fine one divided by ``sub``,
        # so both levels round a point the same way.
        fstep = self._step / sub
        x0, y0 = self._origin
        # numba (~55 MB, plus ~60 MB once a kernel runs) loads on the first placement only:
        # importing geo.placement.placer (the OSM import does) does not pay for it
        from geo.placement.grid_jit import grid_lookup

        value, flag = grid_lookup(
            lon, lat, x0, y0, fstep, nx, ny, sub, self._grid.ravel(), self._slot, self._fine, FAR
        )
        mixed = np.flatnonzero(value == MIXED)
        if len(mixed):
            ix = ((lon[mixed] - x0) / fstep).astype(np.intp)
            iy = ((lat[mixed] - y0) / fstep).astype(np.intp)
            value[mixed] = self._mixed((iy // sub) * nx + ix // sub, lon[mixed], lat[mixed])
            flag[mixed] = np.where(value[mixed] >= 0, INSIDE, OUT)
        # Points just beyond the grid (e.g. on its far edge) may still touch or be near a polygon.
        off = np.flatnonzero(value == OFF_GRID)
        if len(off):
            fx, fy = (lon[off] - x0) / fstep, (lat[off] - y0) / fstep
            m = self._tol_deg / fstep
            edge = off[(fx >= -m) & (fx < nx * sub + m) & (fy >= -m) & (fy < ny * sub + m)]
            value[off] = FAR
            if len(edge):
                value[edge] = self._covering(lon[edge], lat[edge])
                flag[edge] = np.where(value[edge] >= 0, INSIDE, OUT)
        return value, flag

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
        lon = np.ascontiguousarray(lon, dtype=np.float64)
        lat = np.ascontiguousarray(lat, dtype=np.float64)
        idx, flags = self._grid_pass(lon, lat)
        miss = np.flatnonzero(idx == OUTSIDE)  # finite and possibly near (FAR: not near)
        if len(miss):
            near, _ = self.nearest(lon[miss], lat[miss], self.tolerance_m)
            idx[miss] = near
            flags[miss[near >= 0]] = NEAREST
        # one gather: FAR and OUTSIDE read None from the table's head
        return self._code_table.take(idx - FAR), flags
