"""``ronda simulate``: a device fleet with faults against a server, then a convergence check."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from server.cli.common import console, with_store
from server.settings import Settings
from sync.store.base import Store


@click.command()
@click.option("--devices", "n_devices", default=20, show_default=True)
@click.option("--stations", default=2, show_default=True)
@click.option("--rounds", default=10, show_default=True)
@click.option("--seed", default=42, show_default=True)
@click.option(
    "--url",
    default=None,
    help="A running server to drive; its database (--db) receives the simulated devices. "
    "Without it, the fleet runs against an in-process server on a temporary SQLite file.",
)
@click.pass_obj
def simulate(
    settings: Settings, n_devices: int, stations: int, rounds: int, seed: int, url: str | None
) -> None:
    """Run a device fleet with faults, then check that every device converged."""
    from server.app import create_app
    from sync.simulate import SimulationOptions, run_simulation

    options = SimulationOptions(devices=n_devices, stations=stations, rounds=rounds, seed=seed)

    async def against_url(store: Store) -> Any:
        return await run_simulation(url, options, store=store)

    async def in_process(tmp: str) -> Any:
        local = Settings()
        local.database.url = f"sqlite+aiosqlite:///{tmp}/simulate.db"
        local.database.sqlite_synchronous = "NORMAL"
        local.server.log_level = "warning"
        app = create_app(local)
        async with app.router.lifespan_context(app):
            return await run_simulation(app, options, store=app.state.ctx.store)

    with console.status("Simulando la flota / simulating the fleet"):
        if url:
            report = with_store(settings, against_url)
        else:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="ronda-simulate-") as tmp:
                report = asyncio.run(in_process(tmp))
    click.echo(report.summary())
    if not report.converged:
        raise SystemExit(1)
