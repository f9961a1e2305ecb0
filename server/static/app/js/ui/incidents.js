// Incidents: the list (pulled and local, searchable) and the form (new or edit), offline.

import { attachmentsField } from "../attachments.js";
import { sectorName } from "../briefing.js";
import { randomId } from "../crypto.js";
import { fixOnce } from "../geo.js";
import { category, fromLimaInput, limaInput, t, when } from "../i18n.js";
import { CATEGORIES, changedFields, changedPii, cleanPerson, PII_LISTS, STATUSES } from "../incidents.js";
import { field, h, screen, select, toast } from "./dom.js";

const FUTURE_SLACK_MS = 10 * 60 * 1000; // a watch a few minutes fast is not a future crime

export function listScreen(app) {
  const all = app.outbox.incidents().sort((a, b) => String(b.fields.occurred_at).localeCompare(String(a.fields.occurred_at)));
  const search = h("input", { testid: "incident-search", type: "search", placeholder: t("search") });
  const list = h("ul", { class: "items", testid: "incident-list" });
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const shown = all.filter((v) => !q || JSON.stringify([v.id, v.fields, v.derived]).toLowerCase().includes(q)).slice(0, 100);
    list.replaceChildren(...(shown.length ? shown.map((v) => item(app, v)) : [h("li", { testid: "incidents-empty" }, t("no_incidents"))]));
  };
  search.addEventListener("input", show);
  show();
  return screen("incidents",
    h("h1", {}, t("incidents_title")),
    field(t("search"), search),
    list,
    h("div", { class: "actions" }, h("button", { class: "primary", testid: "incident-new", onclick: () => app.go("incident", { id: null }) }, t("new_incident"))));
}

function item(app, v) {
  return h("li", {},
    h("button", { class: "row", testid: "incident-item", dataset: { id: v.id, pending: v.pending ? "1" : "0" }, onclick: () => app.go("incident", { id: v.id }) },
      h("b", {}, category(v.fields.category || "?")), " · ", when(v.fields.occurred_at), " · ", t(`status_${v.fields.status || "open"}`),
      v.derived?.sector ? ` · ${sectorName(app, v.derived.sector)}` : "",
      v.pending ? h("span", { class: "badge" }, t("pending")) : null,
      // What tells two robberies apart at a glance: the description, else the address.
      v.fields.description || v.fields.address_text ? h("span", { class: "sub" }, v.fields.description || v.fields.address_text) : null));
}

function personRow(list, p = {}) {
  const row = h("div", { class: "person card", testid: `person-${list}`, dataset: { list } },
    h("b", {}, t({ victims: "victim", witnesses: "witness", suspects: "suspect" }[list])),
    field(t("name"), h("input", { testid: "person-name", name: "name", value: p.name || "", maxlength: 200 })),
    field(t("dni"), dniInput(p.dni)),
    field(t("phone"), h("input", { testid: "person-phone", name: "phone", value: p.phone || "", inputmode: "tel", maxlength: 30 })),
    field(t("age"), h("input", { testid: "person-age", name: "age", value: p.age ?? "", inputmode: "numeric", type: "number", min: 0, max: 130 })),
    h("button", { type: "button", class: "secondary", testid: "person-remove", onclick: () => row.remove() }, t("remove")));
  row.person = p; // keeps members this form does not show (role, notes)
  return row;
}

/** The DNI box: 8 digits, and the browser's bubble says so in the app's language. */
function dniInput(value) {
  const input = h("input", { testid: "person-dni", name: "dni", value: value || "", inputmode: "numeric", pattern: "\\d{8}", maxlength: 8, autocomplete: "off" });
  const judge = () => input.setCustomValidity(input.value && !/^\d{8}$/.test(input.value) ? t("bad_dni") : "");
  input.addEventListener("input", judge);
  judge();
  return input;
}

/** The outbox's checks ("pii.victims.0.dni: 8 digits") as a sentence for the officer. */
export function problemText(problem) {
  const [path, what = ""] = problem.split(": ");
  const name = path.split(".").pop();
  const label = t(`field_${name}`) === `field_${name}` ? name : t(`field_${name}`);
  const list = path.match(/^pii\.(\w+)\.(\d+)\./);
  const who = list ? `${t({ victims: "victim", witnesses: "witness", suspects: "suspect" }[list[1]] || list[1])} ${Number(list[2]) + 1} · ` : "";
  const key = { required: "bad_required", "too long": "bad_too_long", "0-130": "bad_age", "at most 50": "bad_many", "8 digits": "bad_dni" }[what] || "bad_invalid";
  return who + (key === "bad_dni" ? t(key) : t(key, { field: label }));
}

