"""Loading the demo city into a store: stations, officers, devices and incidents.

Incidents go through the sync engine as their officers' devices would push them, so the demo
exercises the same path as the phones (placement included).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.identity import create_device_token
from sync.store.base import Identity, Officer, Station, Store

Progress = Callable[[int], None]
CATEGORIES = ("robo", "hurto", "violencia_familiar", "lesiones", "microcomercializacion_drogas")
# A small stand-in used until the full demo city of fixtures/ is present.
FALLBACK_STATIONS = (
    ("cms-miraflores", "Comisaría Miraflores", "150122", -77.0300, -12.1211),
    ("cms-sjl", "Comisaría Zárate (SJL)", "150132", -77.0050, -12.0300),
    ("cms-cercado", "Comisaría Cotabambas (Cercado)", "150101", -77.0428, -12.0464),
)


@dataclass
class DemoResult:
    stations: int = 0
    officers: int = 0
    incidents: int = 0
    tokens: dict[str, str] = field(default_factory=dict)


async def load_demo(
    store: Store, engine: SyncEngine, incidents: int = 2000, progress: Progress | None = None
) -> DemoResult:
    """Fill an empty store with the demo data; return the tokens of one device per role."""
    result = DemoResult()
    rng = random.Random(42)
    identities: dict[str, Identity] = {}
    for sid, name, ubigeo, _lon, _lat in FALLBACK_STATIONS:
        await store.put_station(Station(sid, name, ubigeo))
        result.stations += 1
        for role in ("officer", "chief"):
            officer = Officer(f"{role}-{sid[4:]}", f"{role.title()} {name[10:]}", role, sid)
            identities[officer.id] = await _device(store, officer, result)
    for role in ("analyst", "admin"):
        identities[role] = await _device(store, Officer(role, role.title(), role, None), result)
    officers = [i for i in identities.values() if i.role == "officer"]
    centres = {sid: (lon, lat) for sid, _n, _u, lon, lat in FALLBACK_STATIONS}
    clock = HybridClock()
    for start in range(0, incidents, 500):
        size = min(500, incidents - start)
        who = officers[(start // 500) % len(officers)]
        changes = [_incident(rng, clock, centres[who.station_id or ""]) for _ in range(size)]
        await engine.push(who, {"batch_id": uuid.uuid4().hex, "changes": changes})
        result.incidents += size
        if progress:
            progress(size)
    return result


async def _device(store: Store, officer: Officer, result: DemoResult) -> Identity:
    await store.put_officer(officer)
    device, token = await create_device_token(store, officer.id, f"demo-{officer.id}", 0)
    result.officers += 1
    result.tokens[officer.id] = token
    return Identity(device.id, device.name, officer.id, officer.role, officer.station_id)


def _incident(
    rng: random.Random, clock: HybridClock, centre: tuple[float, float]
) -> dict[str, Any]:
    when = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
    fields: dict[str, Any] = {
        "category": rng.choice(CATEGORIES),
        "occurred_at": when.isoformat(),
        "status": rng.choice(("open", "closed")),
        "location": {
            "lon": round(centre[0] + rng.gauss(0, 0.01), 6),
            "lat": round(centre[1] + rng.gauss(0, 0.01), 6),
            "accuracy_m": round(rng.uniform(5, 40), 1),
        },
    }
    return {
        "collection": "incidents",
        "id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "op": "upsert",
        "hlc": str(clock.tick()),
        "fields": fields,
    }
