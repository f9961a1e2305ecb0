"""Map layers: the registry, request filters, access rules and the data behind tiles and
OGC API Features.

Every layer is built for a *scope* (the stations ``engine.scope`` gives the caller, exactly as
sync does; None for all) and *filters* (a time window and categories), and cached by the
data version it was built from (:mod:`server.tilecache`). No layer carries personal data:
incident points have id, category, occurrence time, district and sector only, and the public
layer only the district totals ``/public`` publishes (its rules, docs/public.md).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import shapely
from starlette.requests import Request

from geo.cells import CellSpec
from geo.density import compute_density
from geo.hotspots import area_positions, gi_from_counts
from geo.tiles import FeatureSet, PointIndex
from geo.weights import kring_weights, study_cells
from server.auth import authenticate_map_reader
from server.context import ctx
from server.maps.window import Window, categories, interval
from server.settings import LayerSettings, PublicSettings
from server.tilecache import Throttle, TileCache, Versions
from sync.errors import InvalidRequest
from sync.store.base import Store
from sync.store.records import POINT_COLUMNS, PointQuery

Access = Literal["scoped", "public"]
Scope = tuple[str, ...] | None
POINT_FIELDS = tuple(c for c in POINT_COLUMNS if c != "cell")


@dataclass(frozen=True, slots=True)
class LayerDef:
    id: str
    title: str
    description: str
    geometry: Literal["point", "line", "polygon"]
    access: Access
    depends: tuple[str, ...]  # data groups: incidents, tracks, boundaries
    fields: dict[str, str]  # name -> JSON type (string, number, integer, boolean)
    minzoom: int = 0
    maxzoom: int = 18


INCIDENT_FIELDS = {"id": "string", "category": "string", "occurred_at": "string"}
INCIDENT_FIELDS |= {"district": "string", "sector": "string"}
LAYERS: dict[str, LayerDef] = {
    d.id: d
    for d in (
        LayerDef(
            "incidents",
            "Incidents",
            "Placed incidents in your jurisdiction (no personal "
            "data); grid clusters with point_count below the raw-points zoom.",
            "point",
            "scoped",
            ("incidents",),
            {**INCIDENT_FIELDS, "point_count": "integer"},
        ),
        LayerDef(
            "hotspots",
            "Hotspot cells",
            "Getis-Ord Gi* with FDR on H3 cells: gi_bin +3..-3 (99/95/90 % hot or cold).",
            "polygon",
            "scoped",
            ("incidents",),
            {
                "cell": "string",
                "count": "integer",
                "z": "number",
                "p_fdr": "number",
                "gi_bin": "integer",
            },
        ),
        LayerDef(
            "density",
            "Kernel density",
            "Quartic kernel density (incidents per km²) "
            "on a 200 m grid (cells over 10 % of the maximum); class 1..5 by fifths.",
            "polygon",
            "scoped",
            ("incidents",),
            {"density": "number", "class": "integer"},
        ),
        LayerDef(
            "districts",
            "Districts",
            "Districts with the incidents you may see and their rate per 10,000 residents.",
            "polygon",
            "scoped",
            ("incidents", "boundaries"),
            {
                "code": "string",
                "name": "string",
                "population": "integer",
                "count": "integer",
                "rate_per_10k": "number",
            },
        ),
        LayerDef(
            "stations",
            "Police stations",
            "Comisarías.",
            "point",
            "public",
            ("boundaries",),
            {"code": "string", "name": "string", "district_code": "string"},
        ),
        LayerDef(
            "sectors",
            "Patrol sectors",
            "Patrol sectors of your stations.",
            "polygon",
            "scoped",
            ("boundaries",),
            {"code": "string", "name": "string", "station_code": "string"},
        ),
        LayerDef(
            "streets",
            "Streets",
            "Named streets, one line per street: around your stations' areas (about 1 km "
            "beyond them) for a station's officers, the whole city for all-station roles.",
            "line",
            "scoped",
            ("boundaries",),
            {"code": "string", "name": "string", "type": "string", "district_code": "string"},
            minzoom=12,
        ),
        LayerDef(
            "tracks",
            "Patrol tracks",
            "Patrol positions as lines per device and shift.",
            "line",
            "scoped",
            ("tracks",),
            {
                "id": "string",
                "device_id": "string",
                "officer_id": "string",
                "station_id": "string",
                "start": "string",
                "end": "string",
                "points": "integer",
            },
        ),
        LayerDef(
            "public",
            "Public district counts",
            "Incidents per district in the latest published month, under the publication "
            "rules of /public (docs/public.md): the time and category filters do not apply.",
            "polygon",
            "public",
            ("incidents", "boundaries"),
            {
                "code": "string",
                "name": "string",
                "month": "string",
                "count": "integer",
                "suppressed": "boolean",
                "rate_per_10k": "number",
            },
        ),
    )
}


# --- filters ---


def parse_filters(request: Request) -> Window:
    """``datetime`` (an OGC instant or closed interval; a date is a whole local day) and
    ``category`` (comma-separated) from the query string: the rule of ``server.maps.window``."""
    params = request.query_params
    offset = ctx(request).settings.public.utc_offset_minutes * 60
    since, until = interval(params.get("datetime"), offset)
    return Window(since, until, categories(params.getlist("category")))


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if not raw:
        return None
    try:
        parts = [float(v) for v in raw.split(",")]
    except ValueError as exc:
        raise InvalidRequest("bbox must be four numbers", {"bbox": raw[:80]}) from exc
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or not all(np.isfinite(parts)):
        raise InvalidRequest("bbox must be minlon,minlat,maxlon,maxlat", {"bbox": raw[:80]})
    return parts[0], parts[1], parts[2], parts[3]


def iso(seconds: np.ndarray) -> np.ndarray:
    """RFC 3339 UTC strings of epoch seconds (object array)."""
    text = np.datetime_as_string(np.asarray(seconds, dtype="datetime64[s]"), unit="s")
    return np.char.add(text, "Z").astype(object)


# --- tables ---


@dataclass
class FeatureTable:
    """A layer's features for one scope and filters: lon/lat geometries, sorted by id."""

    ids: np.ndarray  # object (str), sorted
    geometries: np.ndarray  # shapely, lon/lat
    columns: dict[str, np.ndarray]
    _tiles: FeatureSet | None = None

    def tileset(self) -> FeatureSet:
        if self._tiles is None:
            self._tiles = FeatureSet.from_lonlat(list(self.geometries), self.columns)
        return self._tiles


