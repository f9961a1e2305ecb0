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
        "Código de un solo uso; vence a las {at}. Escanéelo con la aplicación o dígítelo.",
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


def category_name(lang: str, category: str) -> str:
    return CATEGORIES.get(lang, {}).get(category, category.replace("_", " ").capitalize())
