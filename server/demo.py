"""Loading the demo city (``fixtures.city``) into a store.

Boundaries, streets and places go in as layers; stations, officers and one device per
officer are created; incidents go through the sync engine as their officers' phones would
push them, so the demo exercises the same path (placement and geocoding included).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd

from server.maps.places import LAYERS, load_places, store_layer
from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.identity import create_device_token
from sync.protocol import LogEntryChange, entry_hash
from sync.store.base import Store
from sync.store.records import Identity, Officer, Station

Progress = Callable[[int], None]
SHOWN_ROLES = ("officer", "chief", "analyst", "admin")


@dataclass
class DemoResult:
    stations: int = 0
    officers: int = 0
    incidents: int = 0
    positions: int = 0
    tokens: dict[str, str] = field(default_factory=dict)


async def store_city_layers(store: Store, city: Any) -> None:
    """Store every boundary layer a city has (the demo city has no OSM address points)."""
    for layer in LAYERS:
        frame = getattr(city, layer, None)
        if frame is not None:
            await store_layer(store, layer, frame)


async def load_demo(
    store: Store,
    engine: SyncEngine,
    limit: int | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Fill an empty store with the demo city; return one token per role to try."""
    from fixtures.city import load_city

    city = load_city()
    await store_city_layers(store, city)
    places = await load_places(store)
    engine.enricher = places.enrich if places else None
    result = DemoResult()
    for row in city.stations.itertuples():
        await store.put_station(Station(str(row.code), str(row.name), str(row.district_code)))
        result.stations += 1
    devices, everyone = await _people(store, city.officers, result)
    incidents = city.incidents if limit is None else city.incidents.head(limit)
    if progress:
        progress(-len(incidents))  # announces the total
    clock = HybridClock()
    for station_id, group in incidents.groupby("station_id", sort=True):
        who = devices.get(str(station_id))
        if who is None:
            continue
        rows = group.to_dict("records")
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            changes = [_change(r, clock) for r in chunk]
            await engine.push(who, {"batch_id": uuid.uuid4().hex, "changes": changes})
            result.incidents += len(chunk)
            if progress:
                progress(len(chunk))
    result.positions = await _push_tracks(engine, city.tracks, everyone, clock)
    return result


async def _push_tracks(
    engine: SyncEngine, tracks: pd.DataFrame, officers: dict[str, Identity], clock: HybridClock
) -> int:
    """Each officer's GPS fixes as their phone's patrol-log checkpoints (one hash chain)."""
    pushed = 0
    for officer_id, fixes in tracks.sort_values("timestamp").groupby("officer_id", sort=True):
        who = officers.get(str(officer_id))
        if who is None or who.station_id is None:
            continue
        prev, entries = "", []
        for n, row in enumerate(fixes.itertuples(), start=1):
            body = {
                "kind": "checkpoint",
                "at": str(row.timestamp),
                "lon_e6": round(float(row.lon) * 1e6),
                "lat_e6": round(float(row.lat) * 1e6),
            }
            raw: dict[str, Any] = {
                "collection": "patrol_logs",
                "id": f"{who.device_id}-{n}",
                "op": "append",
            }
            raw |= {"hlc": str(clock.tick()), "n": n, "prev_hash": prev, "hash": "0" * 64}
            raw["body"] = body
            raw["hash"] = prev = entry_hash(who.device_id, LogEntryChange.model_validate(raw))
            entries.append(raw)
        for start in range(0, len(entries), 500):
            chunk = entries[start : start + 500]
            await engine.push(who, {"batch_id": uuid.uuid4().hex, "changes": chunk})
            pushed += len(chunk)
    return pushed


async def _people(
    store: Store, officers: pd.DataFrame, result: DemoResult
) -> tuple[dict[str, Identity], dict[str, Identity]]:
    """Officers with one device each: a pushing officer per station, and everyone's."""
    pushers: dict[str, Identity] = {}
    everyone: dict[str, Identity] = {}
    for row in officers.itertuples():
        station = None if pd.isna(row.station_id) else str(row.station_id)
        officer = Officer(str(row.id), str(row.display_name), row.role, station)
        await store.put_officer(officer)
        device, token = await create_device_token(store, officer.id, f"demo-{officer.id}", 0)
        result.officers += 1
        identity = Identity(device.id, device.name, officer.id, officer.role, station)
        everyone[officer.id] = identity
        if officer.role == "officer" and station and station not in pushers:
            pushers[station] = identity
        if officer.role in SHOWN_ROLES and officer.role not in result.tokens:
            result.tokens[officer.role] = token
    return pushers, everyone


def _change(row: dict[str, Any], clock: HybridClock) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "category": row["category"],
        "occurred_at": row["occurred_at"],
        "status": "closed",
    }
    if isinstance(row.get("lon"), float) and math.isfinite(row["lon"]):
        accuracy = row.get("accuracy_m")
        fields["location"] = {
            "lon": row["lon"],
            "lat": row["lat"],
            "accuracy_m": accuracy
            if isinstance(accuracy, float) and math.isfinite(accuracy)
            else None,
        }
    if isinstance(row.get("address_text"), str):
        fields["address_text"] = row["address_text"]
    change: dict[str, Any] = {
        "collection": "incidents",
        "id": str(row["id"]).replace("-", ""),
        "op": "upsert",
        "hlc": str(clock.tick()),
        "fields": fields,
    }
    pii = {k: _people_list(row.get(k)) for k in ("victims", "witnesses", "suspects")}
    if any(pii.values()):
        change["pii"] = {k: v for k, v in pii.items() if v}
    return change


def _people_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str) and value.startswith("["):
        value = orjson.loads(value)
    return list(value) if isinstance(value, list) else []
