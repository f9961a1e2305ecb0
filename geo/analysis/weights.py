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

from geo.errors import BadParameterError
from geo.grid.cells import CellSpec, cell_centres, project, square_colrow, square_keys
from geo.grid.h3lattice import h3_bin, lattice_centres, lattice_keys, shift_keys


def _h3_disks(cells: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(row index, neighbour id) pairs of every cell's k-disk via ``h3.grid_disk``."""
    disks = [h3i.grid_disk(c, k) for c in cells.tolist()]
    lens = np.fromiter(map(len, disks), dtype=np.int64, count=len(disks))
    flat = np.fromiter(itertools.chain.from_iterable(disks), dtype=np.int64, count=int(lens.sum()))
    return np.repeat(np.arange(cells.size), lens), flat


def hex_offsets(k: int) -> list[tuple[int, int]]:
    """Lattice steps (dm, dn) of a k-disk: axes at 120°, so (1, 1) is a unit step."""
    rng = range(-k, k + 1)
    return [
        (a, b)
        for a in rng
        for b in rng
        if (max(abs(a), abs(b)) if a * b >= 0 else abs(a) + abs(b)) <= k
    ]


def _h3_lattice(cells: np.ndarray, res: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Lattice key of each cell's centre, and whether its k-disk is a plain lattice disk:
    far (4(k+2) spacings) from every icosahedron face edge, hence from pentagons too."""
    ll = np.array([h3i.cell_to_latlng(c) for c in cells.tolist()], dtype=np.float64)
    ll = ll.reshape(-1, 2)
    key, unsure, gap = lattice_keys(ll[:, 1], ll[:, 0], res)
    spacing = np.sqrt(3.0) * h3i.average_hexagon_edge_length(res, "km") / 6371.0
    return key, ~unsure & (gap > 4 * (k + 2) * spacing)


def _h3_positions(cells: np.ndarray, res: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) index pairs of k-disk neighbours among the sorted ``cells``.

    Cells away from face edges use lattice arithmetic in numpy (checked against
    ``grid_disk`` in the tests); the others ask ``h3.grid_disk``."""
    key, regular = _h3_lattice(cells, res, k)
    order = np.argsort(key)
    skeys = key[order]
    reg = np.flatnonzero(regular)
    rows, cols = [], []
    for dm, dn in hex_offsets(k):
        nk = shift_keys(key[reg], dm, dn)
        p = np.minimum(np.searchsorted(skeys, nk), skeys.size - 1)
        found = skeys[p] == nk
        rows.append(reg[found])
        cols.append(order[p[found]])
    irr = np.flatnonzero(~regular)
    src, nb = _h3_disks(cells[irr], k)
    pos, found = _lookup(cells, nb)
    rows.append(irr[src[found]])
    cols.append(pos[found])
    return np.concatenate(rows), np.concatenate(cols)


def _h3_ring(observed: np.ndarray, res: int, k: int) -> np.ndarray:
    """Sorted cells within k of any observed cell."""
    key, regular = _h3_lattice(observed, res, k)
    reg_keys = key[regular]
    nks = np.unique(np.concatenate([shift_keys(reg_keys, dm, dn) for dm, dn in hex_offsets(k)]))
    lon, lat = lattice_centres(nks, res)
    ring, _ = h3_bin(lon, lat, res)
    _, nb = _h3_disks(observed[~regular], k)
    return np.unique(np.concatenate([ring, nb, observed]))


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
    n = cells.size
    if spec.kind == "h3" and n:
        rows, cols = _h3_positions(cells, int(spec.resolution or 0), k)
    else:
        src, nb = disks(cells, spec, k)
        pos, found = _lookup(cells, nb)
        rows, cols = src[found], pos[found]
    return sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))


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
    gc, gr = np.meshgrid(
        np.arange(col.min(), col.max() + 1), np.arange(row.min(), row.max() + 1), indexing="ij"
    )
    cc, rr = gc.ravel(), gr.ravel()
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
        rule = f"observed cells and their {max(k, 1)}-ring"
        if spec.kind == "h3":
            return _h3_ring(observed, int(spec.resolution or 0), max(k, 1)), rule
        _, nb = disks(observed, spec, max(k, 1))
        return np.unique(nb), rule
    if area == "hull":
        return _hull_cells(observed, spec), "cells with centre in the convex hull, and observed"
    raise BadParameterError("area must be 'ring', 'hull' or an array of cells", {"area": area})
