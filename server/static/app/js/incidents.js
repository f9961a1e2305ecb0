// Incident rules the app checks before a change enters the outbox (the server's own rules,
// docs/protocol.md "Incidents"), and the local view: the pulled document overlaid by the
// device's pending edits. Pure: no DOM, no storage.

// The demo city's categories (server/web/i18n.py); the protocol allows any matching name.
export const CATEGORIES = [
  "robo", "hurto", "violencia_familiar", "lesiones", "microcomercializacion_drogas",
  "accidente_transito", "estafa", "alteracion_orden_publico",
];
export const STATUSES = ["open", "closed", "referred"];
export const PII_LISTS = ["victims", "witnesses", "suspects"];
const FIELDS = ["category", "occurred_at", "status", "description", "address_text", "location", "attachments"];
const PERSON = { name: 200, dni: 8, phone: 30, age: 130, role: 40, notes: 1000 };
const CATEGORY_RE = /^[a-z][a-z0-9_]{1,40}$/;
// RFC 3339 section 5.6, as the server checks it (seconds required; at most 40 characters).
const RFC3339_TZ = /^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$/;

/** A UTC RFC 3339 time without milliseconds (20 characters): what the app sends. */
export function utcNow(ms = Date.now()) {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The problems of an incident change, [] when the server would take it. */
export function check(fields = {}, pii = null, isNew = false) {
  const errs = [];
  for (const k of Object.keys(fields)) if (!FIELDS.includes(k)) errs.push(`${k}: unknown`);
  const f = fields;
  // Required on a new incident, and never cleared later (the server refuses null for them).
  for (const k of ["category", "occurred_at"]) if ((isNew || k in f) && f[k] == null) errs.push(`${k}: required`);
  if (f.category != null && !CATEGORY_RE.test(f.category)) errs.push("category: invalid");
  if (f.occurred_at != null && !(RFC3339_TZ.test(f.occurred_at) && f.occurred_at.length <= 40 && !Number.isNaN(Date.parse(f.occurred_at)))) {
    errs.push("occurred_at: invalid");
  }
  if (f.status != null && !STATUSES.includes(f.status)) errs.push("status: invalid");
  if (f.description != null && (typeof f.description !== "string" || f.description.length > 4000)) errs.push("description: too long");
  if (f.address_text != null && (typeof f.address_text !== "string" || f.address_text.length > 500)) errs.push("address_text: too long");
  if (f.location != null) {
    const { lon, lat, accuracy_m: acc } = f.location;
    const keys = Object.keys(f.location).filter((k) => !["lon", "lat", "accuracy_m"].includes(k));
    if (keys.length || !(Math.abs(lon) <= 180) || !(Math.abs(lat) <= 90)) errs.push("location: invalid");
    if (acc != null && !(acc >= 0 && acc <= 100000)) errs.push("location.accuracy_m: invalid");
  }
  for (const [name, list] of Object.entries(pii || {})) {
    if (!PII_LISTS.includes(name)) { errs.push(`pii.${name}: unknown`); continue; }
    if (list == null) continue;
    if (!Array.isArray(list) || list.length > 50) { errs.push(`pii.${name}: at most 50`); continue; }
    list.forEach((p, i) => errs.push(...checkPerson(p).map((e) => `pii.${name}.${i}.${e}`)));
  }
  return errs;
}

function checkPerson(p) {
  const errs = [];
  for (const k of Object.keys(p)) if (!(k in PERSON)) errs.push(`${k}: unknown`);
  if (typeof p.name !== "string" || p.name.length < 1 || p.name.length > 200) errs.push("name: required");
  if (p.dni != null && !/^\d{8}$/.test(p.dni)) errs.push("dni: 8 digits");
  if (p.phone != null && String(p.phone).length > 30) errs.push("phone: too long");
  if (p.age != null && !(Number.isInteger(p.age) && p.age >= 0 && p.age <= 130)) errs.push("age: 0-130");
  if (p.role != null && String(p.role).length > 40) errs.push("role: too long");
  if (p.notes != null && String(p.notes).length > 1000) errs.push("notes: too long");
  return errs;
}

/** A person as sent: empty members dropped, age as an integer. */
export function cleanPerson(p) {
  const out = {};
  for (const k of Object.keys(PERSON)) {
    const v = typeof p[k] === "string" ? p[k].trim() : p[k];
    if (v === "" || v == null) continue;
    out[k] = k === "age" ? Number(v) : v;
  }
  return out;
}

export function newDoc(id, me) {
  return {
    collection: "incidents", id, seq: 0, station_id: me?.station_id, author: me?.officer_id,
    deleted: false, hlc: "", fields: {}, derived: {},
  };
}

/** The local view: `doc` (pulled, or null) with `pending` changes (outbox order) on top. */
export function overlay(doc, pending, id, me, localPii = null) {
  if (!doc && pending.length === 0) return null;
  const view = doc ? structuredClone(doc) : newDoc(id, me);
  if (!view.pii && localPii) view.pii = structuredClone(localPii);
  view.pending = pending.length;
  for (const c of pending) {
    if (c.op === "delete") { view.deleted = true; continue; }
    view.deleted = false;
    for (const [k, v] of Object.entries(c.fields || {})) {
      if (v === null) delete view.fields[k];
      else view.fields[k] = v;
    }
    if (c.pii) {
      view.pii = view.pii || {};
      for (const [k, v] of Object.entries(c.pii)) {
        if (v && v.length) view.pii[k] = v;
        else delete view.pii[k];
      }
    }
  }
  return view;
}

/** JSON with sorted keys: equal values compare equal whatever order their members came in. */
export function stable(value) {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Fields of `edited` that differ from `view` (what an edit change carries). */
export function changedFields(view, edited) {
  const out = {};
  for (const k of FIELDS) {
    const before = view?.fields?.[k] ?? null;
    const after = edited[k] ?? null;
    if (stable(before) !== stable(after)) out[k] = after;
  }
  return out;
}

export function changedPii(view, edited) {
  const out = {};
  for (const k of PII_LISTS) {
    const before = view?.pii?.[k] || [];
    const after = edited[k] || [];
    if (stable(before) !== stable(after)) out[k] = after;
  }
  return Object.keys(out).length ? out : null;
}
