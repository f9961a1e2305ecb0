"""Words of the conflict review, the hotspot pop-up and the briefing (Spanish first, English).

Kept apart from ``server.web.i18n`` (the map's table) so these pages change on their own;
templates get this table as ``r``. Values are shown the way people read them: names, not
codes; Lima time; lists of people as names.
"""

from __future__ import annotations

from typing import Any

from server.web.detail import local_time
from server.web.i18n import category_name

_TEXT: dict[str, tuple[str, str]] = {
    "intro": (
        "Dos efectivos cambiaron el mismo dato sin ver el cambio del otro. Se guardó el más "
        "reciente; revise cada caso y, si corresponde, elija el otro valor.",
        "Two officers changed the same value without seeing each other's change. The newer "
        "one was kept; review each case and, if right, choose the other value.",
    ),
    "conflict": ("Conflicto", "Conflict"),
    "incident": ("Incidente", "Incident"),
    "open_incident": ("Ver el incidente en el mapa", "See the incident on the map"),
    "current_value": ("Valor vigente", "Current value"),
    "other_value": ("Otro valor (descartado)", "Other value (discarded)"),
    "written_by": ("Registrado por", "Recorded by"),
    "device": ("dispositivo", "device"),
    "detected": ("Detectado", "Detected"),
    "keep": ("Marcar como revisado (mantener el valor vigente)", "Mark reviewed (keep current)"),
    "choose_other": ("Marcar como revisado y elegir el otro valor", "Mark reviewed, choose other"),
    "reviewed": ("Revisado", "Reviewed"),
    "reviewed_by": ("Revisado por {who} el {when}", "Reviewed by {who} on {when}"),
    "kept": ("se mantuvo el valor vigente", "the current value was kept"),
    "chose_other": ("se eligió el otro valor", "the other value was chosen"),
    "pending": ("Pendiente", "Pending"),
    "chief_only": (
        "Solo el comisario de la estación marca conflictos como revisados.",
        "Only the station chief marks conflicts as reviewed.",
    ),
    "done": ("Revisión guardada.", "Review saved."),
    "done_other": (
        "Revisión guardada: el otro valor es ahora el vigente y llegará a los dispositivos "
        "en su próxima sincronización.",
        "Review saved: the other value is now current and reaches the devices at their next sync.",
    ),
    "already_reviewed": (
        "Este conflicto ya fue revisado.",
        "This conflict was reviewed already.",
    ),
    "review_refused": (
        "No se pudo guardar el valor elegido; el incidente pudo haber cambiado. Recargue.",
        "The chosen value could not be saved; the incident may have changed. Reload.",
    ),
    "not_found": ("Ese conflicto no existe o no es de su estación.", "No such conflict here."),
    "deleted_yes": ("eliminado", "deleted"),
    "deleted_no": ("vigente (no eliminado)", "kept (not deleted)"),
    "empty": ("(vacío)", "(empty)"),
    "attachments_n": ("{n} adjunto(s)", "{n} attachment(s)"),
    "unknown_device": ("dispositivo desconocido", "unknown device"),
    "pending_list": ("Pendientes", "Pending"),
    # hotspot pop-up and briefing
    "cell": ("Celda", "Cell"),
    "count": ("Incidentes", "Incidents"),
    "z": ("Puntaje z (Gi*)", "z-score (Gi*)"),
    "class": ("Clase", "Class"),
    "change": ("Cambio frente al periodo anterior", "Change since the previous period"),
    "previous": ("Periodo anterior", "Previous period"),
    "streets": ("Calles", "Streets"),
    "sector": ("Sector", "Sector"),
    "no_streets": ("sin calles registradas", "no streets on record"),
    "top_places": ("Lugares principales", "Top places"),
    "briefing": ("Informe de puntos críticos", "Hotspot briefing"),
    "open_briefing": ("Informe imprimible", "Printable briefing"),
    "print": ("Imprimir", "Print"),
    "period": ("Periodo", "Period"),
    "rank": ("N.º", "No."),
    "place": ("Lugar (calles)", "Place (streets)"),
    "no_places": (
        "No hay puntos críticos en este periodo (se necesitan más incidentes).",
        "No hotspots in this period (more incidents are needed).",
    ),
    "close": ("Cerrar", "Close"),
    "generated": ("Generado el {when} (hora de Lima)", "Generated on {when} (Lima time)"),
    "station": ("Comisaría", "Station"),
    "categories_all": ("todas las categorías", "all categories"),
    "hot3": ("Punto caliente (99 %)", "Hot spot (99%)"),
    "hot2": ("Punto caliente (95 %)", "Hot spot (95%)"),
    "hot1": ("Punto caliente (90 %)", "Hot spot (90%)"),
    "cold1": ("Punto frío (90 %)", "Cold spot (90%)"),
    "cold2": ("Punto frío (95 %)", "Cold spot (95%)"),
    "cold3": ("Punto frío (99 %)", "Cold spot (99%)"),
    "not_significant": ("No significativo", "Not significant"),
}

