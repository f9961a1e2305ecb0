"""The ``ronda`` command line: serve, init, demo, people and devices, simulate."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from server import people
from server.app import build_engine, build_store
from server.cli_backup import COMMANDS as BACKUP_COMMANDS
from server.cli_db import db
from server.demo import load_demo
from server.retention.cli import retention
from server.settings import Settings
from server.web.sessions import DEMO_PASSWORD, demo_passwords
from sync.clock import now_ms
from sync.errors import StoreUnavailable
from sync.identity import create_device_token, issue_enrollment
from sync.store.base import Store
from sync.store.records import ROLES, Officer, Station

console = Console(stderr=True)
LOG_CONFIG = Path(__file__).with_name("uvicorn_log.json")
T = TypeVar("T")


def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = build_store(settings)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StoreUnavailable as exc:  # e.g. an old schema: the message says what to do
        raise click.ClickException(exc.message) from exc


@click.group()
@click.option("--db", "db_url", envvar="RONDA_DATABASE__URL", help="Database URL.")
@click.pass_context
def main(ctx: click.Context, db_url: str | None) -> None:
    """Ronda: offline-first sync server for community policing."""
    settings = Settings()
    if db_url:
        settings.database.url = db_url
    ctx.obj = settings


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


@main.command()
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


@main.command()
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

    token, earlier = _with_store(settings, work)
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


def masked_url(settings: Settings) -> str:
    """The database URL with its password hidden (it is printed to terminals and logs)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(settings.database.url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: say nothing of it rather than leak it
        return "(database URL not shown)"


@main.command()
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

    result = _with_store(settings, work)
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


main.add_command(db)
main.add_command(retention)
for _command in BACKUP_COMMANDS:
    main.add_command(_command)


@main.group()
def station() -> None:
    """Police stations (comisarías)."""


@station.command("add")
@click.argument("station_id")
@click.argument("name")
@click.option("--district", default=None, help="UBIGEO of its district (6 digits).")
@click.pass_obj
def station_add(settings: Settings, station_id: str, name: str, district: str | None) -> None:
    """Create or rename a station (its district must be imported, if any districts are)."""

    async def work(store: Store) -> None:
        if district is not None:
            await people.check_district(store, district)
        await store.put_station(Station(station_id, name, district))

    _people(settings, work)
    console.print(f"station {station_id} saved")


@station.command("list")
@click.pass_obj
def station_list(settings: Settings) -> None:
    """List stations and how many officers each has."""

    async def work(store: Store) -> list[tuple[Station, int]]:
        officers = await store.list_officers()
        return [
            (s, sum(o.station_id == s.id for o in officers)) for s in await store.list_stations()
        ]

    table = Table("station", "name", "district", "officers")
    for item, officers in _with_store(settings, work):
        table.add_row(item.id, item.name, item.district_code or "", str(officers))
    Console().print(table)


@station.command("remove")
@click.argument("station_id")
@click.pass_obj
def station_remove(settings: Settings, station_id: str) -> None:
    """Delete a station; refused while officers, records or conflicts name it."""
    _people(settings, lambda s: people.remove_station(s, station_id))
    console.print(f"station {station_id} removed")


def _people(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    try:
        return _with_store(settings, work)
    except people.PeopleError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def officer() -> None:
    """Officers and their roles."""


@officer.command("add")
@click.argument("officer_id")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--station", "station_id", default=None)
@click.pass_obj
def officer_add(
    settings: Settings, officer_id: str, name: str, role: str, station_id: str | None
) -> None:
    """Create or update an officer (the station must exist)."""
    officer_ = Officer(officer_id, name, role, station_id)  # type: ignore[arg-type]

    async def work(store: Store) -> None:
        if station_id is not None:
            await people.check_station(store, station_id)
        await store.put_officer(officer_)

    _people(settings, work)
    console.print(f"officer {officer_id} saved")


@officer.command("list")
@click.option("--station", "station_id", default=None, help="Only the officers of a station.")
@click.pass_obj
def officer_list(settings: Settings, station_id: str | None) -> None:
    """List officers, their roles and stations."""
    rows = _with_store(settings, lambda s: s.list_officers(station_id))
    table = Table("officer", "name", "role", "station")
    for o in rows:
        table.add_row(o.id, o.name, o.role, o.station_id or "")
    Console().print(table)


@officer.command("remove")
@click.argument("officer_id")
@click.pass_obj
def officer_remove(settings: Settings, officer_id: str) -> None:
    """Delete an officer with no devices and no records (revoke devices instead otherwise)."""
    _people(settings, lambda s: people.remove_officer(s, officer_id))
    console.print(f"officer {officer_id} removed")


@officer.command("password")
@click.argument("officer_id")
@click.password_option("--password", prompt="Contraseña / password", help="Read from a prompt.")
@click.pass_obj
def officer_password(settings: Settings, officer_id: str, password: str) -> None:
    """Set an officer's password for the web pages (argon2id; forgets failed sign-ins)."""
    from server.web.sessions import set_password

    try:
        _with_store(settings, lambda s: set_password(s, officer_id, password))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"password of {officer_id} set")


@main.command()
@click.argument("officer_id")
@click.pass_obj
def enroll(settings: Settings, officer_id: str) -> None:
    """Issue a one-time enrollment code for an officer's new phone."""

    async def work(store: Store) -> tuple[str, int]:
        ttl = settings.auth.enrollment_ttl_s
        return await issue_enrollment(store, officer_id, ttl, "cli", now_ms())

    code, expires = _with_store(settings, work)
    click.echo(code)
    console.print(f"valid for {settings.auth.enrollment_ttl_s // 60} min (expires_ms={expires})")


@main.command()
@click.argument("device_id")
@click.pass_obj
def revoke(settings: Settings, device_id: str) -> None:
    """Revoke a device: its token is refused from the next request on."""
    if not _with_store(settings, lambda s: s.revoke_device(device_id, now_ms())):
        raise click.ClickException(f"no such device: {device_id}")
    console.print(f"device {device_id} revoked")


@main.command()
@click.option("--officer", "officer_id", default=None)
@click.pass_obj
def devices(settings: Settings, officer_id: str | None) -> None:
    """List devices."""
    rows = _with_store(settings, lambda s: s.list_devices(officer_id))
    table = Table("device", "officer", "name", "revoked")
    for d in rows:
        table.add_row(d.id, d.officer_id, d.name, "yes" if d.revoked_ms else "")
    Console().print(table)


@main.command()
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
            report = _with_store(settings, against_url)
        else:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="ronda-simulate-") as tmp:
                report = asyncio.run(in_process(tmp))
    click.echo(report.summary())
    if not report.converged:
        raise SystemExit(1)


