"""``ronda import cadastre FILE --kind aahh|manzanas|lotes --map field=COLUMN,...``.

The file is read, mapped and validated in memory first (:func:`geo.cadastre.import_cadastre`);
only then is the store's layer (``aa_hh``, ``manzanas`` or ``lotes``) replaced, in one
transaction, so a running server never sees half a layer. By default only what the file
covers is replaced: the AA.HH. of its districts, the manzanas and lotes of its AA.HH.; the
rest stay (``-o replace=all`` replaces the whole layer). Then every incident is re-derived, as
after a boundary or OSM import: address-only incidents are geocoded again on the new lotes,
and those whose place changes get a new version that devices pull.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.progress import Progress

from server.settings import Settings
from sync.store.base import Store
from sync.store.records import Boundary

SHOWN_ROWS = 20  # dropped/repaired rows listed one by one; the rest are counted


def merge_layer(
    old: list[Boundary], new: list[Boundary], covers: tuple[str, set[str | None]], replace_all: bool
) -> list[Boundary]:
    """The layer after the import: the new features, plus the old ones the file does not
    cover (``covers``: a property and its values, e.g. the AA.HH. codes of a lotes file)."""
    if replace_all:
        return new
    key, values = covers
    codes = {b.code for b in new}
    kept = [b for b in old if b.code not in codes and (b.props.get(key) or None) not in values]
    return kept + new


def import_cadastre_command(
    settings: Settings,
    console: Console,
    path: str,
    *,
    kind: str | None,
    mapping: str | None,
    crs: str | None,
    invalid: str,
    layer: str | None,
    options: dict[str, str],
    with_store: Any,
    engine_for: Any,
) -> None:
    """Run the import (see the module docstring)."""
    from geo.cadastre import KINDS, import_cadastre, load_mapping
    from geo.errors import GeoError
    from server.maps.places import boundaries_to_frame, frame_to_boundaries, load_places

    if kind is None:
        raise click.UsageError(f"ronda import cadastre FILE --kind {'|'.join(KINDS)}")
    unknown = set(options) - {"replace"}
    if unknown or options.get("replace", "covered") not in ("covered", "all"):
        raise click.ClickException("cadastre takes -o replace=covered|all only")
    replace_all = options.get("replace") == "all"

    async def stored(store: Store) -> dict[str, Any]:
        names = ("districts", "aa_hh", "manzanas")
        return {n: boundaries_to_frame(await store.boundaries(n)) for n in names}

    layers = with_store(settings, stored)
    with Progress(console=console) as bar:
        task = bar.add_task(f"Catastro / cadastre: {kind}", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=f"{kind}: {stage}", completed=done, total=total or None)

        try:
            result = import_cadastre(
                path,
                kind,
                load_mapping(mapping),
                districts=layers["districts"],
                aa_hh=layers["aa_hh"],
                manzanas=layers["manzanas"],
                crs=crs,
                layer=layer,
                invalid=invalid,
                progress=progress,
            )
        except GeoError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message} {exc.details}") from exc

    async def work(store: Store) -> tuple[int, int, dict[str, int]]:
        new = frame_to_boundaries(result.layer, result.frame)
        old = await store.boundaries(result.layer)
        merged = merge_layer(old, new, result.covers, replace_all)
        await store.replace_boundaries(result.layer, merged)  # one transaction
        orphans = await _orphans(store) if result.layer == "aa_hh" else {}
        engine = engine_for(settings, store)
        places = await load_places(store)
        engine.enricher = places.enrich if places else None
        return len(merged), await engine.rederive(), orphans

    with console.status("Guardando y reubicando / storing and re-placing incidents"):
        total, moved, orphans = with_store(settings, work)
    for label, items in (("repaired", result.repaired), ("dropped", result.dropped)):
        for item in items[:SHOWN_ROWS]:
            console.print(f"{label} row {item['row']} {item['name'] or ''}: {item['reason']}")
        if len(items) > SHOWN_ROWS:
            console.print(f"... and {len(items) - SHOWN_ROWS} more {label} rows")
    for name, n in orphans.items():
        console.print(
            f"{n} {name} belong to AA.HH. codes no longer imported: import the {name} again"
        )
    click.echo(result.summary())
    kept = total - len(result.frame)
    click.echo(
        f"cadastre: {result.layer} now holds {total:,} features ({kept:,} kept from before: "
        f"{'none' if replace_all else 'those of what the file does not cover'});"
        f" {moved} incidents re-derived"
    )


async def _orphans(store: Store) -> dict[str, int]:
    """Manzanas and lotes whose AA.HH. is no longer in the layer (after an aahh re-import)."""
    codes = {b.code for b in await store.boundaries("aa_hh")}
    out = {}
    for name in ("manzanas", "lotes"):
        n = sum(1 for b in await store.boundaries(name) if b.props.get("aa_hh_code") not in codes)
        if n:
            out[name] = n
    return out
