// Spanish first, English by a switch. Times for people in Lima time; UTC on the wire.

const ES = {
  insecure: "Abra Ronda por HTTPS: sin una conexión segura el teléfono no puede proteger sus datos.",
  install: "Instalar",
  app: "Ronda", offline: "Sin conexión", online: "En línea", queued: "En cola", last_sync: "Últ. sincr.",
  never: "nunca", lock: "Bloquear", lang: "English",
  nav_shift: "Turno", nav_incidents: "Incidentes", nav_map: "Mapa", nav_sync: "Sincron.", nav_settings: "Ajustes",
  update_ready: "Nueva versión disponible", reload: "Recargar",
  enroll_title: "Registrar este teléfono", enroll_help: "Escanee el código QR de la página de administración o escriba el código.",
  scan: "Escanear QR", stop_scan: "Detener cámara", code: "Código de registro", device_name: "Nombre del teléfono",
  pin: "PIN (6 a 12 dígitos)", pin_repeat: "Repita el PIN", enroll: "Registrar", enrolling: "Registrando…",
  pins_differ: "Los PIN no coinciden", pin_short: "El PIN debe tener de 6 a 12 dígitos",
  enroll_invalid: "Código desconocido, ya usado o vencido: pida uno nuevo",
  other_server: "Este código es de otro servidor: abra {server}/app",
  no_camera: "No se pudo usar la cámara: escriba el código", no_decoder: "Este navegador no lee QR: escriba el código",
  lock_title: "Ronda está bloqueada", unlock: "Desbloquear", wrong_pin: "PIN incorrecto. Intentos restantes: {n}",
  last_try: "Último intento: si el PIN vuelve a fallar, se borrarán todos los datos del teléfono, también lo que aún no se sincronizó.",
  unlocking: "Verificando…", wiped_pins: "Se borraron los datos de este teléfono tras demasiados intentos fallidos.",
  revoked_title: "Teléfono revocado",
  revoked_text: "El servidor ya no acepta este teléfono (revocado o desconocido). Por seguridad se borraron todos sus datos locales. Registre el teléfono de nuevo.",
  wiped_title: "Datos borrados", enroll_again: "Registrar de nuevo",
  shift_title: "Turno de patrullaje", shift_none: "Sin turno activo", sector: "Sector", mode: "Modalidad",
  vehicle: "Vehículo", on_foot: "A pie", vehicle_id: "Placa / unidad", partner: "Compañero", start_shift: "Iniciar turno",
  end_shift: "Terminar turno", on_shift_since: "En turno desde", positions: "Posiciones", last_fix: "Última posición",
  accuracy: "precisión", note_kind: "Tipo de nota", note_text: "Nota", add_note: "Agregar nota",
  kind_visit: "Visita", kind_junta: "Reunión con junta vecinal", kind_intervention: "Intervención", kind_other: "Otra",
  log: "Bitácora", pending: "pendiente", gps_off: "GPS no disponible", any_sector: "Toda la comisaría",
  incidents_title: "Incidentes", new_incident: "Nuevo incidente", search: "Buscar", no_incidents: "No hay incidentes",
  category: "Categoría", description: "Descripción", occurred: "Fecha y hora", status: "Estado",
  status_open: "Abierto", status_closed: "Cerrado", status_referred: "Derivado",
  where: "Lugar", use_gps: "Usar GPS", pick_on_map: "Elegir en el mapa", address: "Dirección o referencia",
  no_location: "Sin ubicación", people: "Personas", people_locked: "Solo quien registró el incidente, o el jefe, ve y edita sus personas.", victims: "Agraviados", witnesses: "Testigos", suspects: "Sospechosos",
  victim: "Agraviado(a)", witness: "Testigo", suspect: "Sospechoso",
  add_victim: "+ Agraviado", add_witness: "+ Testigo", add_suspect: "+ Sospechoso", name: "Nombre", dni: "DNI", phone: "Teléfono",
  age: "Edad", remove: "Quitar", save: "Guardar", cancel: "Cancelar", saved: "Guardado en el teléfono",
  placement: "Ubicación según el servidor", district: "Distrito", quality: "Calidad", not_placed: "Aún no ubicado por el servidor",
  tap_map: "Toque el mapa para elegir el lugar", picked: "Punto elegido en el mapa",
  sync_title: "Sincronización", sync_now: "Sincronizar ahora", syncing: "Sincronizando…", results: "Resultados",
  rejected: "Rechazados", fix: "Corregir", dismiss: "Descartar", conflicts: "Conflictos", won: "Valor que quedó",
  yours: "Su valor", retry_at: "Reintento a las {t}", sync_failed: "Falló: {code}", nothing: "Nada",
  err_offline: "sin conexión con el servidor", err_locked: "la app se bloqueó", err_forbidden: "su rol o comisaría no lo permite",
  err_too_many_requests: "servidor ocupado", err_store_unavailable: "servidor no disponible", err_timeout: "el servidor tardó demasiado",
  err_internal_error: "error del servidor",
  err_invalid_field: "un dato no es válido", err_invalid_change: "el cambio está mal formado", err_out_of_scope: "es de otra comisaría",
  err_not_allowed: "su rol no permite este cambio", err_read_only: "su rol solo puede leer", err_record_not_found: "el registro ya no existe",
  err_immutable_record: "el registro no se puede modificar", err_amend_target_missing: "la entrada a corregir no existe",
  err_unauthorized: "el servidor no reconoce este teléfono", err_payload_too_large: "envío demasiado grande",
  err_batch_too_large: "demasiados cambios en un envío", err_invalid_cursor: "el servidor fue restaurado: se vuelve a descargar",
  err_client_error: "error en el teléfono", err_unknown_collection: "tipo de registro desconocido",
  auto_fixed: "el teléfono lo corrige y reenvía", applied: "aplicado", unchanged: "sin cambios", st_rejected: "rechazado",
  map_title: "Mapa del delito", hotspots: "Puntos críticos", notices: "Avisos de la comisaría",
  notices_placeholder: "Los avisos de la comisaría aparecerán aquí cuando el servidor los ofrezca.",
  no_hotspots: "Sin puntos críticos en este momento", download_area: "Guardar mapa sin conexión",
  tile_cache: "Mapa sin conexión: {used} de {budget}", downloading: "Descargando {done}/{total}…", map_unavailable: "El mapa no está disponible sin conexión todavía",
  hot: "Punto crítico", n_incidents: "{n} incidentes", updated: "Actualizado",
  settings_title: "Ajustes", idle_minutes: "Bloquear tras inactividad (minutos)", wipe_after: "Borrar tras PIN erróneos",
  tile_budget: "Espacio para mapas (MB)", device: "Dispositivo", officer: "Efectivo", station: "Comisaría",
  wipe_now: "Borrar todo del teléfono", confirm_wipe: "¿Borrar todos los datos de este teléfono? Lo pendiente se perderá.",
  storage: "Almacenamiento", encrypted: "Cifrado con su PIN (AES-GCM, PBKDF2 {n} iteraciones)",
  log_shift_start: "Inicio de turno", log_shift_end: "Fin de turno", log_checkpoint: "Posición", log_note: "Nota", log_stop: "Intervención",
  log_amend: "Corrección", log_incident: "Incidente",
  bad_dni: "El DNI tiene 8 dígitos", bad_required: "{field}: obligatorio", bad_invalid: "{field}: valor no válido",
  future_time: "La fecha y hora del hecho no puede ser posterior a ahora",
  bad_too_long: "{field}: demasiado largo", bad_age: "{field}: de 0 a 130", bad_many: "{field}: 50 como máximo",
  field_occurred_at: "Fecha y hora", field_category: "Categoría", field_status: "Estado", field_description: "Descripción",
  field_address_text: "Dirección", field_location: "Lugar", field_name: "Nombre", field_dni: "DNI", field_phone: "Teléfono", field_age: "Edad",
};

