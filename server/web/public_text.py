"""Words of the public page and its downloads, Spanish first, English second.

Kept apart from ``server.web.i18n`` (the short strings of every page) because these are the
public page's own: the plain-language "how to read these data" text, month names and the
spreadsheet column headers. Every number they state comes from the rules a month was
published under (``geo.public`` / ``server.maps.public_summary``), never written in by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import h3

from geo.public import DAY_S, month_bounds, month_label, parse_month
from server.web.i18n import STRINGS, category_name

MONTHS = {
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}

TEXT: dict[str, dict[str, str]] = {
    "es": {
        "table_caption": "Incidentes registrados por distrito y tipo, {month}",
        "table_scroll": "Deslice la tabla hacia el lado para ver todas las columnas.",
        "chart_title": "Incidentes por mes, {first} a {last}",
        "chart_y": "incidentes",
        "chart_gap": "hueco: cifra reservada",
        "chart_table": "Ver los datos del gráfico como tabla",
        "map_title": "Mapa por zonas, {month}",
        "map_desc": (
            "{n} zonas con {k} incidentes o más; el número de cada zona es su cantidad de "
            "incidentes redondeada. Las mayores: {zones}. La tabla de zonas, debajo del "
            "mapa, las lista todas."
        ),
        "map_none": "Ninguna zona llegó a {k} incidentes este mes: el mapa no muestra zonas.",
        "map_legend": "Leyenda del mapa",
        "map_class": "{lo} a {hi} incidentes",
        "map_one": "{n} incidentes",
        "map_district": "Límite de distrito",
        "map_blank": "Sin color: menos de {k} incidentes (o ninguno)",
        "map_table": "Ver las zonas del mapa como tabla",
        "zone": "Zona (distritos que cubre)",
        "zone_count": "Incidentes (redondeado)",
        "how_title": "Cómo leer estos datos",
        "how_what": (
            "Cada cifra es la cantidad de incidentes registrados por la policía en un "
            "distrito durante un mes calendario completo (hora de Lima), por tipo de "
            "incidente. Ninguna cifra contiene nombres, direcciones ni el lugar exacto de un "
            "hecho."
        ),
        "how_withheld_q": "¿Por qué algunas cifras aparecen como «—»?",
        "how_withheld": (
            "Cuando en un distrito hubo de 1 a {k1} incidentes de un tipo en el mes, la cifra "
            "no se publica: con tan pocos casos, los vecinos podrían saber a quién le pasó. "
            "Algunas cifras mayores también se ocultan, porque restándolas de los totales se "
            "podría calcular una cifra oculta. Un 0 sí se muestra: no hubo incidentes. Un "
            "total con «—» también tiene una cifra oculta dentro."
        ),
        "how_rate_q": "¿Qué quiere decir «tasa por {per} habitantes»?",
        "how_rate": (
            "Es la cantidad de incidentes por cada {per} personas que viven en el distrito. "
            "Sirve para comparar distritos con mucha y poca población."
        ),
        "how_rate_example": (
            " Por ejemplo, {name} tuvo {total} incidentes en {month} y tiene {population} "
            "habitantes: {total} ÷ {population} × {per} = {rate}."
        ),
        "how_rate_hidden": " Si el total del distrito está oculto, su tasa también.",
        "how_late_q": "¿Qué tan recientes son los datos?",
        "how_late": (
            "Solo se publican meses completos, y cada mes aparece cuando han pasado al menos "
            "{delay} días desde que terminó (contados desde hoy, o desde el último incidente "
            "registrado si es anterior). Así se alcanzan a registrar los reportes que llegan "
            "tarde, y nadie puede reconocer un hecho reciente."
        ),
        "how_frozen": (
            " Un mes publicado no cambia nunca: un reporte tardío, una corrección o una "
            "anulación posterior no se suma, para que nadie pueda comparar dos versiones y "
            "deducir un caso."
        ),
        "how_published": " {month} se publicó el {date}.",
        "how_next": (
            " {month} se publicará no antes del {date}, y solo cuando haya incidentes "
            "registrados desde esa fecha."
        ),
        "how_map_q": "¿Cómo se lee el mapa?",
        "how_map": (
            "El mapa divide la ciudad en hexágonos iguales de unos {area} km² (unos {across} km "
            "de lado a lado), que no siguen los límites de los distritos. El número de cada "
            "hexágono es su cantidad de incidentes del mes redondeada a múltiplos de "
            "{rounding} (nunca menos de {rounding}); los hexágonos con menos de {k} "
            "incidentes no se dibujan. Por eso la suma del mapa no coincide con la tabla."
        ),
        "downloads_note": (
            "Los archivos CSV se abren con una hoja de cálculo (Excel, LibreOffice); una "
            "celda vacía es una cifra reservada. JSON y GeoJSON son para programas y mapas "
            "(SIG)."
        ),
        "dl_districts": "Tabla por distrito, {month}",
        "dl_csv": "hoja de cálculo (CSV)",
        "dl_geojson": "mapa de distritos (GeoJSON)",
        "dl_cells": "Zonas del mapa, {month} (GeoJSON)",
        "dl_trend": "Incidentes por mes",
        # spreadsheet column headers
        "col_month": "mes",
        "col_code": "ubigeo",
        "col_name": "distrito",
        "col_population": "población",
        "col_total": "total",
        "col_rate": "tasa por {per} hab.",
        "total_row": "Total",
    },
    "en": {
        "table_caption": "Recorded incidents by district and type, {month}",
        "table_scroll": "Swipe the table sideways to see every column.",
        "chart_title": "Incidents per month, {first} to {last}",
        "chart_y": "incidents",
        "chart_gap": "gap: withheld figure",
        "chart_table": "Show the chart's data as a table",
        "map_title": "Map by area, {month}",
        "map_desc": (
            "{n} areas with {k} incidents or more; each area's number is its rounded count "
            "of incidents. The largest: {zones}. The table of areas, under the map, lists "
            "them all."
        ),
        "map_none": "No area reached {k} incidents this month: the map shows no areas.",
        "map_legend": "Map legend",
        "map_class": "{lo} to {hi} incidents",
        "map_one": "{n} incidents",
        "map_district": "District boundary",
        "map_blank": "No colour: fewer than {k} incidents (or none)",
        "map_table": "Show the map's areas as a table",
        "zone": "Area (districts it covers)",
        "zone_count": "Incidents (rounded)",
        "how_title": "How to read these data",
        "how_what": (
            "Each figure is the number of incidents the police recorded in a district during "
            "one whole calendar month (Lima time), by type of incident. No figure holds a "
            "name, an address or the exact place of an event."
        ),
        "how_withheld_q": "Why are some figures shown as '—'?",
        "how_withheld": (
            "When a district had from 1 to {k1} incidents of a type in the month, the figure "
            "is not published: with so few cases, neighbours could tell whom it happened to. "
            "Some larger figures are hidden too, because subtracting them from the totals "
            "would give a hidden one away. A 0 is shown: there were no incidents. A total "
            "shown as '—' has a hidden figure in it too."
        ),
        "how_rate_q": "What does 'rate per {per} residents' mean?",
        "how_rate": (
            "It is the number of incidents for every {per} people living in the district. It "
            "lets you compare districts with many and few residents."
        ),
        "how_rate_example": (
            " For example, {name} had {total} incidents in {month} and has {population} "
            "residents: {total} ÷ {population} × {per} = {rate}."
        ),
        "how_rate_hidden": " When a district's total is hidden, so is its rate.",
        "how_late_q": "How recent are the data?",
        "how_late": (
            "Only whole months are published, and each month appears once at least {delay} "
            "days have passed since it ended (counted from today, or from the latest "
            "recorded incident when that is earlier). Late reports get recorded meanwhile, "
            "and nobody can recognise a recent event."
        ),
        "how_frozen": (
            " A published month never changes: a later late report, correction or deletion "
            "is not added, so nobody can compare two versions and work out a case."
        ),
        "how_published": " {month} was published on {date}.",
        "how_next": (
            " {month} will be published no earlier than {date}, and only once incidents "
            "recorded since that date exist."
        ),
        "how_map_q": "How do I read the map?",
        "how_map": (
            "The map divides the city into equal hexagons of about {area} km² (about "
            "{across} km across), which do not follow district boundaries. Each hexagon's "
            "number is its count of incidents in the month rounded to a multiple of "
            "{rounding} (never below {rounding}); hexagons with fewer than {k} incidents are "
            "not drawn. That is why the map does not add up to the table."
        ),
        "downloads_note": (
            "CSV files open in a spreadsheet (Excel, LibreOffice); an empty cell is a "
            "withheld figure. JSON and GeoJSON are for programs and maps (GIS)."
        ),
        "dl_districts": "Table by district, {month}",
        "dl_csv": "spreadsheet (CSV)",
        "dl_geojson": "district map (GeoJSON)",
        "dl_cells": "Map areas, {month} (GeoJSON)",
        "dl_trend": "Incidents per month",
        "col_month": "month",
        "col_code": "ubigeo",
        "col_name": "district",
        "col_population": "population",
        "col_total": "total",
        "col_rate": "rate per {per} residents",
        "total_row": "Total",
    },
}


def number(lang: str, value: float, decimals: int = 0) -> str:
    """``10 000`` / ``3.5`` in Spanish, ``10,000`` / ``3.5`` in English. Peru writes the
    decimal point (es-PE), as the CSV downloads do; thousands are spaced, so a Spanish
    reader never takes them for decimals."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ") if lang == "es" else text


