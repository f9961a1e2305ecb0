// The shift screen: start (sector, vehicle or on foot, partner), positions, notes, end.

import { sectorName, sectorOptions } from "../briefing.js";
import { t, when } from "../i18n.js";
import { field, h, screen, select, toast } from "./dom.js";

export function shiftScreen(app) {
  const shift = app.patrol.shift;
  return screen("shift", h("h1", {}, t("shift_title")), shift ? onShift(app, shift) : startForm(app));
}

function startForm(app) {
  const sector = select("shift-sector", [["", t("any_sector")], ...sectorOptions(app)], "");
  const mode = select("shift-mode", [["vehiculo", t("vehicle")], ["a_pie", t("on_foot")]], "vehiculo");
  const vehicle = h("input", { testid: "shift-vehicle", maxlength: 40 });
  const partner = h("input", { testid: "shift-partner", maxlength: 100 });
  const submit = h("button", { type: "submit", class: "primary", testid: "shift-start" }, t("start_shift"));
  return h("form", {
    class: "stack",
    onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      await app.patrol.start({ sector: sector.value, mode: mode.value, vehicle: vehicle.value.trim(), partner: partner.value.trim() });
      app.render();
      app.syncSoon();
    },
  },
  h("p", { testid: "shift-none" }, t("shift_none")),
  field(t("sector"), sector), field(t("mode"), mode), field(t("vehicle_id"), vehicle), field(t("partner"), partner),
  h("div", { class: "actions" }, submit));
}

/** A chain entry's kind for people; the protocol's name when there is no text for it. */
function logKind(kind) {
  const text = t(`log_${kind}`);
  return text === `log_${kind}` ? kind : text;
}

function fixText(fix) {
  if (!fix) return t("gps_off");
  return `${fix.lat.toFixed(5)}, ${fix.lon.toFixed(5)} (${t("accuracy")} ±${Math.round(fix.accuracy)} m)`;
}

/** The latest 30 patrol-log entries, newest first. */
function logItems(app) {
  return app.outbox.logEntries().slice(-30).reverse().map((e) =>
    h("li", { testid: "log-item", dataset: { n: e.n, kind: e.body.kind, pending: e.pending ? "1" : "0" } },
      h("b", {}, `#${e.n} ${logKind(e.body.kind)}`), " ", when(e.body.at), " ", e.body.text || "", e.pending ? h("span", { class: "badge" }, t("pending")) : null));
}

function onShift(app, shift) {
  const kind = select("note-kind", [["visit", t("kind_visit")], ["junta", t("kind_junta")], ["intervention", t("kind_intervention")], ["other", t("kind_other")]], "visit");
  const text = h("textarea", { testid: "note-text", rows: 3, maxlength: 3900, required: true });
  const add = h("button", { type: "submit", class: "secondary", testid: "note-add" }, t("add_note"));
  const fixLine = h("span", { testid: "shift-last-fix" }, fixText(app.patrol.lastFix));
  const count = h("b", { testid: "shift-positions" }, String(shift.positions));
  const list = h("ol", { class: "log", testid: "log-list" }, logItems(app));
  app.patrol.onFix = (fix) => {
    fixLine.textContent = fixText(fix);
    const positions = String(app.patrol.shift?.positions ?? 0);
    // A new position is a new log entry: the list shows it now, not at the next redraw
    // (hours, offline), and the note being typed stays as it is (review finding).
    if (count.textContent !== positions) list.replaceChildren(...logItems(app));
    count.textContent = positions;
    app.renderStatus();
  };
  return h("div", { class: "stack" },
    h("p", { testid: "shift-status" }, `${t("on_shift_since")} ${when(shift.started_ms)} · ${t("sector")}: ${sectorName(app, shift.sector) || t("any_sector")}`),
    h("p", {}, `${t("positions")}: `, count),
    h("p", {}, `${t("last_fix")}: `, fixLine),
    h("form", {
      class: "stack card",
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (!text.value.trim()) return;
        await app.patrol.note(kind.value, text.value.trim());
        toast(t("saved"));
        app.render();
        app.syncSoon();
      },
    }, field(t("note_kind"), kind), field(t("note_text"), text), h("div", { class: "actions" }, add)),
    h("h2", {}, t("log")),
    list,
    h("div", { class: "end" }, h("button", {
      class: "danger", testid: "shift-end",
      onclick: async () => {
        await app.patrol.end();
        app.render();
        app.syncSoon();
      },
    }, t("end_shift"))),
  );
}
