"""Places on the server side: boundary layers kept in the store, and the incident enricher.

The enricher is what the sync engine calls for every incident whose place changed: a GPS
fix is checked and placed; text without a usable fix is geocoded first; the answer is the
``derived`` part of the incident (district, station area, sector, H3 cell, quality).
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.geocode import Geocoder
from geo.placement.fix import assess_fix
from geo.placement.placer import Placer
from server.context import AppContext
from sync.store.base import Store
from sync.store.records import Boundary

log = logging.getLogger("ronda.places")

LAYERS = (
    "districts",
    "stations",
    "sectors",
    "streets",
    "aa_hh",
    "lotes",
    "landmarks",
    "addresses",  # address points (ronda import osm)
    "manzanas",  # manzana polygons (ronda import cadastre)
)
GEOCODE_TRUST = 0.5  # below this a geocoded point is reported but not placed


def frame_to_boundaries(layer: str, frame: gpd.GeoDataFrame) -> list[Boundary]:
    """Rows of a layer (standard columns, EPSG:4326) as store features."""
    codes = _codes(layer, frame)
    names = frame["name"].astype(str).tolist() if "name" in frame else [""] * len(frame)
    extra = [c for c in frame.columns if c not in ("code", "name", frame.geometry.name)]
    props = frame[extra].astype(object).where(frame[extra].notna(), None).to_dict("records")
    wkb = shapely.to_wkb(np.asarray(frame.geometry.values))
    return [
        Boundary(layer, code, name, {k: _plain(v) for k, v in p.items()}, bytes(g))
        for code, name, p, g in zip(codes, names, props, wkb, strict=True)
    ]


def boundaries_to_frame(items: list[Boundary]) -> gpd.GeoDataFrame:
    """Store features back into a GeoDataFrame with the layer's standard columns."""
    rows = [{"code": b.code, "name": b.name, **b.props} for b in items]
    geometry = shapely.from_wkb([b.geometry for b in items]) if items else []
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geometry, crs="EPSG:4326")


def _codes(layer: str, frame: gpd.GeoDataFrame) -> list[str]:
    if "code" in frame:
        codes: list[str] = frame["code"].astype(str).tolist()
        return codes
    if layer == "lotes":
        parts = zip(frame["aa_hh_code"], frame["mz"], frame["lt"], strict=True)
        return [f"{a}-{m}-{t}" for a, m, t in parts]
    return [str(i) for i in range(len(frame))]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


async def store_layer(store: Store, layer: str, frame: gpd.GeoDataFrame) -> int:
    items = frame_to_boundaries(layer, frame)
    await store.replace_boundaries(layer, items)
    return len(items)


@dataclass
class Places:
    """Placement and geocoding over the layers in the store."""

    placer: Placer
    geocoder: Geocoder | None
    bounds: tuple[float, float, float, float]

    def enrich(self, incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ``derived`` part of each incident (same order), placing all points at once."""
        located = [self._locate(fields) for fields in incidents]
        points = [i for i, d in enumerate(located) if d.get("lon") is not None and d["trusted"]]
        if points:
            lon = np.array([located[i]["lon"] for i in points], dtype=float)
            lat = np.array([located[i]["lat"] for i in points], dtype=float)
            placed = self.placer.place(lon, lat)
            hexes = placed.h3_hex()
            for j, i in enumerate(points):
                located[i].update(
                    district=placed.district[j],
                    station_area=placed.station[j],
                    sector=placed.sector[j],
                    cell=hexes[j],
                    place=str(placed.flag[j]),
                )
        for d in located:
            d.pop("trusted", None)
        return located

    def _locate(self, fields: dict[str, Any]) -> dict[str, Any]:
        loc = fields.get("location") or {}
        fix = None
        if loc:
            fix = assess_fix(loc.get("lon"), loc.get("lat"), loc.get("accuracy_m"), self.bounds)
            if fix.ok:
                return {
                    "source": "gps",
                    "lon": loc["lon"],
                    "lat": loc["lat"],
                    "quality": "gps",
                    "confidence": 1.0,
                    "trusted": True,
                }
        text = fields.get("address_text")
        if text and self.geocoder is not None:
            found = self.geocoder.geocode(text, station=fields.get("station_id"))
            if found.lon is not None:
                return {
                    "source": "address",
                    "lon": found.lon,
                    "lat": found.lat,
                    "quality": found.quality,
                    "confidence": found.confidence,
                    "trusted": found.confidence >= GEOCODE_TRUST,
                    "fix_flags": fix.flags if fix else [],
                }
        if fix is not None and loc.get("lon") is not None and "outside_city" not in fix.flags:
            # A poor fix is still the best we have; it is placed, and flagged as poor.
            return {
                "source": "gps",
                "lon": loc["lon"],
                "lat": loc["lat"],
                "quality": "gps_poor",
                "confidence": 0.3,
                "trusted": True,
                "fix_flags": fix.flags,
            }
        return {
            "source": "none",
            "quality": "failed",
            "confidence": 0.0,
            "trusted": False,
            "fix_flags": fix.flags if fix else [],
        }


async def load_places(store: Store) -> Places | None:
    """Placement (and geocoding, if streets exist) from the store; None without districts.

    Building the indexes takes seconds on a city-sized street network, so it runs in a
    worker thread and the event loop keeps serving.
    """
    layers = {name: await store.boundaries(name) for name in LAYERS}
    if not layers["districts"]:
        return None
    return await asyncio.to_thread(build_places, layers)


def build_places(layers: dict[str, list[Boundary]]) -> Places:
    frames = {name: boundaries_to_frame(items) for name, items in layers.items()}
    districts = frames["districts"]
    optional = {k: (None if frames[k].empty else frames[k]) for k in ("stations", "sectors")}
    placer = Placer.from_layers(districts, optional["stations"], optional["sectors"])
    geocoder = None
    if not frames["streets"].empty or not frames["aa_hh"].empty:  # a cadastre alone geocodes too
        gazetteer = ("aa_hh", "lotes", "landmarks", "stations", "addresses", "manzanas")
        extra = {k: frames[k] for k in gazetteer}
        extra = {k: v for k, v in extra.items() if not v.empty}
        streets = frames["streets"] if not frames["streets"].empty else _no_streets()
        geocoder = Geocoder.from_layers(streets, districts, **extra)
    minx, miny, maxx, maxy = (float(v) for v in districts.total_bounds)
    assert all(math.isfinite(v) for v in (minx, miny, maxx, maxy))
    return Places(placer, geocoder, (minx, miny, maxx, maxy))


def _no_streets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        pd.DataFrame({"code": [], "name": [], "district_code": []}),
        geometry=gpd.GeoSeries([], crs=4326),
        crs=4326,
    )


async def reload_places(context: AppContext) -> bool:
    """(Re)build placement and geocoding from the store's layers and hand it to the engine."""
    async with context.places.lock:  # the start-up load and an admin reload, one at a time
        places = await load_places(context.store)
        context.engine.enricher = places.enrich if places else None
        context.analysis.invalidate_all()
        context.places.loaded()
    return places is not None


async def load_places_at_start(context: AppContext) -> None:
    """``reload_places`` in the background of a starting worker; failures are logged."""
    try:
        placed = await reload_places(context)
    except Exception:
        log.exception("could not load the boundary layers")
        context.places.failed()
        return
    log.info("places loaded" if placed else "places loaded: no districts imported")
