"""The public summary: every published month frozen in the store, served as stored.

A month is computed from the live data once, when it first leaves the delay window (the
rules are ``geo.public``'s), and stored exactly as it is served (``Store.add_public_snapshots``).
From then on every public answer about it (API, downloads, the page, the public layer) is read
from that stored copy: a late report, an edit or a deletion never changes a published number,
so two versions of a month can never be differenced (docs/public.md). No month is ever
published twice, and nothing here reads a record or personal data: only placed points'
category, time, district and location, for the months being frozen.

``PublicCache`` keeps the assembled summary per data version and rebuilds it once after a
change however many requests ask meanwhile (single flight).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import h3
import numpy as np
import orjson
import shapely

from geo.grid.cells import h3_cells
from geo.public import (
    RULES_VERSION,
    Rules,
    district_table,
    generalise_cells,
    month_bounds,
    month_index,
    month_label,
    months_to_freeze,
    parse_month,
    published_months,
    rates,
)
from server.settings import PublicSettings
from sync.errors import NotFound
from sync.store.base import Store
from sync.store.records import Boundary, PointQuery, PublicSnapshot

DISTRICTS, CELLS = "districts", "cells"
KINDS = (CELLS, DISTRICTS)


@dataclass(frozen=True)
class Summary:
    """What the public may see: the frozen months and the current district layer."""

    rules: Rules  # in force now: months published from now on are published under these
    per: int
    months: tuple[int, ...]  # the months shown, oldest first (the newest ``rules.months``)
    districts: tuple[str, ...]  # the district layer now (its names, populations, polygons)
    names: dict[str, str]
    population: np.ndarray
    geometry: dict[str, Any]  # district code -> GeoJSON geometry
    categories: tuple[str, ...]  # every category of a month shown
    tables: dict[int, dict[str, Any]]  # month -> its frozen districts.json body
    cells: dict[int, dict[str, Any]]  # month -> its frozen cells (``[cell, count]`` pairs)

    def month(self, label: str | None) -> int:
        """A published month by label (the latest when None); NotFound otherwise."""
        if label is None and self.months:
            return self.months[-1]
        index = parse_month(label or "")
        if index is None or index not in self.months:
            raise NotFound(
                "that month is not published",
                {"month": (label or "")[:10], "published": [month_label(m) for m in self.months]},
            )
        return index


def rules_of(settings: PublicSettings) -> Rules:
    return Rules(
        k=settings.k,
        delay_days=settings.delay_days,
        months=settings.months,
        utc_offset_s=settings.utc_offset_minutes * 60,
        cell_resolution=settings.cell_resolution,
        cell_rounding=settings.cell_rounding,
    )


def rules_json(rules: Rules, per: int) -> dict[str, Any]:
    """The rules as published with every month (``rules`` of the public API)."""
    return {
        "k": rules.k,
        "delay_days": rules.delay_days,
        "months": rules.months,
        "utc_offset_minutes": rules.utc_offset_s // 60,
        "cell_resolution": rules.cell_resolution,
        "cell_rounding": rules.cell_rounding,
        "rate_per": per,
    }


async def build_summary(store: Store, settings: PublicSettings, now_s: int) -> Summary:
    """The published summary: the stored months, after freezing the months now due."""
    rules = rules_of(settings)
    boundaries = await store.boundaries("districts")
    stored = _by_month(await store.public_snapshots())
    span = await store.time_span(PointQuery())
    first_s, last_s = span if span is not None else (None, None)
    due = months_to_freeze(published_months(now_s, first_s, rules, last_s), sorted(stored))
    if due and boundaries:  # without districts a month would be frozen empty for good
        await store.add_public_snapshots(
            await freeze(store, settings, boundaries, due, now_s * 1000)
        )
        # Read back: when another process froze a month first, its copy is the published one.
        stored = _by_month(await store.public_snapshots())
    return _assemble(rules, settings.rate_per, boundaries, stored)


def _by_month(snapshots: list[PublicSnapshot]) -> dict[int, dict[str, dict[str, Any]]]:
    """Stored snapshots by month index and kind, bodies parsed; months missing a kind left out."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for snap in snapshots:
        index = parse_month(snap.month)
        if index is not None and snap.kind in KINDS:
            out.setdefault(index, {})[snap.kind] = orjson.loads(snap.body)
    return {m: kinds for m, kinds in out.items() if len(kinds) == len(KINDS)}


def _assemble(
    rules: Rules,
    per: int,
    boundaries: list[Boundary],
    stored: dict[int, dict[str, dict[str, Any]]],
) -> Summary:
    months = tuple(sorted(stored)[-rules.months :])
    categories = sorted({c for m in months for c in stored[m][DISTRICTS]["categories"]})
    return Summary(
        rules=rules,
        per=per,
        months=months,
        districts=tuple(b.code for b in boundaries),
        names={b.code: b.name for b in boundaries},
        population=np.array([float(b.props.get("population") or 0) for b in boundaries]),
        geometry={
            b.code: shapely.geometry.mapping(shapely.from_wkb(b.geometry)) for b in boundaries
        },
        categories=tuple(categories),
        tables={m: stored[m][DISTRICTS] for m in months},
        cells={m: stored[m][CELLS] for m in months},
    )