def table(ids: list[str], geoms: list[Any], columns: Mapping[str, Any]) -> FeatureTable:
    order = np.argsort(np.array(ids, dtype=object), kind="stable") if ids else np.zeros(0, int)
    cols = {
        k: np.asarray(v, dtype=object)[order] if len(v) else np.zeros(0, object)
        for k, v in columns.items()
    }
    return FeatureTable(
        np.array(ids, dtype=object)[order], np.array(geoms, dtype=object)[order], cols
    )


class Layers:
    """Layer data with its versions and caches (one per app, on ``app.state.layers``)."""

    def __init__(
        self, store: Store, settings: LayerSettings, public: PublicSettings | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.public = public or PublicSettings()
        self.versions = Versions()
        self.tiles = TileCache(settings.tile_cache_mb * 1024 * 1024)
        self.points: dict[str, tuple[str, PointIndex]] = {}  # station -> (version, index)
        self.all_loaded = ""
        self.city: PointIndex | None = None  # every station's points, for unscoped callers
        self.tables: OrderedDict[str, Any] = OrderedDict()
        self.boundary_sig = ""
        self.boundary_check = Throttle(30.0)
        self.foreign_check = Throttle(1.0)
        self.lock = asyncio.Lock()
        self.refresh_lock = asyncio.Lock()
        self.building: dict[str, asyncio.Future[FeatureTable]] = {}
        self.street_items: tuple[str, list[Any]] | None = None  # (boundary_sig, streets)

    # --- versions ---

    async def refresh(self) -> None:
        """Notice commits of other processes and boundary imports (throttled). Requests
        that arrive while a check is out wait for it: answered meanwhile, they got data older
        than the one-second bound."""
        async with self.refresh_lock:
            if self.foreign_check.due():
                last = await self.store.last_seq()
                if last > self.versions.seen_seq:
                    self.versions.everything_changed(last)
            if self.boundary_check.due():
                sig = await self._boundary_signature()
                if sig != self.boundary_sig:
                    self.boundary_sig = sig
                    self.versions.bump("boundaries", set())

    async def _boundary_signature(self) -> str:
        parts = []
        for name in ("districts", "stations", "sectors"):
            items = await self.store.boundaries(name)
            parts.append(f"{name}:{len(items)}:{hash(tuple(b.geometry for b in items))}")
        return "|".join(parts)

    def version(self, layer: LayerDef, scope: Scope) -> str:
        return "/".join(self.versions.of(g, scope) for g in layer.depends)

    # --- incident points ---

    async def point_indexes(self, scope: Scope) -> list[PointIndex]:
        """One index per station of the scope, each rebuilt only when its station changed."""
        async with self.lock:
            if scope is None:
                everything = self.versions.of("incidents", None)
                if self.all_loaded != everything:
                    await self._load(None)
                    self.all_loaded = everything
                # One city-wide index: a tile then costs one range lookup, not one a station.
                return [self.city] if self.city is not None else []
            stale = [s for s in scope if self._stale(s)]
            if stale:
                await self._load(tuple(stale))
            return [self.points[s][1] for s in scope if s in self.points]

    def _stale(self, station: str) -> bool:
        held = self.points.get(station)
        return held is None or held[0] != self.versions.of("incidents", (station,))

    async def _load(self, stations: Scope) -> None:
        cols = await self.store.points(PointQuery(stations), POINT_FIELDS)
        station = cols["station_id"]
        if stations is None:
            self.points.clear()
            self.city = None
        for name in stations or ():
            self.points[name] = (self.versions.of("incidents", (name,)), _empty_index())
        if station.size == 0:
            return
        codes, uniq = pd.factorize(station)
        shared = {k: _shared_strings(cols[k]) for k in ("category", "district", "sector")}
        occurred_at = iso(cols["occurred_s"].astype(np.int64))  # once, not per tile
        for i, name in enumerate(uniq):
            pick = codes == i
            columns = {
                "id": cols["id"][pick],
                "category": shared["category"][pick],
                "occurred_s": cols["occurred_s"][pick].astype(np.int64),
                "occurred_at": occurred_at[pick],
                "district": shared["district"][pick],
                "sector": shared["sector"][pick],
                "seq": cols["seq"][pick].astype(np.int64),
            }
            index = PointIndex.build(cols["lon"][pick], cols["lat"][pick], columns)
            self.points[str(name)] = (self.versions.of("incidents", (str(name),)), index)
        if stations is None:
            everything = {
                "id": cols["id"],
                "category": shared["category"],
                "occurred_s": cols["occurred_s"].astype(np.int64),
                "occurred_at": occurred_at,
                "district": shared["district"],
                "sector": shared["sector"],
                "seq": cols["seq"].astype(np.int64),
            }
            self.city = PointIndex.build(cols["lon"], cols["lat"], everything)

    # --- feature tables ---

    async def feature_table(self, layer: LayerDef, scope: Scope, filters: Window) -> FeatureTable:
        key = f"{layer.id}|{scope}|{filters.key()}|{self.version(layer, scope)}"
        found = self.tables.get(key)
        if found is not None:
            self.tables.move_to_end(key)
            return found  # type: ignore[no-any-return]
        from server.layerdata import build_table

        # A map's first view asks for several tiles of a layer (and its count) at once: they
        # wait for one build instead of each building the same table on two shared cores.
        pending = self.building.get(key)
        if pending is None:
            pending = asyncio.ensure_future(build_table(self, layer, scope, filters))
            self.building[key] = pending
            pending.add_done_callback(lambda _: self.building.pop(key, None))
        built: FeatureTable = await asyncio.shield(pending)  # one caller gone stops no build
        self.tables[key] = built
        while len(self.tables) > 64:
            self.tables.popitem(last=False)
        return built


def _empty_index() -> PointIndex:
    empty = np.zeros(0)
    cols = {k: np.zeros(0, dtype=object) for k in ("id", "category", "district", "sector")}
    cols |= {"occurred_s": np.zeros(0, np.int64), "seq": np.zeros(0, np.int64)}
    cols["occurred_at"] = np.zeros(0, object)
    return PointIndex.build(empty, empty, cols)


def _shared_strings(values: np.ndarray) -> np.ndarray:
    """The same strings, one object per distinct value (saves memory on a million rows)."""
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    lookup = np.array([*list(uniq), None], dtype=object)
    out = lookup[np.where(codes < 0, lookup.size - 1, codes)]
    out[codes < 0] = None
    return out


def layers_of(request: Request) -> Layers:
    """The app's layer data, created on first use (and hooked to the engine then: nothing is
    cached before, so nothing can be stale)."""
    state = request.app.state
    found: Layers | None = getattr(state, "layers", None)
    if found is None:
        c = ctx(request)
        found = Layers(c.reads, c.settings.layers, c.settings.public)
        c.engine.listeners.append(found.versions.on_commit)
        state.layers = found
    return found


async def scope_for(request: Request, layer: LayerDef) -> Scope:
    """The stations whose data the caller may see in this layer (None: all)."""
    if layer.access == "public":
        return None
    who = await authenticate_map_reader(request)  # Bearer, Basic (QGIS) or a session
    return ctx(request).engine.scope(who).station_ids


def layer_or_404(layer_id: str) -> LayerDef:
    from sync.errors import NotFound

    found = LAYERS.get(layer_id)
    if found is None:
        raise NotFound("no such layer", {"layer": layer_id, "layers": sorted(LAYERS)})
    return found


def hotspot_features(cells: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Gi* over the observed cells and their 1-ring (the hotspot module's study area)."""
    order = np.argsort(cells)
    observed, n = cells[order], counts[order]
    if observed.size == 0:
        return {k: np.zeros(0) for k in ("cells", "count", "z", "p_fdr", "gi_bin")}
    spec = CellSpec("h3", resolution=h3i.get_resolution(int(observed[0])))
    area, _ = study_cells(observed, spec, "ring", 1)
    pos, found = area_positions(observed, area)
    y = np.zeros(area.size, dtype=np.int64)
    y[pos[found]] = n[found]
    z, _, p_fdr, gbin = gi_from_counts(y, kring_weights(area, spec, 1))
    return {"cells": area, "count": y, "z": z, "p_fdr": p_fdr, "gi_bin": gbin}


def density_cells(lon: np.ndarray, lat: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Grid squares (lon/lat polygons) where the kernel density is at least 10 % of its
    maximum (200 m cells), and their density."""
    if lon.size < 2:
        return [], np.zeros(0)
    zeros = np.zeros(lon.size)
    grid = compute_density(lon, lat, zeros, zeros, cell_m=200.0)
    dens = grid.density
    top = float(dens.max())
    rows, cols = np.nonzero(dens >= 0.1 * top) if top > 0 else (np.zeros(0, int),) * 2
    x0, cell, _, y1, _, _ = grid.transform
    from geo.cells import unproject

    xs = x0 + np.stack([cols, cols + 1, cols + 1, cols, cols], axis=1) * cell
    ys = y1 - np.stack([rows, rows, rows + 1, rows + 1, rows], axis=1) * cell
    lo, la = unproject(xs.ravel(), ys.ravel(), grid.epsg)
    rings = np.stack([lo.reshape(xs.shape), la.reshape(xs.shape)], axis=2)
    return list(shapely.polygons(rings)), dens[rows, cols]
