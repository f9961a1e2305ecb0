"""A device-fleet simulator: many reference clients against one server, on a bad network.

Devices of the same station edit the same incidents, go offline, have clocks hours off, and
see their answers lost, duplicated, delayed and old requests delivered again.  At the end every
device syncs until a round passes with nothing left to push; then each device's local view of
every record in its scope must equal what the server gives that device on a fresh pull
(promise 3).  ``run_simulation`` returns the counts as a ``SimulationReport``.
"""

from __future__ import annotations

import asyncio
import functools
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sync.client import ClientError, ClientStats, RetryPolicy, SyncClient
from sync.clock import now_ms
from sync.faults import Faults, FaultyTransport
from sync.identity import create_device_token
from sync.store.base import Store
from sync.store.records import Officer, Station

HOUR_MS = 3_600_000
CATEGORIES = ("robo", "hurto", "violencia_familiar", "vandalismo", "microcomercializacion")
STATUSES = ("open", "closed", "referred")
WORDS = ("moto", "esquina", "mercado", "parque", "vecino", "grifo", "paradero", "bodega")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A device the simulator drives: its token and station (and role, for deletes)."""

    token: str
    station_id: str
    role: str = "officer"


@dataclass(slots=True)
class SimulationOptions:
    devices: int = 20
    stations: int = 2
    rounds: int = 10
    shared_incidents: int = 4  # per station, edited by all its devices
    edits_per_round: int = 3  # at most, per device
    offline_rate: float = 0.3
    drop_response_rate: float = 0.1
    duplicate_rate: float = 0.1
    stale_replay_rate: float = 0.05
    server_error_rate: float = 0.05
    max_delay_s: float = 0.0
    skewed_devices: int = 4  # half ahead by skew_hours, half behind
    skew_hours: float = 3.0
    batch_size: int = 50
    max_quiet_rounds: int = 30
    seed: int = 42
    workdir: str | None = None  # device databases; a temporary folder if None


@dataclass(slots=True)
class SimulationReport:
    devices: int = 0
    stations: int = 0
    rounds: int = 0
    quiet_after: int = 0  # extra rounds until nothing was left to push
    pushes: int = 0
    pulls: int = 0
    changes_sent: int = 0
    applied: int = 0
    unchanged: int = 0
    conflicts: int = 0
    rejected: int = 0
    retries: int = 0
    replayed: int = 0
    lost_responses: int = 0
    duplicates: int = 0
    stale_replays: int = 0
    server_errors: int = 0
    clock_corrections: int = 0
    offline_syncs: int = 0  # syncs given up after every retry (the device tries later)
    rejected_codes: dict[str, int] = field(default_factory=dict)  # kept on the devices
    records: int = 0
    converged: bool = False
    mismatches: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """A few readable lines, then ``key=value`` pairs on the last line."""
        verdict = "converged" if self.converged else f"NOT converged ({len(self.mismatches)})"
        lines = [
            f"{self.devices} devices, {self.stations} stations, {self.rounds} rounds "
            f"(+{self.quiet_after} to quiet): {verdict} on {self.records} records",
            f"pushes {self.pushes}, pulls {self.pulls}, changes sent {self.changes_sent} "
            f"(applied {self.applied}, unchanged {self.unchanged}, rejected {self.rejected}), "
            f"conflicts {self.conflicts}",
            f"retries {self.retries}, replayed {self.replayed}, lost responses "
            f"{self.lost_responses}, duplicates {self.duplicates}, stale {self.stale_replays}, "
            f"503s {self.server_errors}, clock corrections {self.clock_corrections}",
            *self.mismatches[:10],
        ]
        keys = ("pushes", "pulls", "changes_sent", "conflicts", "retries", "lost_responses")
        pairs = " ".join(f"{k}={getattr(self, k)}" for k in (*keys, "rejected", "converged"))
        return "\n".join([*lines, f"elapsed_s={self.elapsed_s:.2f} {pairs}"])


async def seed_fleet(store: Store, options: SimulationOptions) -> list[DeviceSpec]:
    """Stations, officers (one chief per station) and a device token each, in the store."""
    specs: list[DeviceSpec] = []
    stations = [f"sim-st-{i + 1}" for i in range(options.stations)]
    for station in stations:
        await store.put_station(Station(station, f"Comisaría simulada {station[-1]}"))
    for i in range(options.devices):
        station = stations[i % len(stations)]
        role = "chief" if i < len(stations) else "officer"
        officer = Officer(f"sim-of-{i + 1}", f"Agente {i + 1}", role, station)  # type: ignore[arg-type]
        await store.put_officer(officer)
        _, token = await create_device_token(store, officer.id, f"sim-phone-{i + 1}", now_ms())
        specs.append(DeviceSpec(token, station, role))
    return specs


async def run_simulation(
    target: str | Any,
    options: SimulationOptions | None = None,
    devices: Sequence[DeviceSpec] | None = None,
    *,
    store: Store | None = None,
) -> SimulationReport:
    """Drive a fleet against ``target`` (a base URL, or an ASGI app served in-process).

    Devices come from ``devices`` or, if None, are created in ``store`` (``seed_fleet``).
    """
    options = options or SimulationOptions()
    started = time.perf_counter()
    if devices is None:
        if store is None:
            raise ClientError("give the devices (token, station) or a store to create them in")
        devices = await seed_fleet(store, options)
    with tempfile.TemporaryDirectory(prefix="ronda-sim-") as tmp:
        fleet = _Fleet(target, options, list(devices), Path(options.workdir or tmp))
        try:
            report = await fleet.run()
        finally:
            await fleet.close()
    report.elapsed_s = time.perf_counter() - started
    return report


def _skewed_now(skew_ms: int) -> int:
    return now_ms() + skew_ms


@dataclass(slots=True)
class _Device:
    spec: DeviceSpec
    client: SyncClient
    faults: FaultyTransport
    rng: random.Random


class _Fleet:
    def __init__(
        self, target: str | Any, options: SimulationOptions, specs: list[DeviceSpec], root: Path
    ) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self._inner: Callable[[], httpx.AsyncBaseTransport]
        if isinstance(target, str):
            self.base_url, self._inner = target, lambda: httpx.AsyncHTTPTransport()
        else:
            self.base_url = "http://ronda.simulated"
            self._inner = lambda: httpx.ASGITransport(app=target)
        root.mkdir(parents=True, exist_ok=True)
        self.devices = [self._device(i, spec, root) for i, spec in enumerate(specs)]
        self.report = SimulationReport(
            devices=len(specs), stations=len({s.station_id for s in specs})
        )

    def _device(self, i: int, spec: DeviceSpec, root: Path) -> _Device:
        o = self.options
        faults = Faults(
            o.drop_response_rate,
            o.duplicate_rate,
            o.stale_replay_rate,
            o.server_error_rate,
            o.max_delay_s,
        )
        rng = random.Random(o.seed * 1000 + i)
        transport = FaultyTransport(self._inner(), faults, rng)
        skew = 0
        if i < o.skewed_devices:
            skew = int(o.skew_hours * HOUR_MS) * (1 if i % 2 == 0 else -1)
        client = SyncClient(
            root / f"device-{i}-{uuid.uuid4().hex[:8]}.db",
            self.base_url,
            spec.token,
            transport=transport,
            batch_size=o.batch_size,
            retry=RetryPolicy(attempts=8, base_s=0.002, max_s=0.02),
            wall_clock=functools.partial(_skewed_now, skew),
            adopt_server_time=skew >= 0,  # devices behind stay behind: they must still converge
        )
        return _Device(spec, client, transport, rng)

    async def close(self) -> None:
        for device in self.devices:
            await device.client.aclose()

    async def run(self) -> SimulationReport:
        await self._setup()
        for _ in range(self.options.rounds):
            await asyncio.gather(*(self._round(d) for d in self.devices))
            self.report.rounds += 1
        await self._quiesce()
        await self._verify()
        self._count()
        return self.report

    async def _setup(self) -> None:
        by_station: dict[str, _Device] = {}
        for device in self.devices:
            by_station.setdefault(device.spec.station_id, device)
        for device in by_station.values():
            for _ in range(self.options.shared_incidents):
                device.client.create_incident(_new_fields(device.rng))
        await asyncio.gather(*(self._sync(d) for d in by_station.values()))
        await asyncio.gather(*(self._sync(d) for d in self.devices))

    async def _round(self, device: _Device) -> None:
        for _ in range(device.rng.randint(0, self.options.edits_per_round)):
            _edit(device)
        if device.rng.random() >= self.options.offline_rate:
            await self._sync(device)

    async def _sync(self, device: _Device) -> int:
        try:
            result = await device.client.sync()
        except ClientError:
            self.report.offline_syncs += 1
            return -1
        return result.pushed + result.rejected + result.pending

    async def _quiesce(self) -> None:
        for _ in range(self.options.max_quiet_rounds):
            pushed = await asyncio.gather(*(self._sync(d) for d in self.devices))
            if all(p == 0 for p in pushed):
                return
            self.report.quiet_after += 1
        self.report.mismatches.append("the fleet never went quiet")

    async def _verify(self) -> None:
        records: set[tuple[str, str]] = set()
        for i, device in enumerate(self.devices):
            device.faults.faults.enabled = False
            server = await server_view(device.client)
            records.update(server)
            local = {("incidents", d["id"]): d for d in device.client.incidents()}
            local.update({("patrol_logs", d["id"]): d for d in device.client.log_entries()})
            for key in sorted(set(server) | set(local)):
                mine, theirs = local.get(key), server.get(key)
                if mine is not None and theirs is not None and "pii" not in theirs:
                    mine = {k: v for k, v in mine.items() if k != "pii"}
                if mine != theirs:
                    self.report.mismatches.append(f"device {i}: {key[0]}/{key[1]} differs")
            if device.client.pending_count():
                self.report.mismatches.append(f"device {i}: outbox not empty")
        self.report.records = len(records)
        self.report.converged = not self.report.mismatches

    def _count(self) -> None:
        total = ClientStats()
        for device in self.devices:
            total.add(device.client.stats)
            for refused in device.client.rejected():
                code = str(refused.error.get("code"))
                self.report.rejected_codes[code] = self.report.rejected_codes.get(code, 0) + 1
            for name in ("lost_responses", "duplicates", "stale_replays", "server_errors"):
                value = getattr(self.report, name) + getattr(device.faults.counts, name)
                setattr(self.report, name, value)
        for name in (
            "pushes",
            "pulls",
            "changes_sent",
            "applied",
            "unchanged",
            "conflicts",
            "rejected",
            "retries",
            "replayed",
            "clock_corrections",
        ):
            setattr(self.report, name, getattr(total, name))


async def server_view(client: SyncClient) -> dict[tuple[str, str], dict[str, Any]]:
    """Everything the server gives this device from the start (its pull view)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    cursor = ""
    while True:
        params = {"cursor": cursor, "limit": 1000}
        page = (await client._request("GET", "/v1/sync/pull", params=params)).json()
        for doc in page["changes"]:
            out[(doc["collection"], doc["id"])] = doc
        cursor = page["cursor"]
        if not page["has_more"]:
            return out