# --- freezing a month ---------------------------------------------------------------------


async def freeze(
    store: Store,
    settings: PublicSettings,
    boundaries: list[Boundary],
    months: list[int],
    now_ms: int,
) -> list[PublicSnapshot]:
    """The snapshots of ``months`` computed from the live data (contiguous, oldest first)."""
    rules = rules_of(settings)
    since = month_bounds(months[0], rules.utc_offset_s)[0]
    until = month_bounds(months[-1], rules.utc_offset_s)[1]
    cols = await store.points(
        PointQuery(since_s=since, until_s=until),
        ("category", "occurred_s", "district", "lon", "lat"),
    )
    return await asyncio.to_thread(
        _freeze, cols, months, boundaries, rules, settings.rate_per, now_ms
    )


def _freeze(
    cols: dict[str, np.ndarray],
    months: list[int],
    boundaries: list[Boundary],
    rules: Rules,
    per: int,
    now_ms: int,
) -> list[PublicSnapshot]:
    published_at = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    public_rules = rules_json(rules, per)
    stored_rules = orjson.dumps({**public_rules, "version": RULES_VERSION}).decode()
    month = month_index(cols["occurred_s"], rules.utc_offset_s)
    coarse = h3_cells(cols["lon"], cols["lat"], rules.cell_resolution)
    out = []
    for m in months:
        sel = month == m
        label = month_label(m)
        body = districts_body(cols["district"][sel], cols["category"][sel], boundaries, rules, per)
        body = {"month": label, "published_at": published_at, **body, "rules": public_rules}
        cells, counts = generalise_cells(coarse[sel], rules.k, rules.cell_rounding)
        pairs = [
            [h3.int_to_str(c), n] for c, n in zip(cells.tolist(), counts.tolist(), strict=True)
        ]
        cell_body = {"month": label, "resolution": rules.cell_resolution, "cells": pairs}
        for kind, content in ((DISTRICTS, body), (CELLS, cell_body)):
            text = orjson.dumps(content).decode()
            out.append(PublicSnapshot(label, kind, stored_rules, text, now_ms))
    return out


def districts_body(
    districts: np.ndarray,
    categories: np.ndarray,
    boundaries: list[Boundary],
    rules: Rules,
    per: int,
) -> dict[str, Any]:
    """One month's suppressed district × category table as the public API gives it."""
    codes = tuple(b.code for b in boundaries)
    cols = tuple(sorted(set(categories.tolist())))
    table = district_table(districts, categories, codes, cols, rules.k)
    shown = table.published()
    population = np.array([float(b.props.get("population") or 0) for b in boundaries])
    rate = rates(table.counts[:-1, -1], table.hidden[:-1, -1], population, per)
    rows = []
    for i, b in enumerate(boundaries):
        rows.append(
            {
                "district": b.code,
                "name": b.name,
                "population": int(population[i]),
                "counts": {c: _n(shown[i, j]) for j, c in enumerate(cols)},
                "total": _n(shown[i, -1]),
                "rate": None if np.isnan(rate[i]) else round(float(rate[i]), 2),
            }
        )
    totals = {
        "counts": {c: _n(shown[-1, j]) for j, c in enumerate(cols)},
        "total": _n(shown[-1, -1]),
    }
    return {"categories": list(cols), "districts": rows, "totals": totals}


def _n(value: float) -> int | None:
    return None if np.isnan(value) else int(value)


# --- one rebuild at a time ----------------------------------------------------------------


class PublicCache:
    """The summary of the latest data version, rebuilt by one task at a time.

    While a rebuild runs, callers get the summary built before (it holds only frozen months,
    so it is as publishable as the new one); only when there is none yet do they wait for
    the rebuild. ``rebuilds`` counts rebuilds started.
    """

    def __init__(self) -> None:
        self._current: tuple[Hashable, Summary] | None = None
        self._task: asyncio.Task[Summary] | None = None
        self.rebuilds = 0

    async def get(self, key: Hashable, build: Callable[[], Awaitable[Summary]]) -> Summary:
        """The summary for ``key`` (e.g. the data version and day), built by ``build``."""
        current = self._current
        if current is not None and current[0] == key:
            return current[1]
        task = self._task
        if task is None:
            task = self._task = asyncio.create_task(self._rebuild(key, build))
        elif current is not None:
            return current[1]
        # shield: a caller that goes away does not cancel the rebuild the others wait for
        return await asyncio.shield(task)

    async def _rebuild(self, key: Hashable, build: Callable[[], Awaitable[Summary]]) -> Summary:
        self.rebuilds += 1
        try:
            built = await build()
            self._current = (key, built)
            return built
        finally:
            self._task = None