@main.command("import")
@click.argument(
    "kind",
    type=click.Choice(
        ["districts", "stations", "sectors", "streets", "population", "osm", "cadastre"]
    ),
)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--crs", default=None, help="CRS to assume when the file declares none.")
@click.option("--invalid", type=click.Choice(["repair", "refuse"]), default="repair")
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Column mapping, e.g. -o code_column=IDDIST -o name_column=NOMBDIST.",
)
@click.option("--bbox", default=None, help="osm: min_lon,min_lat,max_lon,max_lat to keep.")
@click.option(
    "--kind", "cadastre_kind", type=click.Choice(["aahh", "manzanas", "lotes"]), default=None
)
@click.option(
    "--map",
    "column_map",
    default=None,
    help="cadastre: field=COLUMN,... (e.g. name=NOMBRE) or a file of such lines (docs/geo.md).",
)
@click.pass_obj
def import_layer(
    settings: Settings,
    kind: str,
    path: str,
    crs: str | None,
    invalid: str,
    layer: str | None,
    options: tuple[str, ...],
    bbox: str | None,
    cadastre_kind: str | None,
    column_map: str | None,
) -> None:
    """Import a boundary layer (replacing the old one) and re-place the incidents, or the
    population of the districts from a CSV keyed by UBIGEO (docs/operations.md)."""
    from geo import importer
    from geo.errors import GeoError
    from server.maps.places import load_places, store_layer

    mapping = dict(_option(o) for o in options)
    if kind == "osm":  # streets, landmarks and addresses from OpenStreetMap (docs/geo.md)
        from server.cli_osm import import_osm_command

        return import_osm_command(
            settings,
            console,
            path,
            bbox=bbox,
            mapping=mapping,
            with_store=_with_store,
            engine_for=build_engine,
        )
    if kind == "cadastre":  # AA.HH., manzanas, lotes with a column mapping (docs/geo.md)
        from server.cli_cadastre import import_cadastre_command

        return import_cadastre_command(
            settings,
            console,
            path,
            kind=cadastre_kind,
            mapping=column_map,
            crs=crs,
            invalid=invalid,
            layer=layer,
            options=mapping,
            with_store=_with_store,
            engine_for=build_engine,
        )
    if kind == "population":
        from server.maps.population import import_command

        return import_command(build_store(settings), path, mapping)
    reader = getattr(importer, f"import_{kind}")
    with Progress(console=console) as bar:
        task = bar.add_task(f"Importando / importing {kind}", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=f"{kind}: {stage}", completed=done, total=total or None)

        try:
            bset = reader(path, crs=crs, invalid=invalid, layer=layer, progress=progress, **mapping)
        except GeoError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message} {exc.details}") from exc
        except TypeError as exc:
            raise click.ClickException(f"unknown option for {kind}: {exc}") from exc

    async def work(store: Store) -> tuple[int, int]:
        count = await store_layer(store, kind, bset.frame)
        engine = build_engine(settings, store)
        places = await load_places(store)
        engine.enricher = places.enrich if places else None
        return count, await engine.rederive()

    with console.status("Reubicando incidentes / re-placing incidents"):
        count, moved = _with_store(settings, work)
    for item in bset.repaired:
        console.print(f"[yellow]repaired[/] row {item['row']} {item['name']}: {item['reason']}")
    for item in bset.dropped:
        console.print(f"[red]dropped[/] row {item['row']} {item['name']}: {item['reason']}")
    click.echo(
        f"{kind}: {count} features from {path} (CRS {bset.source_crs}); {moved} incidents re-placed"
    )


def _option(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()
