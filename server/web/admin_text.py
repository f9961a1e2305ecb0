"""The administration pages' words, Spanish first and English second: the pages' own strings
(``a.key`` in the admin templates; ``t`` stays the site-wide table of server/web/i18n.py),
the audit log's action names and the names of the details it shows."""

from __future__ import annotations

from server.web.i18n import LANGUAGES

_PAGE: dict[str, tuple[str, str]] = {
    "search_officer": ("Buscar por efectivo", "Search by officer"),
    "search_hint": ("código o nombre", "id or name"),
    "search": ("Buscar", "Search"),
    "clear": ("Limpiar", "Clear"),
    "status_any": ("Todos", "All"),
    "status_active": ("Activos", "Active"),
    "status_revoked": ("Revocados", "Revoked"),
    "device_count": ("{n} dispositivos", "{n} devices"),
    "device_count_one": ("1 dispositivo", "1 device"),
    "page_of": ("Página {page} de {pages}", "Page {page} of {pages}"),
    "previous": ("Anterior", "Previous"),
    "next": ("Siguiente", "Next"),
    "paging": ("Páginas", "Pages"),
    "no_devices": ("Ningún dispositivo coincide.", "No device matches."),
    "revoke_title": ("Revocar un dispositivo", "Revoke a device"),
    "revoke_warning": (
        "El dispositivo dejará de sincronizar de inmediato y no podrá volver a usarse: "
        "el efectivo tendrá que inscribirlo otra vez con un código nuevo.",
        "The device stops syncing at once and cannot be used again: the officer will have "
        "to enroll it again with a new code.",
    ),
    "reason": ("Motivo (queda en el registro de auditoría)", "Reason (kept in the audit log)"),
    "reason_missing": (
        "Escriba el motivo de la revocación (de 3 a 500 caracteres).",
        "Write why the device is revoked (3 to 500 characters).",
    ),
    "confirm_revoke": ("Sí, revocar este dispositivo", "Yes, revoke this device"),
    "cancel": ("Cancelar", "Cancel"),
    "already_revoked": ("Este dispositivo ya está revocado.", "This device is already revoked."),
    "revoked_done": ("Dispositivo {id} revocado.", "Device {id} revoked."),
    "no_such_device": ("No existe ese dispositivo.", "There is no such device."),
    "enrolled_title": ("Código de inscripción", "Enrollment code"),
    "code_once": (
        "Código de un solo uso; vence a las {at} (hora de Lima). Escanéelo con la aplicación "
        "o digítelo.",
        "One-time code; expires at {at} (Lima time). Scan it with the app or type it.",
    ),
    "code_reload": (
        "Puede recargar esta página: muestra el mismo código, no crea otro.",
        "You may reload this page: it shows the same code, it does not create another.",
    ),
    "code_used": (
        "Este código ya se usó: el dispositivo está inscrito.",
        "This code has been used: the device is enrolled.",
    ),
    "code_expired": (
        "Este código venció sin usarse. Cree otro.",
        "This code expired unused. Create another one.",
    ),
    "code_gone": (
        "Este código no se puede mostrar aquí (solo en la sesión que lo creó).",
        "This code cannot be shown here (only in the session that created it).",
    ),
    "qr_label": ("Código QR de inscripción", "Enrollment QR code"),
    "app_link": ("Enlace para la aplicación", "Link for the app"),
    "back_devices": ("Volver a dispositivos", "Back to devices"),
    "filters": ("Filtros", "Filters"),
    "all_actions": ("Todas", "All"),
    "date_from": ("Desde (AAAA-MM-DD, hora de Lima)", "From (YYYY-MM-DD, Lima time)"),
    "date_to": ("Hasta (AAAA-MM-DD, hora de Lima)", "To (YYYY-MM-DD, Lima time)"),
    "bad_date": (
        "Fecha no válida: use AAAA-MM-DD; «desde» no puede ser posterior a «hasta».",
        "Invalid date: use YYYY-MM-DD; 'from' cannot be after 'to'.",
    ),
    "filter": ("Filtrar", "Filter"),
    "no_events": ("Ningún evento coincide.", "No event matches."),
    "newer": ("Más recientes", "Newer"),
    "older": ("Más antiguos", "Older"),
    "newest": ("Los más recientes", "Newest"),
    "when_lima": ("Cuándo (hora de Lima)", "When (Lima time)"),
    "who": ("Quién", "Who"),
    "what": ("Qué", "What"),
    "why": ("Detalles y motivo", "Details and reason"),
    "device_of": ("del efectivo", "of officer"),
    "expires": ("Vence", "Expires"),
}