def month_name(lang: str, label: str, short: bool = False) -> str:
    """``enero de 2025`` / ``January 2025`` for ``2025-01`` (``ene`` / ``Jan`` when short)."""
    index = parse_month(label)
    if index is None:
        return label
    name = MONTHS[lang][index % 12]
    if short:
        return name[:3]
    return f"{name} de {index // 12}" if lang == "es" else f"{name} {index // 12}"


def day_name(lang: str, epoch_s: int, utc_offset_s: int) -> str:
    """A local calendar day in words: ``5 de marzo de 2025`` / ``5 March 2025``."""
    day = datetime.fromtimestamp(epoch_s, UTC) + timedelta(seconds=utc_offset_s)
    name = MONTHS[lang][day.month - 1]
    return f"{day.day} de {name} de {day.year}" if lang == "es" else f"{day.day} {name} {day.year}"


def csv_headers(lang: str, categories: list[str], per: int) -> list[str]:
    """The district CSV's header row in the page's language."""
    t = TEXT[lang]
    return [
        t["col_month"],
        t["col_code"],
        t["col_name"],
        t["col_population"],
        *(category_name(lang, c) for c in categories),
        t["col_total"],
        t["col_rate"].format(per=number(lang, per)),
    ]


def trend_headers(lang: str, categories: tuple[str, ...]) -> list[str]:
    t = TEXT[lang]
    return [t["col_month"], *(category_name(lang, c) for c in categories), t["col_total"]]


