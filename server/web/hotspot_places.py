"""What a hotspot cell covers and how it changed: the facts behind the map's hotspot pop-up
and the printable briefing (``server.web.briefing``).

The cells are the map's own: Gi* computed by ``geo.analysis.hotspots.compute_hotspots`` with the
same defaults and the same incidents as ``/web/data/hotspots.geojson``, so a clicked cell is
found again by its point. "Change" is the cell's count minus its count in the period just
before (``filters.previous_period``: as many days, or as many whole months), in the same
cells. Streets are the named streets crossing the cell, longest stretch inside first; the
sector is the patrol sector covering most of it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import h3
import numpy as np
import shapely
from shapely.strtree import STRtree
from starlette.requests import Request

from geo.analysis.hotspots import HotspotResult, compute_hotspots
from geo.grid.cells import point_cells
from server.context import ctx
from server.web.filters import MapView, previous_period, window_query
from sync.errors import InvalidRequest
from sync.store.base import Store
from sync.store.records import Boundary, PointQuery

MIN_INCIDENTS = 3  # as the map's layer: fewer, and Gi* has nothing to compare a cell with
MAX_STREETS = 4
TOP_PLACES = 10
_CACHE = "review_place_index"


@dataclass(frozen=True)
class _Layer:
    tree: STRtree
    geoms: np.ndarray
    names: list[str]
    codes: list[str]

    @classmethod
    def of(cls, items: list[Boundary]) -> _Layer:
        geoms = np.asarray(shapely.from_wkb([b.geometry for b in items]), dtype=object)
        return cls(STRtree(geoms), geoms, [b.name for b in items], [b.code for b in items])


@dataclass(frozen=True)
class PlaceIndex:
    """Streets and sectors, indexed once per process (boundaries change by an import)."""

    streets: _Layer
    sectors: _Layer

    def streets_in(self, cell: shapely.Polygon) -> list[str]:
        hits = self.streets.tree.query(cell, predicate="intersects")
        if hits.size == 0:
            return []
        lengths = shapely.length(shapely.intersection(self.streets.geoms[hits], cell))
        by_name: dict[str, float] = {}
        for i, length in zip(hits.tolist(), lengths.tolist(), strict=True):
            name = self.streets.names[i].strip()
            if name:
                by_name[name] = by_name.get(name, 0.0) + length
        ranked = sorted(by_name.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, _ in ranked[:MAX_STREETS]]

    def sector_of(self, cell: shapely.Polygon) -> dict[str, str] | None:
        hits = self.sectors.tree.query(cell, predicate="intersects")
        if hits.size == 0:
            return None
        areas = shapely.area(shapely.intersection(self.sectors.geoms[hits], cell))
        best = int(hits[int(np.argmax(areas))])
        return {"code": self.sectors.codes[best], "name": self.sectors.names[best]}


async def place_index(request: Request) -> PlaceIndex:
    state = request.app.state
    found: PlaceIndex | None = getattr(state, _CACHE, None)
    if found is None:
        store = ctx(request).store
        streets, sectors = await store.boundaries("streets"), await store.boundaries("sectors")
        found = await asyncio.to_thread(lambda: PlaceIndex(_Layer.of(streets), _Layer.of(sectors)))
        setattr(state, _CACHE, found)
    return found


def cell_polygon(cell: int) -> shapely.Polygon:
    return shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))])


@dataclass(frozen=True)
class HotCells:
    """The map's hotspots of some incidents, with an earlier period's counts in the same
    cells (the map's view: ``Analysis``; CompStat's periods: ``hot_cells``)."""

    result: HotspotResult | None  # None: too few incidents for Gi*
    n: int
    previous_counts: dict[int, int]

    def index_of(self, cell: int) -> int | None:
        if self.result is None:
            return None
        found = np.flatnonzero(self.result.cells == cell)
        return int(found[0]) if found.size else None

    def cell_at(self, lon: float, lat: float) -> int | None:
        if self.result is None:
            return None
        return int(point_cells(np.array([lon]), np.array([lat]), self.result.spec)[0])

    def facts(self, i: int, places: PlaceIndex) -> dict[str, Any]:
        """One cell as the pop-up and the briefing show it."""
        assert self.result is not None
        r = self.result
        cell = int(r.cells[i])
        polygon = cell_polygon(cell)
        count, before = int(r.counts[i]), self.previous_counts.get(cell, 0)
        centre = polygon.centroid
        return {
            "cell": h3.int_to_str(cell),
            "count": count,
            "z": round(float(r.z[i]), 2),
            "gi_bin": int(r.gi_bin[i]),
            "previous_count": before,
            "change": count - before,
            "change_pct": round((count - before) * 100 / before) if before else None,
            "streets": places.streets_in(polygon),
            "sector": places.sector_of(polygon),
            "center": [round(centre.x, 6), round(centre.y, 6)],
        }

    def top(self, places: PlaceIndex, limit: int = TOP_PLACES) -> list[dict[str, Any]]:
        """The hot cells (Gi* bins +1..+3), most incidents first (then the higher z)."""
        if self.result is None:
            return []
        r = self.result
        hot = np.flatnonzero(r.gi_bin > 0)
        order = hot[np.lexsort((-r.z[hot], -r.counts[hot]))][:limit]
        return [self.facts(int(i), places) for i in order]


def _hotspots(cols: dict[str, np.ndarray]) -> HotspotResult:
    zero = np.zeros(cols["lon"].size, dtype=np.int64)  # the map layer's call, exactly
    return compute_hotspots(cols["lon"], cols["lat"], cols["occurred_s"], zero)


@dataclass(frozen=True)
class Analysis(HotCells):
    """The map's hotspots for a view, with the previous period's counts in the same cells."""

    view: MapView = field(kw_only=True)
    previous: tuple[dt.date, dt.date] = field(kw_only=True)


async def hot_cells(
    store: Store, query: PointQuery, earlier: PointQuery, district: str | None = None
) -> HotCells:
    """Hotspots of the incidents of ``query``, and the counts of ``earlier`` in its cells
    (of one district, as placement assigned it, when ``district`` is given)."""
    cols = await _points(store, query, ("lon", "lat", "occurred_s"), district)
    n = int(cols["lon"].size)
    if n < MIN_INCIDENTS:
        return HotCells(None, n, {})
    result = await asyncio.to_thread(_hotspots, cols)
    if result.spec.kind != "h3":
        raise InvalidRequest("hotspot places are computed on H3 cells only")
    old = await _points(store, earlier, ("lon", "lat"), district)
    cells = point_cells(old["lon"], old["lat"], result.spec)
    distinct, counts = np.unique(cells, return_counts=True)
    previous = dict(zip(distinct.tolist(), counts.tolist(), strict=True))
    return HotCells(result, n, previous)


async def _points(
    store: Store, query: PointQuery, columns: tuple[str, ...], district: str | None
) -> dict[str, np.ndarray]:
    if district is None:
        return await store.points(query, columns)
    cols = await store.points(query, (*columns, "district"))
    keep = cols.pop("district") == district
    return {k: v[keep] for k, v in cols.items()}


async def analyse(view: MapView, request: Request) -> Analysis:
    c = ctx(request)
    before = previous_period(view.since, view.until)
    offset = c.settings.public.utc_offset_minutes * 60
    found = await hot_cells(c.store, view.query, window_query(view, *before, offset))
    return Analysis(found.result, found.n, found.previous_counts, view=view, previous=before)
