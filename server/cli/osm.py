"""``ronda import osm FILE.osm.pbf``: a city's gazetteer from an OpenStreetMap extract.

The extract is read and built in memory first (streets cut into cuadras, landmarks, address
points); only then are the store's ``streets``, ``landmarks`` and ``addresses`` layers
replaced, each in one transaction, and the incidents re-derived, so address-only incidents
are geocoded again on the new streets and their new versions reach the devices. A running
server keeps answering with the gazetteer it has until its places are reloaded.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from server.settings import Settings
from sync.store.base import Store

OSM_LAYERS = ("streets", "landmarks", "addresses")


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``min_lon,min_lat,max_lon,max_lat`` -> a tuple (None when not given)."""
    if not text:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"expected min_lon,min_lat,max_lon,max_lat, got {text!r}") from exc
    if not (x0 < x1 and y0 < y1 and x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90):
        raise click.BadParameter(f"not a box in degrees: {text!r}")
    return x0, y0, x1, y1


def import_osm_command(
    settings: Settings,
    console: Console,
    path: str,
    *,
    bbox: str | None,
    mapping: dict[str, str],
    with_store: Any,
    engine_for: Any,
) -> None:
    """Run the import (see the module docstring); ``mapping``: district_code, district_name,
    node_index (``-o node_index=sparse_file_array,/tmp/nodes.idx`` keeps node locations on
    disk for a country-sized extract)."""
    from geo.errors import GeoError
    from geo.osm.build import import_osm
    from server.maps.places import boundaries_to_frame, load_places, store_layer

    unknown = set(mapping) - {"district_code", "district_name", "node_index"}
    if unknown:
        raise click.ClickException(f"unknown option for osm: {sorted(unknown)}")
    box = parse_bbox(bbox)

    async def districts_of(store: Store) -> Any:
        return boundaries_to_frame(await store.boundaries("districts"))

    districts = with_store(settings, districts_of)
    # districts that an earlier OSM import made from its extract are made again from this one
    own = districts.empty or (
        "source" in districts.columns and bool((districts["source"] == "osm").all())
    )
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("OSM: leyendo / reading", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            label = "leyendo / reading" if stage == "read" else "calles / streets"
            bar.update(task, description=f"OSM: {label}", completed=done, total=total or None)

        try:
            result = import_osm(
                path,
                bbox=box,
                districts=None if own else districts,
                district_code=mapping.get("district_code", "osm"),
                district_name=mapping.get("district_name", "OSM extract"),
                progress=progress,
                node_index=mapping.get("node_index", "flex_mem"),
            )
        except GeoError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message} {exc.details}") from exc

    async def work(store: Store) -> tuple[dict[str, int], int]:
        counts = {}
        if own:  # nothing to place on otherwise: the extract is the district
            counts["districts"] = await store_layer(store, "districts", result.districts)
        for layer in OSM_LAYERS:
            counts[layer] = await store_layer(store, layer, getattr(result, layer))
        engine = engine_for(settings, store)
        places = await load_places(store)
        engine.enricher = places.enrich if places else None
        return counts, await engine.rederive()

    with console.status("Guardando y reubicando / storing and re-placing incidents"):
        counts, moved = with_store(settings, work)
    click.echo(result.summary())
    stored = ", ".join(f"{n:,} {layer}" for layer, n in counts.items())
    click.echo(f"osm: stored {stored} from {path}; {moved} incidents re-derived")
