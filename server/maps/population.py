"""Population by district, imported from a table keyed by UBIGEO (``ronda import population``).

Rates per population (the restricted ``districts`` layer, the public summary) need each
district's population, which boundary files rarely carry: Peru's district polygons have none.
INEI publishes census populations as tables, one row per district with its UBIGEO, so this
reads such a table (CSV, any common separator, UTF-8 or Latin-1) and writes the population
into the imported districts' properties.  Geometry, codes and names are left untouched.

Nothing is guessed: a row whose code or population cannot be read, or a code named twice,
refuses the whole file with the rows at fault.  Districts the file does not name keep the
population they had.
"""

from __future__ import annotations

import asyncio
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from geo.errors import GeoError, MissingColumnError, UnreadableFileError
from sync.store.base import Store
from sync.store.records import Boundary

UBIGEO_WIDTH = 6
# "12 345", "12,345", "12.345", "12'345": digit groups of three after the first.
GROUPED = re.compile(r"^\d{1,3}(?:[ ,.'\u00a0\u202f]\d{3})+$")
PLAIN = re.compile(r"^\d+(?:\.0+)?$")  # "12345", or "12345.0" as a spreadsheet writes it


class InvalidPopulationError(GeoError):
    """Rows of the population file cannot be read as (UBIGEO, population)."""

    code = "invalid_population"


class NoDistrictsError(GeoError):
    """There is no district layer to put the population into."""

    code = "no_districts"


@dataclass(frozen=True)
class PopulationReport:
    """What an import changed."""

    updated: int  # districts whose population the file set
    unknown: list[str] = field(default_factory=list)  # file codes no imported district has
    missing: list[str] = field(default_factory=list)  # districts the file does not name
    published_months: int = 0  # public months already frozen with the old populations


def parse_code(raw: str, width: int = UBIGEO_WIDTH) -> str | None:
    """A UBIGEO as text, zero-padded (a spreadsheet turns ``070105`` into ``70105``)."""
    text = raw.strip()
    if PLAIN.match(text):
        text = text.split(".")[0]
    if not text.isdigit() or len(text) > width:
        return None
    return text.zfill(width)


def parse_population(raw: str) -> int | None:
    """A head count: digits, with or without thousands separators; never negative."""
    text = raw.strip().replace("\u00a0", " ")
    if GROUPED.match(text):
        return int(re.sub(r"\D", "", text))
    if PLAIN.match(text):
        return int(text.split(".")[0])
    return None


def _read_rows(path: Path) -> list[dict[str, str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(f"cannot read {path}", {"path": str(path)}) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # INEI's downloads are often Latin-1
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ";,\t|")
    except csv.Error:
        dialect = csv.excel
    return list(csv.DictReader(text.splitlines(), dialect=dialect))


def read_population(
    path: str | Path,
    *,
    code_column: str = "UBIGEO",
    population_column: str = "POBLACION",
) -> dict[str, int]:
    """``{UBIGEO: population}`` from a CSV table with one row per district."""
    rows = _read_rows(Path(path))
    columns = list(rows[0]) if rows else []
    for option, name in (("code_column", code_column), ("population_column", population_column)):
        if name not in columns:
            raise MissingColumnError(
                f"the file has no column {name!r} ({option})",
                {"option": option, "column": name, "available": columns},
            )
    table: dict[str, int] = {}
    bad: list[dict[str, object]] = []
    twice: list[str] = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        code = parse_code(row.get(code_column) or "")
        people = parse_population(row.get(population_column) or "")
        if code is None or people is None:
            values = {name: row.get(name) for name in (code_column, population_column)}
            bad.append({"line": number, **values})
        elif code in table:
            twice.append(code)
        else:
            table[code] = people
    if bad or twice or not table:
        raise InvalidPopulationError(
            "the population file has rows that cannot be used; nothing was imported",
            {"unreadable": bad[:20], "unreadable_count": len(bad), "duplicated": twice[:20]},
        )
    return table


async def apply_population(store: Store, table: dict[str, int]) -> PopulationReport:
    """Write the populations into the imported districts (one replacement of the layer)."""
    districts = await store.boundaries("districts")
    if not districts:
        raise NoDistrictsError("import the districts first (ronda import districts FILE)", {})
    known = {b.code for b in districts}
    updated = [
        Boundary(b.layer, b.code, b.name, {**b.props, "population": table[b.code]}, b.geometry)
        if b.code in table
        else b
        for b in districts
    ]
    await store.replace_boundaries("districts", updated)
    months = {s.month for s in await store.public_snapshots()}
    return PopulationReport(
        updated=len(known & table.keys()),
        unknown=sorted(table.keys() - known),
        missing=sorted(known - table.keys()),
        published_months=len(months),
    )


def run_import(store: Store, path: str, mapping: dict[str, str]) -> PopulationReport:
    """The CLI's import: read the file first (so a bad file never touches the store)."""
    allowed = {"code_column", "population_column"}
    if not mapping.keys() <= allowed:
        raise InvalidPopulationError(
            "unknown option for population", {"unknown": sorted(mapping.keys() - allowed)}
        )
    table = read_population(path, **mapping)

    async def work() -> PopulationReport:
        await store.open()
        try:
            return await apply_population(store, table)
        finally:
            await store.close()

    return asyncio.run(work())


def import_command(store: Store, path: str, mapping: dict[str, str]) -> None:
    """``ronda import population FILE -o code_column=.. -o population_column=..``."""
    import click

    try:
        report = run_import(store, path, mapping)
    except GeoError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message} {exc.details}") from exc
    click.echo(f"population: {report.updated} districts updated from {path}")
    if report.unknown:
        shown = ", ".join(report.unknown[:10])
        click.echo(f"  {len(report.unknown)} codes match no imported district: {shown}")
    if report.missing:
        shown = ", ".join(report.missing[:10])
        click.echo(
            f"  {len(report.missing)} districts not in the file keep their population: {shown}"
        )
    if report.published_months:
        click.echo(
            f"  {report.published_months} public months are already published and keep the "
            "rates they were published with (docs/public.md); later months use these figures"
        )
