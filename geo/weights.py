"""Spatial weights between cells, as scipy.sparse CSR matrices over a sorted cell array.

Binary weights only: ``w_ij = 1`` when j is within k rings (H3 ``grid_disk``, or the
(2k+1)² block of a square grid) or within a distance band of i. ``self_weight=True`` puts
ones on the diagonal, which is what Getis-Ord Gi* uses.

Study area (which zero-count cells exist) — Gi* depends on it, so it is explicit:

- ``"ring"`` (default): the observed cells plus every cell within k rings of one of them.
  A zero-count cell enters only if it could be some observed cell's neighbour.
- ``"hull"``: every cell whose centre lies in the convex hull of the observed cells'
  centres, plus the observed cells.
- an array of cell ids (e.g. the station's jurisdiction from ``h3.polygon_to_cells``):
  exactly those cells; incidents outside them are dropped and counted.
"""

from __future__ import annotations

import itertools

import h3.api.basic_int as h3i
import numpy as np
import shapely
from scipy import sparse
from scipy.spatial import ConvexHull, cKDTree

from geo.cells import CellSpec, cell_centres, project, square_colrow, square_keys
from geo.hotspot_errors import BadParameterError


def _h3_disks(cells: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(row index, neighbour id) pairs of every cell's k-disk, self included."""
    disks = [h3i.grid_disk(c, k) for c in cells.tolist()]
    lens = np.fromiter(map(len, disks), dtype=np.int64, count=len(disks))
    flat = np.fromiter(itertools.chain.from_iterable(disks), dtype=np.int64, count=int(lens.sum()))
    return np.repeat(np.arange(cells.size), lens), flat


def _square_disks(cells: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    col, row = square_colrow(cells)
    offs = np.arange(-k, k + 1)
    dc, dr = (a.ravel() for a in np.meshgrid(offs, offs, indexing="ij"))
    nb = square_keys(col[:, None] + dc[None, :], row[:, None] + dr[None, :])
    return np.repeat(np.arange(cells.size), dc.size), nb.ravel()


def disks(cells: np.ndarray, spec: CellSpec, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row index and neighbour cell id of every cell's k-neighbourhood (self included)."""
    if k < 0:
        raise BadParameterError("k must be >= 0", {"k": k})
    if spec.kind == "h3":
        return _h3_disks(cells, k)
    return _square_disks(cells, k)


def _lookup(cells: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each id in the sorted ``cells`` and whether it is there."""
    pos = np.searchsorted(cells, ids)
    pos = np.minimum(pos, max(cells.size - 1, 0))
    found = cells[pos] == ids if cells.size else np.zeros(ids.size, dtype=bool)
    return pos, found


def kring_weights(cells: np.ndarray, spec: CellSpec, k: int = 1) -> sparse.csr_matrix:
    """Binary k-ring weights (self included) among the sorted ``cells``."""
    src, nb = disks(cells, spec, k)
    pos, found = _lookup(cells, nb)
    n = cells.size
    data = np.ones(int(found.sum()))
    return sparse.csr_matrix((data, (src[found], pos[found])), shape=(n, n))


def distance_pairs(x: np.ndarray, y: np.ndarray, max_d: float) -> tuple[np.ndarray, ...]:
    """Unordered pairs (i < j) of points at most ``max_d`` apart, and their distances."""
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_pairs(max_d, output_type="ndarray")
    if pairs.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    i, j = pairs[:, 0], pairs[:, 1]
    return i, j, np.hypot(x[i] - x[j], y[i] - y[j])


def band_weights(
    x: np.ndarray, y: np.ndarray, band: float, *, self_weight: bool = True
) -> sparse.csr_matrix:
    """Binary distance-band weights: 1 when centres are at most ``band`` metres apart."""
    if not band > 0:
        raise BadParameterError("distance band must be > 0", {"band_m": band})
    i, j, _ = distance_pairs(x, y, band)
    n = x.size
    rows = np.concatenate([i, j, np.arange(n)] if self_weight else [i, j])
    cols = np.concatenate([j, i, np.arange(n)] if self_weight else [j, i])
    return sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))


def _hull_cells(observed: np.ndarray, spec: CellSpec) -> np.ndarray:
    lon, lat = cell_centres(observed, spec)
    if observed.size < 3:
        return observed
    pts = np.column_stack([lon, lat])
    try:
        hull = pts[ConvexHull(pts).vertices]
    except Exception:  # collinear centres: no 2-D hull
        return observed
    if spec.kind == "h3":
        poly = h3i.LatLngPoly([(float(b), float(a)) for a, b in hull])
        inside = np.array(h3i.polygon_to_cells(poly, int(spec.resolution or 0)), dtype=np.int64)
        return np.union1d(observed, inside)
    epsg, size = int(spec.epsg or 0), float(spec.size_m or 0.0)
    hx, hy = project(hull[:, 0], hull[:, 1], epsg)
    col, row = square_colrow(observed)
    cc, rr = np.meshgrid(
        np.arange(col.min(), col.max() + 1), np.arange(row.min(), row.max() + 1), indexing="ij"
    )
    cc, rr = cc.ravel(), rr.ravel()
    inside = shapely.contains_xy(
        shapely.Polygon(np.column_stack([hx, hy])), (cc + 0.5) * size, (rr + 0.5) * size
    )
    return np.union1d(observed, square_keys(cc[inside], rr[inside]))


def study_cells(
    observed: np.ndarray, spec: CellSpec, area: str | np.ndarray, k: int = 1
) -> tuple[np.ndarray, str]:
    """Sorted cells of the study area and the rule used (see the module docstring)."""
    observed = np.unique(np.asarray(observed, dtype=np.int64))
    if not isinstance(area, str):
        return np.unique(np.asarray(area, dtype=np.int64)), "given cells"
    if observed.size == 0:
        return observed, f"{area}: no incidents"
    if area == "ring":
        _, nb = disks(observed, spec, max(k, 1))
        return np.unique(nb), f"observed cells and their {max(k, 1)}-ring"
    if area == "hull":
        return _hull_cells(observed, spec), "cells with centre in the convex hull, and observed"
    raise BadParameterError("area must be 'ring', 'hull' or an array of cells", {"area": area})
