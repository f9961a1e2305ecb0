"""Page strings in Spanish (the default) and English.

A page asks ``text(lang)`` for its table; templates use ``t.key``. The language comes from
``?lang=`` (so a public link can carry it), else the ``ronda_lang`` cookie set by the switch,
else the setting.
"""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("es", "en")

CATEGORIES = {
    "es": {
        "robo": "Robo",
        "hurto": "Hurto",
        "violencia_familiar": "Violencia familiar",
        "lesiones": "Lesiones",
        "microcomercializacion_drogas": "Microcomercialización de drogas",
        "accidente_transito": "Accidente de tránsito",
        "estafa": "Estafa",
        "alteracion_orden_publico": "Alteración del orden público",
    },
    "en": {
        "robo": "Robbery",
        "hurto": "Theft",
        "violencia_familiar": "Domestic violence",
        "lesiones": "Assault",
        "microcomercializacion_drogas": "Drug dealing",
        "accidente_transito": "Traffic accident",
        "estafa": "Fraud",
        "alteracion_orden_publico": "Public disorder",
    },
}

_STRINGS: dict[str, tuple[str, str]] = {
    "title_map": ("Mapa del comisario", "Chief's map"),
    "title_public": ("Incidencia delictiva por distrito", "Crime by district"),
    "title_login": ("Ingresar", "Sign in"),
    "title_conflicts": ("Conflictos por revisar", "Conflicts to review"),
    "title_plans": ("Planes de patrullaje", "Patrol plans"),
    "title_notices": ("Avisos", "Notices"),
    "title_devices": ("Dispositivos", "Devices"),
    "title_officers": ("Efectivos", "Officers"),
    "title_stations": ("Comisarías", "Stations"),
    "title_audit": ("Registro de auditoría", "Audit log"),
    "officer_id": ("Código del efectivo", "Officer id"),
    "password": ("Contraseña", "Password"),
    "sign_in": ("Ingresar", "Sign in"),
    "sign_out": ("Salir", "Sign out"),
    "bad_login": ("Código o contraseña incorrectos.", "Wrong officer id or password."),
    "throttled": (
        "Demasiados intentos fallidos desde este equipo; espere {s} s e intente de nuevo.",
        "Too many failed attempts from this device; wait {s} s and try again.",
    ),
    "language": ("English", "Español"),
    "window": ("Periodo", "Time window"),
    "since": ("Desde", "From"),
    "until": ("Hasta", "To"),
    "categories": ("Categorías", "Categories"),
    "apply": ("Aplicar", "Apply"),
    "layers": ("Capas", "Layers"),
    "layer_incidents": ("Incidentes", "Incidents"),
    "layer_hotspots": ("Puntos calientes (Gi*)", "Hotspots (Gi*)"),
    "layer_emerging": ("Puntos calientes emergentes", "Emerging hotspots"),
    "layer_density": ("Densidad (kernel)", "Density (kernel)"),
    "layer_districts": ("Distritos: tasa por 10 000 hab.", "Districts: rate per 10,000"),
    "layer_sectors": ("Sectores de patrullaje", "Patrol sectors"),
    "layer_stations": ("Comisarías", "Stations"),
    "layer_tracks": ("Recorridos de patrullaje", "Patrol tracks"),
    "layer_dosage": ("Dosificación de patrullaje", "Patrol dosage"),
    "legend": ("Leyenda", "Legend"),
    "hot3": ("Caliente, 99 % de confianza", "Hot, 99% confidence"),
    "hot2": ("Caliente, 95 %", "Hot, 95%"),
    "hot1": ("Caliente, 90 %", "Hot, 90%"),
    "cold1": ("Frío, 90 %", "Cold, 90%"),
    "cold2": ("Frío, 95 %", "Cold, 95%"),
    "cold3": ("Frío, 99 %", "Cold, 99%"),
    "density_low": ("baja", "low"),
    "density_high": ("alta", "high"),
    "dosage_minutes": ("minutos de patrullaje", "patrol minutes"),
    "export": ("Exportar lo que se ve", "Export what is on screen"),
    "export_csv": ("CSV", "CSV"),
    "export_gpkg": ("GeoPackage", "GeoPackage"),
    "export_zip": ("Zip: GeoPackage, fotos y audio", "Zip: GeoPackage, photos and audio"),
    "incident": ("Incidente", "Incident"),
    "category": ("Categoría", "Category"),
    "occurred": ("Fecha y hora", "Date and time"),
    "status": ("Estado", "Status"),
    "address": ("Dirección", "Address"),
    "district": ("Distrito", "District"),
    "sector": ("Sector", "Sector"),
    "people": ("Personas", "People"),
    "no_pii": (
        "Sin acceso a datos personales con su rol.",
        "Your role does not see personal data.",
    ),
    "pii_audited": (
        "Consulta de datos personales registrada.",
        "This view of personal data is recorded.",
    ),
    "shown": ("incidentes en el mapa", "incidents on the map"),
    "month": ("Mes", "Month"),
    "total": ("Total", "Total"),
    "rate": ("Tasa por 10 000 hab.", "Rate per 10,000"),
    "population": ("Población", "Population"),
    "trend": ("Tendencia mensual", "Monthly trend"),
    "cells_map": ("Mapa por celdas", "Map by cells"),
    "downloads": ("Descargas", "Downloads"),
    "suppressed_note": (
        "«—»: cifra reservada (menos de {k} casos, o necesaria para que no se deduzca otra).",
        "'—': withheld (fewer than {k} cases, or needed so another cannot be deduced).",
    ),
    "rules_note": (
        "Solo meses completos, publicados {delay} días después de terminar; "
        "celdas H3 de resolución {res}, redondeadas a {rounding}; sin datos personales.",
        "Whole months only, published {delay} days after they end; H3 cells of resolution "
        "{res}, rounded to {rounding}; no personal data.",
    ),
    "nothing_published": ("Aún no hay meses publicados.", "No month is published yet."),
    "conflicts_none": ("No hay conflictos.", "No conflicts."),
    "field": ("Campo", "Field"),
    "record": ("Registro", "Record"),
    "losing_value": ("Valor descartado", "Losing value"),
    "device": ("Dispositivo", "Device"),
    "when": ("Cuándo", "When"),
    "enroll": ("Inscribir un dispositivo", "Enroll a device"),
    "enroll_for": ("para el efectivo", "for officer"),
    "create_code": ("Crear código", "Create code"),
    "code_once": (
        "Código de un solo uso; vence a las {at}. Escanéelo con la aplicación o digítelo.",
        "One-time code; expires at {at}. Scan it with the app or type it.",
    ),
    "revoke": ("Revocar", "Revoke"),
    "revoked": ("Revocado", "Revoked"),
    "active": ("Activo", "Active"),
    "name": ("Nombre", "Name"),
    "role": ("Rol", "Role"),
    "station": ("Comisaría", "Station"),
    "save": ("Guardar", "Save"),
    "officer": ("Efectivo", "Officer"),
    "action": ("Acción", "Action"),
    "target": ("Objeto", "Target"),
    "details": ("Detalles", "Details"),
    "admin": ("Administración", "Administration"),
    "map": ("Mapa", "Map"),
    "public_page": ("Página pública", "Public page"),
    "created": ("Creado", "Created"),
    "forbidden": ("Su rol no puede ver esta página.", "Your role may not see this page."),
    "district_code": ("UBIGEO del distrito", "District UBIGEO"),
    "none": ("ninguno", "none"),
    "loading": ("Cargando…", "Loading…"),
    "more": ("Más antiguos", "Older"),
    # the chief's map (issue 15)
    "skip_to_map": ("Saltar al mapa", "Skip to the map"),
    "skip_to_content": ("Saltar al contenido", "Skip to content"),
    "panel_toggle": ("Filtros y capas", "Filters and layers"),
    "date_format": ("dd/mm/aaaa", "dd/mm/yyyy"),
    "presets": ("Periodos rápidos", "Quick periods"),
    "preset_week": ("Esta semana", "This week"),
    "preset_d28": ("Últimos 28 días", "Last 28 days"),
    "preset_last_month": ("Mes pasado", "Last month"),
    "preset_ytd": ("Año a la fecha", "Year to date"),
    "compare": ("Comparar con el periodo anterior", "Compare with the previous period"),
    "compare_title": ("Comparación", "Comparison"),
    "this_period": ("Este periodo", "This period"),
    "previous_period": ("Periodo anterior", "Previous period"),
    "change": ("Cambio", "Change"),
    "periods_note": (
        "Periodos en hora de Lima; la referencia es el {day}.",
        "Periods in Lima time; the reference day is {day}.",
    ),
    "bad_date": (
        "La fecha «{value}» no es válida: escríbala como dd/mm/aaaa.",
        "The date '{value}' is not valid: write it as dd/mm/yyyy.",
    ),
    "dates_reversed": (
        "La fecha de inicio es posterior a la fecha final: corríjala para ver el mapa.",
        "The start date is after the end date: correct it to see the map.",
    ),
    "load_failed": (
        "No se pudo cargar: {layers}. Lo que se ve puede estar desactualizado; "
        "revise la conexión y pulse «Aplicar» de nuevo.",
        "Could not load: {layers}. What is shown may be out of date; check the connection "
        "and press 'Apply' again.",
    ),
    "offline": (
        "Sin conexión con el servidor. Los datos del mapa se quitaron hasta que vuelva.",
        "No connection to the server. The map's data was removed until it comes back.",
    ),
    "session_expired": (
        "Su sesión terminó: vuelva a ingresar.",
        "Your session has ended: sign in again.",
    ),
    "loaded": ("Mapa actualizado: {n} incidentes.", "Map updated: {n} incidents."),
    "loading_data": ("Cargando datos del mapa…", "Loading the map's data…"),
    "stale": ("desactualizado", "out of date"),
    "lists": ("Listas", "Lists"),
    "hot_list": ("Puntos calientes", "Hotspots"),
    "incident_list": ("Incidentes recientes", "Recent incidents"),
    "list_empty": ("Nada que mostrar.", "Nothing to show."),
    "hot_item": (
        "{cls}: {n} incidentes (z = {z})",
        "{cls}: {n} incidents (z = {z})",
    ),
    "hotspot": ("Punto caliente", "Hotspot"),
    "count": ("Incidentes", "Incidents"),
    "z_score": ("Puntuación z (Gi*)", "z-score (Gi*)"),
    "hot_class": ("Clase", "Class"),
    "close": ("Cerrar", "Close"),
    "recorded_by": ("Registrado por", "Recorded by"),
    "recorded_device": ("desde el dispositivo", "from the device"),
    "people_group": ("Grupo", "Group"),
    "person_name": ("Nombre", "Name"),
    "person_dni": ("DNI", "ID number"),
    "person_role": ("Calidad", "Capacity"),
    "lima_time": ("hora de Lima", "Lima time"),
    "open_on_map": ("Ver en el mapa", "Show on the map"),
    "map_region": ("Mapa de incidentes", "Incident map"),
    "shown_of": ("{shown} de {total} en el mapa", "{shown} of {total} on the map"),
    "filters_form": ("Filtros", "Filters"),
    "role_chief": ("comisario", "chief"),
    "role_analyst": ("analista", "analyst"),
    "role_officer": ("efectivo", "officer"),
    "role_admin": ("administrador", "administrator"),
    "main_nav": ("Navegación principal", "Main navigation"),
    "zoom_in": ("Acercar", "Zoom in"),
    "zoom_out": ("Alejar", "Zoom out"),
    "reset_bearing": ("Orientar al norte", "Reset bearing to north"),
    "map_canvas": ("Mapa", "Map"),
    "sign_in_again": ("Ingresar de nuevo", "Sign in again"),
    "hotspot_shown": (
        "Punto caliente: {cls}, {n} incidentes.",
        "Hotspot: {cls}, {n} incidents.",
    ),
    "total_row": ("Total", "Total"),
    "signed_in_as": ("Sesión de", "Signed in as"),
}

