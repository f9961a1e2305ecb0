"""A part of the demo city in a database, for the browser tests: every layer, every officer,
and the incidents of a few stations pushed through the sync engine as phones would."""

from __future__ import annotations

import uuid

import pandas as pd

from fixtures.city import load_city
from server.demo import _change, store_city_layers
from server.maps.places import load_places
from server.web.sessions import set_password
from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.identity import create_device_token
from sync.store.records import Identity, Officer, Station
from sync.store.sql import SQLStore

PASSWORD = "prueba-e2e-2025"
CHIEF = "of-0680"  # chief of st-150135-2, where the demo city plants hotspot plant-01
ADMIN = "of-0875"
STATIONS = ("st-150135-1", "st-150135-2")


async def seed_part_of_city(url: str, stations: tuple[str, ...] = STATIONS) -> dict[str, int]:
    """Fill an empty database; return how many incidents each station got."""
    city = load_city()
    store = SQLStore(url, sqlite_synchronous="NORMAL")
    await store.open()
    try:
        await store_city_layers(store, city)
        places = await load_places(store)
        engine = SyncEngine(store, enricher=places.enrich if places else None)
        for row in city.stations.itertuples():
            await store.put_station(Station(str(row.code), str(row.name), str(row.district_code)))
        pushers: dict[str, Identity] = {}
        for row in city.officers.itertuples():
            station = None if pd.isna(row.station_id) else str(row.station_id)
            await store.put_officer(Officer(str(row.id), str(row.display_name), row.role, station))
            if row.role == "officer" and station in stations and station not in pushers:
                device, _ = await create_device_token(store, str(row.id), "e2e", 0)
                pushers[station] = Identity(device.id, "e2e", str(row.id), "officer", station)
        for officer_id in (CHIEF, ADMIN):
            await set_password(store, officer_id, PASSWORD)
        clock, counts = HybridClock(), {}
        chosen = city.incidents[city.incidents.station_id.isin(stations)]
        for station_id, group in chosen.groupby("station_id", sort=True):
            rows = group.to_dict("records")
            for start in range(0, len(rows), 500):
                changes = [_change(r, clock) for r in rows[start : start + 500]]
                body = {"batch_id": uuid.uuid4().hex, "changes": changes}
                await engine.push(pushers[str(station_id)], body)
            counts[str(station_id)] = len(rows)
        return counts
    finally:
        await store.close()


def plant(plant_id: str) -> dict[str, float]:
    """The centre of a planted hotspot of the demo city."""
    found = next(p for p in load_city().truth if p["id"] == plant_id)
    return {"lon": float(found["centre"]["lon"]), "lat": float(found["centre"]["lat"])}