function readPeople(form) {
  const out = Object.fromEntries(PII_LISTS.map((k) => [k, []]));
  for (const row of form.querySelectorAll(".person")) {
    const p = { ...row.person };
    for (const input of row.querySelectorAll("input")) p[input.name] = input.value;
    const clean = cleanPerson(p);
    // A row left empty is dropped; one with a DNI or a phone but no name is kept, so that the
    // check says the name is missing instead of the person vanishing on save (review finding).
    if (Object.keys(clean).length) out[row.dataset.list].push(clean);
  }
  return out;
}

export function incidentScreen(app, { id, draft }) {
  const view = id ? app.outbox.incident(id) : null;
  const f = draft?.fields || view?.fields || {};
  const isNew = !view;
  // An officer sees the people of their own incidents only, and the server refuses a write of
  // lists one cannot read (not_allowed): on a colleague's incident the section says so instead.
  const me = app.outbox.me();
  const ownsPeople = isNew || me?.role === "chief" || view?.author === me?.officer_id;
  const cat = select("inc-category", CATEGORIES.map((c) => [c, category(c)]), f.category || "robo");
  const desc = h("textarea", { testid: "inc-description", rows: 4, maxlength: 4000 }, f.description || "");
  const occurred = h("input", { testid: "inc-occurred", type: "datetime-local", required: true, value: f.occurred_at ? limaInput(Date.parse(f.occurred_at)) : limaInput() });
  const status = select("inc-status", STATUSES.map((s) => [s, t(`status_${s}`)]), f.status || "open");
  const address = h("input", { testid: "inc-address", maxlength: 500, value: f.address_text || "" });
  let location = f.location || null;
  const locText = h("p", { testid: "inc-location" });
  const showLoc = () => {
    locText.textContent = location ? `${location.lat.toFixed(5)}, ${location.lon.toFixed(5)}${location.accuracy_m != null ? ` (±${Math.round(location.accuracy_m)} m)` : ` · ${t("picked")}`}` : t("no_location");
  };
  showLoc();
  const err = h("p", { class: "error", testid: "inc-error", role: "alert" });
  const gps = h("button", {
    type: "button", class: "secondary", testid: "inc-gps",
    onclick: async () => {
      try {
        const fix = app.patrol.lastFix && Date.now() - app.patrol.lastFix.time < 30000 ? app.patrol.lastFix : await fixOnce();
        location = { lon: round6(fix.lon), lat: round6(fix.lat), accuracy_m: Math.round(fix.accuracy * 10) / 10 };
        showLoc();
      } catch {
        err.textContent = t("gps_off");
      }
    },
  }, t("use_gps"));
  const people = h("div", { class: "stack", testid: "inc-people" });
  const pii = draft?.pii || view?.pii || {};
  for (const list of PII_LISTS) for (const p of pii[list] || []) people.append(personRow(list, p));
  const ADD = { victims: "add_victim", witnesses: "add_witness", suspects: "add_suspect" };
  const attach = attachmentsField(app, id, f.attachments || [], draft?.files || []);
  const adders = PII_LISTS.map((list) => h("button", { type: "button", class: "secondary", testid: `person-add-${list}`, onclick: () => people.append(personRow(list)) }, t(ADD[list])));
  // The input shows minutes only: an untouched time keeps its stored value (seconds included),
  // or every edit would rewrite occurred_at.
  const shownAt = occurred.value;
  const read = () => {
    const at = occurred.value === shownAt && f.occurred_at ? f.occurred_at : fromLimaInput(occurred.value);
    // A record pulled without a status shows "open": left so, it is not a change.
    const st = f.status == null && !isNew && status.value === "open" ? null : status.value;
    const fields = { category: cat.value, occurred_at: at, status: st, description: desc.value.trim() || null, address_text: address.value.trim() || null, location, attachments: attach.read().length ? attach.read() : null };
    return { fields, pii: readPeople(form), files: attach.chosen() };
  };
  const pick = h("button", {
    type: "button", class: "secondary", testid: "inc-pick",
    onclick: () => app.pickPoint(read(), (point) => {
      if (point) location = { lon: round6(point.lon), lat: round6(point.lat), accuracy_m: null };
      return { ...read(), fields: { ...read().fields, location } };
    }, id),
  }, t("pick_on_map"));
  const placement = view?.derived && Object.keys(view.derived).length
    ? h("dl", { class: "placement", testid: "inc-placement", dataset: { district: view.derived.district || "", sector: view.derived.sector || "", quality: view.derived.quality || "" } },
      h("dt", {}, t("district")), h("dd", {}, view.derived.district || "—"),
      h("dt", {}, t("sector")), h("dd", {}, view.derived.sector || "—"),
      h("dt", {}, t("quality")), h("dd", {}, `${view.derived.quality || "—"}${view.derived.confidence != null ? ` (${Math.round(view.derived.confidence * 100)} %)` : ""}`))
    : h("p", { class: "muted", testid: "inc-placement-none" }, t("not_placed"));
  const form = h("form", {
    class: "stack",
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = "";
      const edited = read();
      // A crime cannot have happened later than now (by the clock the server corrected): an
      // incident dated next year went into the chief's counts (review finding).
      const now = Date.now() + (app.vault.get("clock", {}).offset || 0);
      if (edited.fields.occurred_at && Date.parse(edited.fields.occurred_at) > now + FUTURE_SLACK_MS) {
        err.textContent = t("future_time");
        return;
      }
      const recordId = id || randomId();
      let prepared = null; // new files: their bytes stored sealed first, queued with the change
      try {
        if (edited.files.length) prepared = await app.attachments.prepare(recordId, edited.files);
      } catch (e) {
        err.textContent = e.message;
        return;
      }
      if (prepared) edited.fields.attachments = [...(edited.fields.attachments || []), ...prepared.refs];
      const fields = isNew ? Object.fromEntries(Object.entries(edited.fields).filter(([, v]) => v !== null)) : changedFields(view, edited.fields);
      const piiChange = isNew ? Object.fromEntries(Object.entries(edited.pii).filter(([, v]) => v.length)) : changedPii(view, edited.pii);
      const piiArg = piiChange && Object.keys(piiChange).length ? piiChange : null;
      if (!isNew && !Object.keys(fields).length && !piiArg) return app.go("incidents");
      try {
        await app.outbox.saveIncident(recordId, fields, piiArg, { isNew, also: prepared?.writes || [] });
        if (prepared) app.attachments.saved(prepared);
      } catch (e) {
        if (prepared) await app.attachments.forget(prepared);
        err.textContent = e.problems ? e.problems.map(problemText).join(" · ") : e.message;
        err.scrollIntoView({ block: "center" }); // below the fold, above the sticky buttons
        return;
      }
      toast(t("saved"));
      app.go("incidents");
      app.syncSoon();
    },
  },
  field(t("category"), cat), field(t("occurred"), occurred), field(t("status"), status), field(t("description"), desc),
  h("fieldset", {}, h("legend", {}, t("where")), locText, h("div", { class: "row-buttons" }, gps, pick), field(t("address"), address)),
  ownsPeople
    ? h("fieldset", {}, h("legend", {}, t("people")), people, h("div", { class: "row-buttons" }, adders))
    : h("fieldset", {}, h("legend", {}, t("people")), h("p", { class: "sub", testid: "inc-people-locked" }, t("people_locked"))),
  attach,
  h("h2", {}, t("placement")), placement, err,
  h("div", { class: "actions" },
    h("button", { type: "button", class: "secondary", testid: "inc-cancel", onclick: () => app.go("incidents") }, t("cancel")),
    h("button", { type: "submit", class: "primary", testid: "inc-save" }, t("save"))));
  const el = screen("incident", h("h1", { dataset: { id: id || "" } }, isNew ? t("new_incident") : category(f.category || "")), form);
  el.readDraft = read; // the app keeps the typed values when it draws the form again
  el.draftFor = id || null;
  return el;
}

function round6(x) {
  return Math.round(x * 1e6) / 1e6;
}
