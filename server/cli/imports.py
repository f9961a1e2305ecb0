"""``ronda import``: boundary layers, population, OpenStreetMap and cadastre (docs/geo.md,
docs/operations.md)."""

from __future__ import annotations

import click
from rich.progress import Progress

from server.app import build_engine, build_store
from server.cli.common import console, with_store
from server.settings import Settings
from sync.store.base import Store


@click.command("import")
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
        from server.cli.osm import import_osm_command

        return import_osm_command(
            settings,
            console,
            path,
            bbox=bbox,
            mapping=mapping,
            with_store=with_store,
            engine_for=build_engine,
        )
    if kind == "cadastre":  # AA.HH., manzanas, lotes with a column mapping (docs/geo.md)
        from server.cli.cadastre import import_cadastre_command

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
            with_store=with_store,
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
        count, moved = with_store(settings, work)
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
