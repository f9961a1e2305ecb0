"""The device-fleet simulator: a small fleet on every push, a full one marked slow."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.settings import Settings
from sync.faults import Faults, FaultyTransport
from sync.simulate import SimulationOptions, SimulationReport, run_simulation
from sync.store.sql import SQLStore


async def _simulate(tmp_path: Path, options: SimulationOptions) -> tuple[SimulationReport, int]:
    store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'server.db'}", sqlite_synchronous="NORMAL")
    await store.open()
    try:
        settings = Settings()
        settings.server.log_level = "error"
        app = create_app(settings, store)
        app.state.ctx.places.loaded()  # the store is opened here, not by the app's lifespan
        report = await run_simulation(app, options, store=store)
        logged = len(await store.conflicts(None, 0, 1_000_000))
    finally:
        await store.close()
    return report, logged


async def test_small_fleet_converges_despite_faults_and_skewed_clocks(tmp_path: Path) -> None:
    options = SimulationOptions(devices=5, stations=2, rounds=4, skewed_devices=2, seed=7)
    report, logged = await _simulate(tmp_path, options)
    assert report.converged, report.summary()
    assert report.mismatches == []
    assert report.applied > 0 and report.pulls > 0 and report.records > 0
    assert report.lost_responses > 0 and report.replayed > 0  # the faults did happen
    assert report.clock_corrections > 0  # the device 3 h ahead was set right
    assert report.conflicts <= logged
    assert "converged" in report.summary().splitlines()[0]


async def test_faulty_transport_loses_the_answer_after_the_server_did_the_work() -> None:
    calls: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json={"ok": True})

    transport = FaultyTransport(
        httpx.MockTransport(handler), Faults(drop_response=1.0), random.Random(1)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/sync/push", content=b"{}")
    assert calls == ["/v1/sync/push"] and transport.counts.lost_responses == 1


@pytest.mark.slow
async def test_full_fleet_of_twenty_devices_converges(tmp_path: Path) -> None:
    options = SimulationOptions(devices=20, stations=3, rounds=10, skewed_devices=6, seed=42)
    report, logged = await _simulate(tmp_path, options)
    assert report.converged, report.summary()
    assert report.conflicts > 0 and report.conflicts <= logged
    assert report.rejected > 0  # officers' deletes: refused, kept for the user, not lost
    assert set(report.rejected_codes) == {"not_allowed"}