const EN = {
  insecure: "Open Ronda over HTTPS: without a secure connection the phone cannot protect its data.",
  install: "Install",
  app: "Ronda", offline: "Offline", online: "Online", queued: "Queued", last_sync: "Last sync",
  never: "never", lock: "Lock", lang: "Español",
  nav_shift: "Shift", nav_incidents: "Incidents", nav_map: "Map", nav_sync: "Sync", nav_settings: "Settings",
  update_ready: "New version ready", reload: "Reload",
  enroll_title: "Enroll this phone", enroll_help: "Scan the QR code on the administration page or type the code.",
  scan: "Scan QR", stop_scan: "Stop camera", code: "Enrollment code", device_name: "Phone name",
  pin: "PIN (6 to 12 digits)", pin_repeat: "Repeat the PIN", enroll: "Enroll", enrolling: "Enrolling…",
  pins_differ: "The PINs differ", pin_short: "The PIN must have 6 to 12 digits",
  enroll_invalid: "Code unknown, used or expired: ask for a new one",
  other_server: "This code is for another server: open {server}/app",
  no_camera: "The camera could not be used: type the code", no_decoder: "This browser cannot read QR codes: type the code",
  lock_title: "Ronda is locked", unlock: "Unlock", wrong_pin: "Wrong PIN. Attempts left: {n}",
  last_try: "Last attempt: if the PIN is wrong again, all data on this phone is wiped, including what has not been synced yet.",
  unlocking: "Checking…", wiped_pins: "This phone's data was wiped after too many wrong PINs.",
  revoked_title: "Phone revoked",
  revoked_text: "The server no longer accepts this phone (revoked or unknown). For safety all its local data was wiped. Enroll the phone again.",
  wiped_title: "Data wiped", enroll_again: "Enroll again",
  shift_title: "Patrol shift", shift_none: "No shift in progress", sector: "Sector", mode: "Mode",
  vehicle: "Vehicle", on_foot: "On foot", vehicle_id: "Plate / unit", partner: "Partner", start_shift: "Start shift",
  end_shift: "End shift", on_shift_since: "On shift since", positions: "Positions", last_fix: "Last position",
  accuracy: "accuracy", note_kind: "Note type", note_text: "Note", add_note: "Add note",
  kind_visit: "Visit", kind_junta: "Meeting with junta vecinal", kind_intervention: "Intervention", kind_other: "Other",
  log: "Patrol log", pending: "pending", gps_off: "GPS not available", any_sector: "Whole station",
  incidents_title: "Incidents", new_incident: "New incident", search: "Search", no_incidents: "No incidents",
  category: "Category", description: "Description", occurred: "Date and time", status: "Status",
  status_open: "Open", status_closed: "Closed", status_referred: "Referred",
  where: "Place", use_gps: "Use GPS", pick_on_map: "Pick on map", address: "Address or landmark",
  no_location: "No location", people: "People", people_locked: "Only the officer who recorded the incident, or the chief, sees and edits its people.", victims: "Victims", witnesses: "Witnesses", suspects: "Suspects",
  victim: "Victim", witness: "Witness", suspect: "Suspect",
  add_victim: "+ Victim", add_witness: "+ Witness", add_suspect: "+ Suspect", name: "Name", dni: "DNI", phone: "Phone",
  age: "Age", remove: "Remove", save: "Save", cancel: "Cancel", saved: "Saved on the phone",
  placement: "Placement by the server", district: "District", quality: "Quality", not_placed: "Not placed by the server yet",
  tap_map: "Tap the map to pick the place", picked: "Point picked on the map",
  sync_title: "Sync", sync_now: "Sync now", syncing: "Syncing…", results: "Results",
  rejected: "Rejected", fix: "Fix", dismiss: "Dismiss", conflicts: "Conflicts", won: "Value that won",
  yours: "Your value", retry_at: "Retrying at {t}", sync_failed: "Failed: {code}", nothing: "Nothing",
  err_offline: "the server cannot be reached", err_locked: "the app was locked", err_forbidden: "your role or station does not allow it",
  err_too_many_requests: "server busy", err_store_unavailable: "server unavailable", err_timeout: "the server took too long",
  err_internal_error: "server error",
  err_invalid_field: "a value is not valid", err_invalid_change: "the change is malformed", err_out_of_scope: "it belongs to another station",
  err_not_allowed: "your role does not allow this change", err_read_only: "your role can only read", err_record_not_found: "the record no longer exists",
  err_immutable_record: "the record cannot be changed", err_amend_target_missing: "the entry to correct does not exist",
  err_unauthorized: "the server does not know this phone", err_payload_too_large: "upload too large",
  err_batch_too_large: "too many changes in one upload", err_invalid_cursor: "the server was restored: downloading again",
  err_client_error: "error on the phone", err_unknown_collection: "unknown kind of record",
  auto_fixed: "the phone fixes and resends it", applied: "applied", unchanged: "unchanged", st_rejected: "rejected",
  map_title: "Briefing", hotspots: "Hotspots", notices: "Station notices",
  notices_placeholder: "Station notices will appear here once the server offers them.",
  no_hotspots: "No hotspots right now", download_area: "Save map for offline use",
  tile_cache: "Offline map: {used} of {budget}", downloading: "Downloading {done}/{total}…", map_unavailable: "The map is not available offline yet",
  hot: "Hot spot", n_incidents: "{n} incidents", updated: "Updated",
  settings_title: "Settings", idle_minutes: "Lock after idle (minutes)", wipe_after: "Wipe after wrong PINs",
  tile_budget: "Space for maps (MB)", device: "Device", officer: "Officer", station: "Station",
  wipe_now: "Wipe everything from this phone", confirm_wipe: "Wipe all data from this phone? Anything pending will be lost.",
  storage: "Storage", encrypted: "Encrypted with your PIN (AES-GCM, PBKDF2 {n} iterations)",
  log_shift_start: "Shift start", log_shift_end: "Shift end", log_checkpoint: "Position", log_note: "Note", log_stop: "Stop",
  log_amend: "Correction", log_incident: "Incident",
  bad_dni: "A DNI has 8 digits", bad_required: "{field}: required", bad_invalid: "{field}: invalid value",
  future_time: "The incident's date and time cannot be later than now",
  bad_too_long: "{field}: too long", bad_age: "{field}: 0 to 130", bad_many: "{field}: at most 50",
  field_occurred_at: "Date and time", field_category: "Category", field_status: "Status", field_description: "Description",
  field_address_text: "Address", field_location: "Place", field_name: "Name", field_dni: "DNI", field_phone: "Phone", field_age: "Age",
};