STRINGS: dict[str, dict[str, str]] = {
    lang: {key: pair[i] for key, pair in _STRINGS.items()} for i, lang in enumerate(LANGUAGES)
}


def language(request: Request, default: str) -> str:
    """The page's language: ``?lang=``, else the switch's cookie, else the default."""
    for candidate in (request.query_params.get("lang"), request.cookies.get("ronda_lang")):
        if candidate in LANGUAGES:
            return candidate
    return default if default in LANGUAGES else "es"


# Values of records and statistics, as people read them.
STATUSES = {
    "es": {"open": "abierto", "closed": "cerrado", "in_progress": "en curso", "draft": "borrador"},
    "en": {"open": "open", "closed": "closed", "in_progress": "in progress", "draft": "draft"},
}
ROLES = {
    "es": {
        "chief": "comisario",
        "analyst": "analista",
        "officer": "efectivo",
        "admin": "administrador",
    },
    "en": {"chief": "chief", "analyst": "analyst", "officer": "officer", "admin": "administrator"},
}
PEOPLE_GROUPS = {
    "es": {"victims": "Víctimas", "witnesses": "Testigos", "suspects": "Sospechosos"},
    "en": {"victims": "Victims", "witnesses": "Witnesses", "suspects": "Suspects"},
}
PERSON_ROLES = {
    "es": {
        "agraviado": "agraviado",
        "denunciante": "denunciante",
        "presunto_autor": "presunto autor",
        "testigo": "testigo",
    },
    "en": {
        "agraviado": "aggrieved party",
        "denunciante": "complainant",
        "presunto_autor": "alleged perpetrator",
        "testigo": "witness",
    },
}
# geo.analysis.emerging's pattern names (English, as in ArcGIS) as the legend shows them.
EMERGING_PATTERNS = {
    "es": {
        "new hot spot": "Nuevo punto caliente",
        "consecutive hot spot": "Punto caliente consecutivo",
        "intensifying hot spot": "Punto caliente en aumento",
        "persistent hot spot": "Punto caliente persistente",
        "diminishing hot spot": "Punto caliente en descenso",
        "sporadic hot spot": "Punto caliente esporádico",
        "oscillating hot spot": "Punto caliente oscilante",
        "historical hot spot": "Punto caliente histórico",
        "fading hot spot": "Punto caliente que se apaga",
    },
    "en": {
        "new hot spot": "New hotspot",
        "consecutive hot spot": "Consecutive hotspot",
        "intensifying hot spot": "Intensifying hotspot",
        "persistent hot spot": "Persistent hotspot",
        "diminishing hot spot": "Diminishing hotspot",
        "sporadic hot spot": "Sporadic hotspot",
        "oscillating hot spot": "Oscillating hotspot",
        "historical hot spot": "Historical hotspot",
        "fading hot spot": "Fading hotspot",
    },
}
# Why a layer came back empty: the map layers answer with one of these codes.
EMPTY_REASONS = {
    "es": {
        "no_incidents": "No hay incidentes con estos filtros en este periodo.",
        "too_few_for_gi": (
            "0 puntos calientes: hay {n} incidentes y Gi* necesita al menos {min} "
            "para comparar celdas."
        ),
        "too_few_incidents": "Hay {n} incidentes: esta capa necesita al menos {min}.",
        "no_significant_cells": (
            "0 puntos calientes: ninguna celda se aparta del resto con 90 % de confianza "
            "({n} incidentes)."
        ),
        "no_pattern": (
            "Ninguna celda muestra un patrón emergente en este periodo ({n} incidentes)."
        ),
        "no_patrols": "No hay recorridos de patrullaje registrados en este periodo.",
        "no_hotspots_for_dosage": (
            "Sin dosificación: no hay puntos calientes que cruzar con los recorridos."
        ),
    },
    "en": {
        "no_incidents": "No incidents match these filters in this period.",
        "too_few_for_gi": (
            "0 hotspots: there are {n} incidents and Gi* needs at least {min} to compare cells."
        ),
        "too_few_incidents": "There are {n} incidents: this layer needs at least {min}.",
        "no_significant_cells": (
            "0 hotspots: no cell stands out from the rest at 90% confidence ({n} incidents)."
        ),
        "no_pattern": "No cell shows an emerging pattern in this period ({n} incidents).",
        "no_patrols": "No patrol tracks were recorded in this period.",
        "no_hotspots_for_dosage": "No dosage: there are no hotspots to cross with the tracks.",
    },
}


def label(table: dict[str, dict[str, str]], lang: str, value: str) -> str:
    """A value as people read it, or the value itself when the table lacks it."""
    return table.get(lang, {}).get(value, value)


def category_name(lang: str, category: str) -> str:
    return CATEGORIES.get(lang, {}).get(category, category.replace("_", " ").capitalize())
