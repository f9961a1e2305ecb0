"""Vector tiles of points and of shapely geometries, built on :mod:`geo.tiles.mvt`.

:class:`PointIndex` keeps points sorted by Morton key (:mod:`geo.tiles.tilemath`), so a tile's
points, buffer included, are a few binary searches away; below ``raw_zoom`` points become
grid clusters (cells of 1/64 of a tile, ``point_count`` and the members' mean position), from
per-level run sums prepared once per index. :class:`FeatureSet` holds polygons, lines or
points in world coordinates with an STRtree; a tile clips them to its buffered square.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from geo.tiles import mvt
from geo.tiles.tilemath import KEY_ZOOM, buffered_ranges, gather, lonlat_to_world, world_keys

BUFFER_BITS = 6  # buffer and cluster cell: 1/64 of a tile (64 of 4096 units)
Columns = Mapping[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class TileSpec:
    z: int
    x: int
    y: int
    extent: int = mvt.EXTENT

    def to_tile(self, wx: np.ndarray, wy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tile coordinates (float) of world coordinates."""
        n = float(2**self.z)
        return (wx * n - self.x) * self.extent, (wy * n - self.y) * self.extent


@dataclass
class Clusters:
    """Per-level cluster runs of a key-sorted point set (see :meth:`PointIndex.clusters`)."""

    cells: np.ndarray  # int64 key of the level-cell (the point keys shifted)
    count: np.ndarray
    sum_x: np.ndarray
    sum_y: np.ndarray


@dataclass
class PointIndex:
    """Points sorted by Morton key, with their attribute columns in the same order."""

    keys: np.ndarray
    wx: np.ndarray
    wy: np.ndarray
    columns: dict[str, np.ndarray]
    _levels: dict[int, Clusters] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, lon: np.ndarray, lat: np.ndarray, columns: Columns) -> PointIndex:
        """Index points given in degrees; ``columns`` are aligned with them."""
        wx, wy = lonlat_to_world(lon, lat)
        keys = world_keys(wx, wy)
        order = np.argsort(keys, kind="stable")
        cols = {name: np.asarray(col)[order] for name, col in columns.items()}
        return cls(keys[order], wx[order], wy[order], cols)

    def __len__(self) -> int:
        return int(self.keys.size)

    def select(self, tile: TileSpec) -> np.ndarray:
        """Positions of the points in the tile and its buffer (tile first, then strips)."""
        lo, hi = buffered_ranges(tile.z, tile.x, tile.y, BUFFER_BITS)
        return gather(np.searchsorted(self.keys, lo), np.searchsorted(self.keys, hi))

    def clusters(self, level: int) -> Clusters:
        """Count and coordinate sums of the points of every occupied cell of zoom ``level``
        (computed once per level: the runs of equal shifted keys)."""
        found = self._levels.get(level)
        if found is None:
            cells = self.keys >> (2 * (KEY_ZOOM - level))
            start = np.flatnonzero(np.diff(cells, prepend=-1)) if cells.size else cells
            count = np.diff(np.append(start, cells.size))
            found = Clusters(
                cells[start],
                count,
                np.add.reduceat(self.wx, start) if start.size else self.wx[:0],
                np.add.reduceat(self.wy, start) if start.size else self.wy[:0],
            )
            self._levels[level] = found
        return found


