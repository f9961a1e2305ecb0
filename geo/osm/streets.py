"""Streets from OSM ways: merged by name and connectivity, cut into cuadras at every crossing.

- **Merging.** Ways whose normalised names are equal form one street when they share a node
  or come within :data:`MERGE_GAP_M` of each other (the two carriageways of an avenue, a
  street interrupted by a plaza). The same name farther apart stays two streets (Jr. Lima
  in two towns).
- **Intersections.** Wherever ways of two different streets share a node (anywhere along
  them, not only at their ends), and where they cross without a shared node unless one is a
  bridge or a tunnel.
- **Cuadras.** Each way is cut at the intersections on it; a piece belongs to cuadra *k* of
  its street when *k-1* crossings lie before its midpoint along the street's main axis (the
  Peruvian rule: blocks are counted from the street's start, one per crossing). The start
  is the end where the street's address points have their lowest numbers, or else the end
  nearer the city centre. Cuadra *k* gets the numbers 100k-100k+99 on both sides (flagged
  ``numbering`` = ``addresses`` or ``centre`` so the geocoder knows it is inferred).
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.boundaries import LocalMetric
from geo.geocode.normalise import normalise as _normalise
from geo.osm.read import OsmData

normalise = functools.lru_cache(maxsize=65536)(_normalise)  # names repeat: one regex pass each

MERGE_GAP_M = 40.0  # same-named ways closer than this are one street
CUT_CLUSTER_M = 25.0  # crossings closer than this along a street count as one (dual roads)


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class StreetNetwork:
    """Cuadra segments (EPSG:4326) and the intersections, with counts for the report."""

    segments: gpd.GeoDataFrame
    intersections: gpd.GeoDataFrame  # street_a, street_b (osm street ids), geometry
    ways: int
    streets: int


def merge_ways(data: OsmData, metric: LocalMetric) -> tuple[list[int], list[np.ndarray]]:
    """Street number of each way (merged by name and connectivity) and the ways' xy arrays."""
    xy = []
    for w in data.ways:
        x, y = metric.forward(
            np.frombuffer(data.lons, dtype=float)[w.start : w.end],
            np.frombuffer(data.lats, dtype=float)[w.start : w.end],
        )
        xy.append(np.column_stack([x, y]))
    union = _Union(len(data.ways))
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, w in enumerate(data.ways):
        by_key[normalise(w.name)].append(i)
    refs = np.frombuffer(data.refs, dtype=np.int64)
    for members in by_key.values():
        if len(members) < 2:
            continue
        owner: dict[int, int] = {}
        for i in members:
            w = data.ways[i]
            for ref in refs[w.start : w.end].tolist():
                j = owner.setdefault(ref, i)
                if j != i:
                    union.union(i, j)
        lines = _lines([xy[i] for i in members])
        left, right = shapely.STRtree(lines).query(lines, predicate="dwithin", distance=MERGE_GAP_M)
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            if a < b:
                union.union(members[a], members[b])
    roots: dict[int, int] = {}
    street_of = [roots.setdefault(union.find(i), len(roots)) for i in range(len(data.ways))]
    return street_of, xy


def _crossings(
    data: OsmData, street_of: list[int], xy: list[np.ndarray]
) -> dict[int, list[tuple[float, float, int]]]:
    """Per way, the points where another street meets it: (x, y, other street)."""
    refs = np.frombuffer(data.refs, dtype=np.int64)
    at_node: dict[int, set[int]] = defaultdict(set)
    for i, w in enumerate(data.ways):
        for ref in refs[w.start : w.end].tolist():
            at_node[ref].add(street_of[i])
    shared = {ref for ref, s in at_node.items() if len(s) > 1}
    cuts: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
    for i, w in enumerate(data.ways):
        way_refs = refs[w.start : w.end].tolist()
        for k in [k for k, ref in enumerate(way_refs) if ref in shared]:
            for other in at_node[way_refs[k]] - {street_of[i]}:
                cuts[i].append((float(xy[i][k, 0]), float(xy[i][k, 1]), other))
    # crossings without a shared node (bad data, or a missing node): not bridges or tunnels
    lines = _lines(xy)
    left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b or street_of[a] == street_of[b]:
            continue
        if data.ways[a].layered or data.ways[b].layered:
            continue
        if set(refs[data.ways[a].start : data.ways[a].end].tolist()) & set(
            refs[data.ways[b].start : data.ways[b].end].tolist()
        ):
            continue
        points = shapely.get_coordinates(shapely.intersection(lines[a], lines[b]))
        for x, y in points.tolist():
            cuts[a].append((x, y, street_of[b]))
            cuts[b].append((x, y, street_of[a]))
    return cuts