def _edit(device: _Device) -> None:
    rng, client = device.rng, device.client
    shared = [d["id"] for d in client.incidents() if not d["deleted"]]
    roll = rng.random()
    if roll < 0.55 and shared:
        record_id = rng.choice(shared)
        client.update_incident(record_id, _some_fields(rng))
    elif roll < 0.7:
        client.create_incident(_new_fields(rng))
    elif (roll < 0.95 or not shared) and client.me.get("device_id"):
        client.append_log(_log_body(rng))  # the chain hash needs the device id from the server
    elif shared:
        # Officers may not delete: the refusal must reach the rejected list, not vanish.
        client.delete_incident(rng.choice(shared))


def _new_fields(rng: random.Random) -> dict[str, Any]:
    day = rng.randint(1, 28)
    return {
        "category": rng.choice(CATEGORIES),
        "occurred_at": f"2026-11-{day:02d}T{rng.randint(0, 23):02d}:15:00-05:00",
        "status": "open",
        "description": " ".join(rng.choices(WORDS, k=4)),
    }


def _some_fields(rng: random.Random) -> dict[str, Any]:
    options = {
        "status": rng.choice(STATUSES),
        "description": " ".join(rng.choices(WORDS, k=5)),
        "category": rng.choice(CATEGORIES),
        "location": {"lon": -77.03 + rng.uniform(-0.05, 0.05), "lat": -12.05},
    }
    names = rng.sample(sorted(options), rng.randint(1, 2))
    return {name: options[name] for name in names}


def _log_body(rng: random.Random) -> dict[str, Any]:
    return {
        "kind": rng.choice(("checkpoint", "note", "stop")),
        "at": f"2026-11-26T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00-05:00",
        "text": " ".join(rng.choices(WORDS, k=3)),
        "lon_e6": -77_030_000 + rng.randint(-50_000, 50_000),
        "lat_e6": -12_050_000 + rng.randint(-50_000, 50_000),
    }