def _merge_cells(
    cells: np.ndarray, count: np.ndarray, sx: np.ndarray, sy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clusters of the same cell from several sources as one (count, mean x, mean y)."""
    uniq, inverse = np.unique(cells, return_inverse=True)
    if uniq.size == cells.size:
        order = np.argsort(cells, kind="stable")
        return count[order], sx[order] / count[order], sy[order] / count[order]
    n = np.bincount(inverse, weights=count).astype(np.int64)
    mx = np.bincount(inverse, weights=sx) / n
    my = np.bincount(inverse, weights=sy) / n
    return n, mx, my


def cluster_tile(
    indexes: Sequence[PointIndex], tile: TileSpec, masks: Sequence[np.ndarray | None] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid clusters of the tile (cells of 1/64 tile, buffer strips included) over several
    indexes: (point_count, x, y) in world coordinates. Without masks the per-level run sums
    are used; with a mask (bool per selected point, from :meth:`PointIndex.select`) the
    selected points are grouped directly."""
    level = tile.z + BUFFER_BITS
    shift = 2 * (KEY_ZOOM - level)
    lo, hi = buffered_ranges(tile.z, tile.x, tile.y, BUFFER_BITS)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for i, index in enumerate(indexes):
        mask = masks[i] if masks is not None else None
        if mask is None:
            c = index.clusters(level)
            pos = gather(
                np.searchsorted(c.cells, lo >> shift), np.searchsorted(c.cells, hi >> shift)
            )
            parts.append((c.cells[pos], c.count[pos], c.sum_x[pos], c.sum_y[pos]))
            continue
        sel = index.select(tile)[mask]
        cells = index.keys[sel] >> shift
        uniq, inverse = np.unique(cells, return_inverse=True)
        count = np.bincount(inverse, minlength=uniq.size)
        sx = np.bincount(inverse, weights=index.wx[sel], minlength=uniq.size)
        sy = np.bincount(inverse, weights=index.wy[sel], minlength=uniq.size)
        parts.append((uniq, count, sx, sy))
    if not parts:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty
    cells, count, sx, sy = (np.concatenate([p[k] for p in parts]) for k in range(4))
    return _merge_cells(cells, count.astype(np.float64), sx, sy)


def points_layer(
    name: str,
    tile: TileSpec,
    wx: np.ndarray,
    wy: np.ndarray,
    properties: Columns | None = None,
    ids: np.ndarray | None = None,
) -> bytes:
    """An MVT layer of points given in world coordinates."""
    tx, ty = tile.to_tile(wx, wy)
    return mvt.layer(name, mvt.points(tx, ty), properties, ids, tile.extent)


@dataclass
class FeatureSet:
    """Geometries (world coordinates) with attribute columns and a spatial index."""

    geometries: np.ndarray  # shapely geometries, world coordinates
    columns: dict[str, np.ndarray]
    tree: shapely.STRtree

    @classmethod
    def from_lonlat(cls, geometries: Sequence[shapely.Geometry], columns: Columns) -> FeatureSet:
        """Geometries in lon/lat degrees (EPSG:4326), reprojected to world coordinates."""
        geoms = np.asarray(geometries, dtype=object)
        world = shapely.transform(geoms, _world_xy) if geoms.size else geoms
        return cls(world, {k: np.asarray(v) for k, v in columns.items()}, shapely.STRtree(world))

    def __len__(self) -> int:
        return int(self.geometries.size)

    def layer(self, name: str, tile: TileSpec, buffer: int = 64) -> bytes:
        """The tile's MVT layer: features clipped to the tile and its buffer."""
        n = float(2**tile.z)
        pad = buffer / tile.extent
        box = (
            (tile.x - pad) / n,
            (tile.y - pad) / n,
            (tile.x + 1 + pad) / n,
            (tile.y + 1 + pad) / n,
        )
        hits = np.sort(self.tree.query(shapely.box(*box), predicate="intersects"))
        props = {k: v[hits] for k, v in self.columns.items()}
        geoms = self.geometries[hits]
        scale = tile.extent * n
        local = (
            shapely.transform(geoms, lambda c: (c - [tile.x / n, tile.y / n]) * scale)
            if hits.size
            else geoms
        )
        return encode_geometries(name, local, props, tile.extent, buffer)


def _world_xy(coords: np.ndarray) -> np.ndarray:
    wx, wy = lonlat_to_world(coords[:, 0], coords[:, 1])
    return np.column_stack([wx, wy])


def encode_geometries(
    name: str,
    geoms: np.ndarray,
    properties: Columns,
    extent: int = mvt.EXTENT,
    buffer: int = 64,
) -> bytes:
    """An MVT layer of shapely geometries in tile coordinates, clipped to the buffered tile.

    All features of a layer must share one kind: points, lines or polygons (multi-parts
    allowed)."""
    if geoms.size == 0:
        return mvt.layer(name, mvt.points(np.zeros(0), np.zeros(0)), {}, None, extent)
    kind = shapely.get_type_id(geoms[0])
    if kind in (0, 4):  # points: one per feature (multi-points keep their first part)
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        _, firsts = np.unique(owner, return_index=True)
        pts = coords[firsts]
        inside = (np.abs(pts - extent / 2) <= extent / 2 + buffer).all(axis=1)
        keep = np.zeros(geoms.size, dtype=bool)
        keep[owner[firsts][inside]] = True
        g = mvt.points(pts[inside, 0], pts[inside, 1])
        return mvt.layer(name, g, {k: v[keep] for k, v in properties.items()}, None, extent)
    clipped = shapely.clip_by_rect(geoms, -buffer, -buffer, extent + buffer, extent + buffer)
    if kind in (3, 6):
        parts, owner = shapely.get_parts(clipped, return_index=True)
        polygon = shapely.get_type_id(parts) == 3
        parts, owner = parts[polygon], owner[polygon]
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        ring_owner = owner[ring_part]
        first_ring = np.ones(rings.size, dtype=bool)
        first_ring[1:] = ring_part[1:] != ring_part[:-1]
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        counts = np.bincount(ring_of, minlength=rings.size)
        g = mvt.paths(
            coords[:, 0], coords[:, 1], counts, ring_owner, geoms.size, exterior=first_ring
        )
    else:
        lines, lines_owner = shapely.get_parts(clipped, return_index=True)
        line = shapely.get_type_id(lines) == 1
        lines, lines_owner = lines[line], lines_owner[line]
        coords, line_of = shapely.get_coordinates(lines, return_index=True)
        counts = np.bincount(line_of, minlength=lines.size)
        g = mvt.paths(coords[:, 0], coords[:, 1], counts, lines_owner, geoms.size)
    return mvt.layer(name, g, properties, None, extent)