ACTIONS: dict[str, tuple[str, str]] = {
    "view_pii": ("Vio datos personales", "Viewed personal data"),
    "pull_pii": ("Sincronizó datos personales", "Synced personal data"),
    "export": ("Exportó incidentes", "Exported incidents"),
    "view_attachment": ("Vio un adjunto", "Viewed an attachment"),
    "enroll": ("Creó un código de inscripción", "Created an enrollment code"),
    "revoke": ("Revocó un dispositivo", "Revoked a device"),
    "put_officer": ("Guardó un efectivo", "Saved an officer"),
    "put_station": ("Guardó una comisaría", "Saved a station"),
    "review_conflict": ("Revisó un conflicto", "Reviewed a conflict"),
}

DETAILS: dict[str, tuple[str, str]] = {
    "reason": ("Motivo", "Reason"),
    "via": ("Desde", "Through"),
    "via_device": ("Con el dispositivo", "Using device"),
    "fields": ("Campos", "Fields"),
    "conflicts": ("Conflictos", "Conflicts"),
    "records": ("Registros", "Records"),
    "count": ("Cantidad", "Count"),
    "since": ("Desde", "From"),
    "until": ("Hasta", "To"),
    "categories": ("Categorías", "Categories"),
    "bbox": ("Área", "Area"),
    "device_id": ("Dispositivo", "Device"),
    "device_name": ("Nombre del dispositivo", "Device name"),
    "officer_id": ("Efectivo", "Officer"),
    "role": ("Rol", "Role"),
    "station_id": ("Comisaría", "Station"),
    "district_code": ("UBIGEO", "UBIGEO"),
    "variant": ("Versión", "Variant"),
    "sha256": ("SHA-256", "SHA-256"),
    "pii": ("Con datos personales", "With personal data"),
    "expires": ("Vence", "Expires"),
    "choice": ("Decisión", "Decision"),
}

ROLE_NAMES: dict[str, tuple[str, str]] = {
    "officer": ("efectivo", "officer"),
    "chief": ("comisario", "chief"),
    "analyst": ("analista", "analyst"),
    "admin": ("administrador", "administrator"),
}

VALUES: dict[str, tuple[str, str]] = {
    "map": ("el mapa", "the map"),
    "api": ("la API", "the API"),
    "conflicts_page": ("conflictos", "conflicts"),
    "True": ("sí", "yes"),
    "False": ("no", "no"),
    "kept": ("mantener el valor actual", "keep the current value"),
    "other": ("usar el otro valor", "use the other value"),
}


def _table(pairs: dict[str, tuple[str, str]]) -> dict[str, dict[str, str]]:
    return {lang: {k: v[i] for k, v in pairs.items()} for i, lang in enumerate(LANGUAGES)}


PAGE = _table(_PAGE)
ACTION_NAMES = _table(ACTIONS)
DETAIL_NAMES = _table(DETAILS)
ROLES = _table(ROLE_NAMES)
VALUE_NAMES = _table(VALUES)


def action_name(lang: str, action: str) -> str:
    """An action's name in the page's language; an unknown one shows its code."""
    return ACTION_NAMES[lang].get(action, action)