def how_to_read(
    lang: str,
    month: int,
    table: dict[str, Any],
    rules: dict[str, Any],
    latest: int,
    delay_now: int,
) -> dict[str, str]:
    """The "how to read these data" paragraphs for one published month: its own rules, a
    rate worked out from one of its own rows, when it was published, and when the month
    after the ``latest`` published one may appear (under the delay in force, ``delay_now``)."""
    t, per = TEXT[lang], int(rules["rate_per"])
    offset = int(rules["utc_offset_minutes"]) * 60
    label = month_label(month)
    rate = t["how_rate"].format(per=number(lang, per))
    shown = [r for r in table["districts"] if r["rate"] is not None and r["total"]]
    if shown:
        row = max(shown, key=lambda r: r["total"])
        rate += t["how_rate_example"].format(
            name=row["name"],
            total=number(lang, row["total"]),
            month=month_name(lang, label),
            population=number(lang, row["population"]),
            per=number(lang, per),
            rate=number(lang, row["rate"], 2),
        )
    rate += t["how_rate_hidden"]
    nxt = latest + 1
    next_at = month_bounds(nxt, offset)[1] + delay_now * DAY_S
    late = t["how_late"].format(delay=rules["delay_days"]) + t["how_frozen"]
    if table.get("published_at"):
        published = datetime.strptime(table["published_at"], "%Y-%m-%dT%H:%M:%SZ")
        late += t["how_published"].format(
            month=month_name(lang, label).capitalize(),
            date=day_name(lang, int(published.replace(tzinfo=UTC).timestamp()), offset),
        )
    late += t["how_next"].format(
        month=month_name(lang, month_label(nxt)).capitalize(),
        date=day_name(lang, next_at, offset),
    )
    res, rounding, k = int(rules["cell_resolution"]), int(rules["cell_rounding"]), int(rules["k"])
    area = h3.average_hexagon_area(res, "km^2")
    across = 2 * h3.average_hexagon_edge_length(res, "km") * 3**0.5 / 2  # flat to flat
    return {
        "what": t["how_what"],
        "withheld_q": t["how_withheld_q"],
        "withheld": t["how_withheld"].format(k1=k - 1),
        "rate_q": t["how_rate_q"].format(per=number(lang, per)),
        "rate": rate,
        "late_q": t["how_late_q"],
        "late": late,
        "map_q": t["how_map_q"],
        "map": t["how_map"].format(
            area=number(lang, area), across=number(lang, across), rounding=rounding, k=k
        ),
    }


def strings(lang: str) -> dict[str, str]:
    """The page's short strings and these, in one table."""
    return {**STRINGS[lang], **TEXT[lang]}