def _split(line_xy: np.ndarray, cuts: list[tuple[float, float]]) -> list[np.ndarray]:
    """Pieces of a polyline cut at the given points, each ending exactly on its cut points."""
    line = shapely.linestrings(line_xy)
    if not cuts:
        return [line_xy]
    pts = np.asarray(cuts, dtype=float)
    at = shapely.line_locate_point(line, shapely.points(pts))
    seg_len = np.hypot(*np.diff(line_xy, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    total = float(cum[-1])
    marks: list[tuple[float, np.ndarray]] = [(0.0, line_xy[0])]
    end = line_xy[-1]
    for k in np.argsort(at).tolist():
        d = float(at[k])
        if d < 0.5:
            marks[0] = (0.0, pts[k])  # the crossing is the way's first vertex
        elif total - d < 0.5:
            end = pts[k]
        elif d - marks[-1][0] >= 0.5:
            marks.append((d, pts[k]))
    marks.append((total, end))
    pieces = []
    for (d0, p0), (d1, p1) in itertools.pairwise(marks):
        inner = line_xy[(cum > d0 + 1e-6) & (cum < d1 - 1e-6)]
        pieces.append(np.vstack([p0, inner, p1]))
    return pieces


def _cluster(values: np.ndarray, gap: float) -> np.ndarray:
    if len(values) == 0:
        return values
    values = np.sort(values)
    keep = np.concatenate([[True], np.diff(values) > gap])
    result: np.ndarray = values[keep]
    return result


def build_streets(
    data: OsmData,
    metric: LocalMetric,
    *,
    centre: tuple[float, float],
    numbers_by_key: dict[str, list[tuple[float, float, int]]] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> StreetNetwork:
    """Cuadra segments and intersections; ``centre`` (x, y metres) orients unnumbered streets.

    ``numbers_by_key``: address points (x, y, number) per street key, to orient streets by
    their house numbers.
    """
    street_of, xy = merge_ways(data, metric)
    cuts = _crossings(data, street_of, xy)
    members: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(street_of):
        members[s].append(i)
    rows: list[dict[str, Any]] = []
    geoms: list[np.ndarray] = []
    inter_rows: list[tuple[str, str, float, float]] = []
    sid = {s: f"osm{min(data.ways[i].osm_id for i in ways)}" for s, ways in members.items()}
    numbers = {k: np.asarray(v, dtype=float) for k, v in (numbers_by_key or {}).items() if v}
    for done, (s, ways) in enumerate(members.items()):
        if progress is not None and done % 500 == 0:
            progress("streets", done, len(members))
        pts = np.vstack([xy[i] for i in ways])
        centre_xy = pts.mean(axis=0)
        # main axis (PCA); oriented by house numbers, else starting at the end nearer the centre
        _, _, vt = np.linalg.svd(pts - centre_xy, full_matrices=False)
        axis = vt[0]
        key = normalise(data.ways[ways[0]].name)
        numbered = _near(numbers.get(key), pts, 60.0)
        numbering = "centre"
        if len(numbered) >= 3:
            proj = (numbered[:, :2] - centre_xy) @ axis
            nums = numbered[:, 2]
            if np.std(proj) > 0 and np.std(nums) > 0:
                if np.corrcoef(proj, nums)[0, 1] < 0:
                    axis = -axis
                numbering = "addresses"
        if numbering == "centre":
            ends = (pts - centre_xy) @ axis
            lo, hi = pts[np.argmin(ends)], pts[np.argmax(ends)]
            if np.hypot(*(hi - centre)) < np.hypot(*(lo - centre)):
                axis = -axis
        cut_proj = _cluster(
            np.array(
                [
                    (c[0] - centre_xy[0]) * axis[0] + (c[1] - centre_xy[1]) * axis[1]
                    for i in ways
                    for c in cuts.get(i, [])
                ]
            ),
            CUT_CLUSTER_M,
        )
        name = data.ways[ways[0]].name
        aliases = sorted({a for i in ways for a in data.ways[i].aliases} - {name})
        for i in ways:
            for c in cuts.get(i, []):
                inter_rows.append((sid[s], sid[c[2]], c[0], c[1]))
            for n, piece in enumerate(_split(xy[i], [(c[0], c[1]) for c in cuts.get(i, [])])):
                mid = (piece[0] + piece[-1]) / 2
                along = float((mid - centre_xy) @ axis)
                cuadra = max(1, int(np.searchsorted(cut_proj, along)))
                rows.append(
                    {
                        "code": f"{sid[s]}-{data.ways[i].osm_id}-{n}",
                        "name": name,
                        "osm_street": sid[s],
                        "aliases": "|".join(aliases),
                        "highway": data.ways[i].highway,
                        "cuadra": cuadra,
                        "from_left": 100 * cuadra + 1,
                        "to_left": 100 * cuadra + 99,
                        "from_right": 100 * cuadra,
                        "to_right": 100 * cuadra + 98,
                        "numbering": numbering,
                    }
                )
                geoms.append(piece)
    if progress is not None:
        progress("streets", len(members), len(members))
    lonlat = [np.column_stack(metric.inverse(g[:, 0], g[:, 1])) for g in geoms]
    segments = gpd.GeoDataFrame(rows, geometry=_lines(lonlat), crs="EPSG:4326")
    if inter_rows:
        ix, iy = metric.inverse(
            np.array([r[2] for r in inter_rows]), np.array([r[3] for r in inter_rows])
        )
        inter = gpd.GeoDataFrame(
            {"street_a": [r[0] for r in inter_rows], "street_b": [r[1] for r in inter_rows]},
            geometry=shapely.points(ix, iy),
            crs="EPSG:4326",
        )
    else:
        inter = gpd.GeoDataFrame({"street_a": [], "street_b": []}, geometry=[], crs="EPSG:4326")
    return StreetNetwork(segments, inter, len(data.ways), len(members))


def _lines(coords: list[np.ndarray]) -> np.ndarray:
    out = np.empty(len(coords), dtype=object)
    out[:] = [shapely.LineString(c) for c in coords]
    return out


def _near(points: np.ndarray | None, pts: np.ndarray, dist: float) -> np.ndarray:
    """Rows (x, y, number) of ``points`` within ``dist`` of a vertex of the street ``pts``."""
    if points is None:
        return np.zeros((0, 3))
    x0, y0 = pts.min(axis=0) - dist
    x1, y1 = pts.max(axis=0) + dist
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1)
    box = points[inside & (points[:, 1] >= y0) & (points[:, 1] <= y1)]
    if len(box) == 0:
        result: np.ndarray = box
        return result
    tree = shapely.STRtree(shapely.points(pts))
    found, _ = tree.query(shapely.points(box[:, :2]), predicate="dwithin", distance=dist)
    result = box[np.unique(found)]
    return result