FIELDS: dict[str, tuple[str, str]] = {
    "category": ("Categoría", "Category"),
    "occurred_at": ("Fecha y hora del hecho", "When it happened"),
    "status": ("Estado", "Status"),
    "description": ("Descripción", "Description"),
    "address_text": ("Dirección", "Address"),
    "location": ("Ubicación", "Location"),
    "attachments": ("Adjuntos", "Attachments"),
    "pii.victims": ("Agraviados", "Victims"),
    "pii.witnesses": ("Testigos", "Witnesses"),
    "pii.suspects": ("Sospechosos", "Suspects"),
    "_deleted": ("Eliminación del incidente", "Incident deletion"),
}

STATUSES: dict[str, tuple[str, str]] = {
    "open": ("abierto", "open"),
    "closed": ("cerrado", "closed"),
    "referred": ("derivado", "referred"),
}

MAX_SHOWN = 300


def text(lang: str) -> dict[str, str]:
    """This language's table (Spanish unless English is asked for)."""
    i = 1 if lang == "en" else 0
    return {key: pair[i] for key, pair in _TEXT.items()}


def field_name(lang: str, name: str) -> str:
    pair = FIELDS.get(name)
    return pair[1 if lang == "en" else 0] if pair else name


def gi_class(lang: str, gi_bin: int) -> str:
    """The Gi* class of a cell in words (bins +3..-3 as the map's legend)."""
    key = {3: "hot3", 2: "hot2", 1: "hot1", -1: "cold1", -2: "cold2", -3: "cold3"}
    return text(lang)[key.get(gi_bin, "not_significant")]


def value_text(lang: str, name: str, value: Any, offset_s: int) -> str:
    """A field's value as a person reads it (cut at ``MAX_SHOWN`` characters); times at
    ``offset_s`` from UTC (Lima)."""
    t = text(lang)
    shown: str
    if value is None or value == [] or value == "":
        shown = t["empty"]
    elif name == "_deleted":
        shown = t["deleted_yes"] if value else t["deleted_no"]
    elif name == "category" and isinstance(value, str):
        shown = category_name(lang, value)
    elif name == "status" and isinstance(value, str):
        pair = STATUSES.get(value)
        shown = pair[1 if lang == "en" else 0] if pair else value
    elif name == "occurred_at" and isinstance(value, str):
        shown = local_time(value, offset_s) or value
    elif name == "location" and isinstance(value, dict):
        shown = f"{value.get('lat')}, {value.get('lon')}"
        if value.get("accuracy_m") is not None:
            shown += f" (± {value['accuracy_m']:g} m)"
    elif name == "attachments" and isinstance(value, list):
        shown = t["attachments_n"].format(n=len(value))
    elif name.startswith("pii.") and isinstance(value, list):
        shown = "; ".join(_person(p) for p in value)
    else:
        shown = str(value)
    return shown if len(shown) <= MAX_SHOWN else shown[: MAX_SHOWN - 1] + "…"


def _person(person: Any) -> str:
    if not isinstance(person, dict):
        return str(person)
    extra = [f"DNI {person['dni']}"] if person.get("dni") else []
    extra += [str(person[k]) for k in ("role", "age") if person.get(k) is not None]
    name = str(person.get("name", "?"))
    return f"{name} ({', '.join(extra)})" if extra else name