const CATEGORY_NAMES = {
  es: {
    robo: "Robo", hurto: "Hurto", violencia_familiar: "Violencia familiar", lesiones: "Lesiones",
    microcomercializacion_drogas: "Microcomercialización de drogas", accidente_transito: "Accidente de tránsito",
    estafa: "Estafa", alteracion_orden_publico: "Alteración del orden público",
  },
  en: {
    robo: "Robbery", hurto: "Theft", violencia_familiar: "Domestic violence", lesiones: "Assault",
    microcomercializacion_drogas: "Drug dealing", accidente_transito: "Traffic accident", estafa: "Fraud",
    alteracion_orden_publico: "Public disorder",
  },
};

const TABLES = { es: ES, en: EN };
let lang = (globalThis.localStorage && localStorage.getItem("ronda-lang")) || "es";

export function getLang() {
  return lang;
}

export function setLang(value) {
  lang = value === "en" ? "en" : "es";
  globalThis.localStorage?.setItem("ronda-lang", lang);
  if (globalThis.document) document.documentElement.lang = lang;
}

export function t(key, vars = {}) {
  const text = TABLES[lang][key] ?? ES[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** A protocol error code for people (the code itself when there is no text for it). */
export function errorText(code) {
  const key = `err_${code}`;
  return TABLES[lang][key] ?? ES[key] ?? code;
}

export function category(name) {
  return CATEGORY_NAMES[lang][name] || name.replace(/_/g, " ");
}

export const TZ = "America/Lima";

/** A time (ms or ISO string) for people, in Lima time. */
export function when(value, { date = true, short = false } = {}) {
  if (value === null || value === undefined || value === "") return t("never");
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const opts = { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false };
  if (date) Object.assign(opts, { day: "2-digit", month: "2-digit" }, short ? {} : { year: "numeric" });
  return new Intl.DateTimeFormat(lang === "es" ? "es-PE" : "en-GB", opts).format(d);
}

/** "YYYY-MM-DDTHH:MM" in Lima time, for a datetime-local input. */
export function limaInput(ms = Date.now()) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour === "24" ? "00" : parts.hour}:${parts.minute}`;
}

/** A datetime-local value read as Lima time (UTC-5, no daylight saving) -> UTC RFC 3339. */
export function fromLimaInput(value) {
  // An emptied picker gives "": V8's Date.parse reads ":00-05:00" as 2000-01-01 05:00.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(String(value))) return null;
  const ms = Date.parse(`${value}:00-05:00`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
