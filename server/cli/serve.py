"""``ronda serve``, ``ronda init`` and ``ronda demo``: a database made ready, a server started."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table

from server.app import build_engine
from server.cli.common import LOG_CONFIG, console, masked_url, with_store
from server.demo import load_demo
from server.settings import Settings
from server.web.sessions import DEMO_PASSWORD, demo_passwords
from sync.clock import now_ms
from sync.identity import create_device_token
from sync.store.base import Store
from sync.store.records import Officer


def _serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    workers: int,
    forwarded_allow_ips: str | None = None,
    graceful_s: int = 20,
) -> None:
    os.environ["RONDA_DATABASE__URL"] = settings.database.url
    upgrade = "true" if settings.database.upgrade_on_start else "false"
    os.environ["RONDA_DATABASE__UPGRADE_ON_START"] = upgrade
    # uvicorn itself, as docs/operations.md shows it, in place of this process: its workers
    # then start from uvicorn's light main module instead of importing this whole command
    # line first (geopandas and all), which left a worker unanswering uvicorn's 5 s health
    # check at start and killed it.
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "server.app:create_app",
        "--factory",
        "--host",
        host or settings.server.host,
        "--port",
        str(port or settings.server.port),
        "--workers",
        str(workers),
        "--log-config",
        str(LOG_CONFIG),
        "--log-level",
        settings.server.log_level,
        "--no-access-log",
        "--proxy-headers",
        "--timeout-graceful-shutdown",
        str(graceful_s),
    ]
    if forwarded_allow_ips:  # otherwise uvicorn's: $FORWARDED_ALLOW_IPS, else 127.0.0.1
        command += ["--forwarded-allow-ips", forwarded_allow_ips]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


@click.command()
@click.option("--host", default=None, help="Listen address (default from settings).")
@click.option("--port", type=int, default=None, help="Listen port (default from settings).")
@click.option("--workers", type=int, default=1, show_default=True)
@click.option(
    "--no-upgrade",
    is_flag=True,
    help="Do not migrate an older database schema at start: refuse to start instead.",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Addresses of the reverse proxies whose X-Forwarded-For/-Proto are believed "
    "(comma-separated; '*' for any). Default: $FORWARDED_ALLOW_IPS, else 127.0.0.1.",
)
@click.option(
    "--timeout-graceful-shutdown",
    "graceful_s",
    type=click.IntRange(1, 3600),
    default=20,
    show_default=True,
    help="Seconds a stopping server gives the requests in flight to finish.",
)
@click.pass_obj
def serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    workers: int,
    no_upgrade: bool,
    forwarded_allow_ips: str | None,
    graceful_s: int,
) -> None:
    """Start the HTTP server (migrating an older database schema first, unless told not to)."""
    if no_upgrade:
        settings.database.upgrade_on_start = False
    _serve(settings, host, port, workers, forwarded_allow_ips, graceful_s)


@click.command()
@click.option("--admin-id", default="admin", show_default=True)
@click.option("--admin-name", default="Administrador", show_default=True)
@click.option(
    "--new-admin-token",
    is_flag=True,
    help="Issue a further admin token although the administrator has one already.",
)
@click.pass_obj
def init(settings: Settings, admin_id: str, admin_name: str, new_admin_token: bool) -> None:
    """Create the schema and a first administrator; print the admin token once.

    Run again, it issues no second token unless told to (--new-admin-token)."""

    async def work(store: Store) -> tuple[str | None, int]:
        existing = await store.get_officer(admin_id)
        if existing is not None and existing.role != "admin":
            raise click.ClickException(f"officer {admin_id} exists with role {existing.role}")
        if existing is None:
            await store.put_officer(Officer(admin_id, admin_name, "admin", None))
        active = [d for d in await store.list_devices(admin_id) if d.revoked_ms is None]
        if active and not new_admin_token:
            return None, len(active)
        _device, token = await create_device_token(store, admin_id, "admin-cli", now_ms())
        return token, len(active)

    token, earlier = with_store(settings, work)
    console.print(f"[green]Base de datos lista / database ready:[/] {masked_url(settings)}")
    if token is None:
        console.print(
            f"[yellow]{admin_id} ya tiene {earlier} token(s) activo(s) / already has {earlier} "
            "active token(s): no new token issued (--new-admin-token issues another; "
            "ronda devices and ronda revoke manage them)[/]"
        )
        return
    if earlier:
        console.print(f"[yellow]a further admin token; the {earlier} earlier one(s) still work[/]")
    click.echo(f"admin token (shown once): {token}")


@click.command()
@click.option("--db-file", default="ronda-demo.db", show_default=True, type=click.Path())
@click.option("--incidents", type=int, default=None, help="Load only the first N incidents.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Load the demo data and exit.")
def demo(db_file: str, incidents: int | None, port: int, no_serve: bool) -> None:
    """Start on a fresh SQLite file with the demo city loaded."""
    path = Path(db_file).resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    settings = Settings()
    settings.database.url = f"sqlite+aiosqlite:///{path}"
    if "dir" not in settings.attachments.model_fields_set:
        # Beside the file and fresh with it: files of an earlier demo would be left in the
        # folder the command ran from, named by no record (a security review noticed 32).
        folder = path.with_name(f"{path.stem}-attachments")
        shutil.rmtree(folder, ignore_errors=True)
        settings.attachments.dir = os.environ["RONDA_ATTACHMENTS__DIR"] = str(folder)

    async def work(store: Store) -> Any:
        with Progress(console=console) as bar:
            task = bar.add_task("Cargando la ciudad demo / loading the demo city", total=None)

            def advance(n: int) -> None:
                if n < 0:
                    bar.update(task, total=-n)
                else:
                    bar.advance(task, n)

            loaded = await load_demo(store, build_engine(settings, store), incidents, advance)
            loaded.tokens.update({f"web: {o}": DEMO_PASSWORD for o in await demo_passwords(store)})
            return loaded

    result = with_store(settings, work)
    table = Table(title="Ronda demo")
    table.add_column("rol / role")
    table.add_column("token")
    for officer_id, token in result.tokens.items():
        table.add_row(officer_id, token)
    console.print(table)
    console.print(
        f"{result.stations} comisarías, {result.incidents} incidentes, "
        f"{result.positions} posiciones de patrullaje. "
        f"API: http://127.0.0.1:{port}/openapi.json  ·  health: http://127.0.0.1:{port}/readyz"
    )
    console.print(
        f"Mapa / map: http://127.0.0.1:{port}/map  ·  público: http://127.0.0.1:{port}/public"
        f"  ·  app del efectivo / officer's app: http://127.0.0.1:{port}/app"
    )
    if not no_serve:
        _serve(settings, "127.0.0.1", port, 1)
