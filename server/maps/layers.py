"""The data behind the map layers' tiles and OGC API Features, and its caches.

Every layer is built for a *scope* (the stations ``engine.scope`` gives the caller, exactly as
sync does; None for all) and *filters* (a time window and categories), and cached by the
data version it was built from (:mod:`server.maps.tilecache`). The layers themselves are
declared in :mod:`server.maps.registry`; what a request asks for is read in
:mod:`server.routes.layer_request`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.tiles.layers import FeatureSet, PointIndex
from server.maps.registry import LayerDef, Scope
from server.maps.tilecache import Throttle, TileCache, Versions
from server.maps.window import Window
from server.settings import LayerSettings, PublicSettings
from sync.store.base import Store
from sync.store.records import POINT_COLUMNS, PointQuery

POINT_FIELDS = tuple(c for c in POINT_COLUMNS if c != "cell")


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
                # A tile whose client went away is cancelled here (server/client_gone.py): the
                # check did not happen, so the next request makes it.
                with _undone_unless_done(self.foreign_check):
                    last = await self.store.last_seq()
                if last > self.versions.seen_seq:
                    self.versions.everything_changed(last)
            if self.boundary_check.due():
                with _undone_unless_done(self.boundary_check):
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
        from server.maps.layerdata import build_table

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


@contextlib.contextmanager
def _undone_unless_done(throttle: Throttle) -> Iterator[None]:
    try:
        yield
    except BaseException:
        throttle.undo()
        raise


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
