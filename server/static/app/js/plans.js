// "Su plan para este turno / Your plan for this shift": the station's patrol plans (pulled
// as records of `patrol_plans`, docs/protocol.md "Patrol plans") whose shift window holds
// now, and this phone's own minutes in each assigned cell, counted by the protocol's rule:
// consecutive positions 1-300 s apart and at most 25 m/s, each stretch counted in the cell
// of its first position. Cells come with their polygon, so no H3 library is needed here.

import { contains, distance } from "./geo.js";
import { getLang } from "./i18n.js";
import { h } from "./ui/dom.js";

export const GAP_CAP_S = 300;
export const MAX_SPEED_MPS = 25;

const TEXT = {
  es: {
    title: "Su plan para este turno",
    none: "No hay un plan para este turno.",
    sector: "Sector",
    shift: "Turno",
    cell: "Celda",
    of: "de",
    done: "Cumplimiento",
    note: "Nota",
  },
  en: {
    title: "Your plan for this shift",
    none: "No plan for this shift.",
    sector: "Sector",
    shift: "Shift",
    cell: "Cell",
    of: "of",
    done: "Progress",
    note: "Note",
  },
};

/** Plans pulled for the station, withdrawn ones left out. */
export function pulledPlans(records) {
  const out = [];
  for (const [key, doc] of records) if (key.startsWith("patrol_plans/") && !doc.deleted) out.push(doc);
  return out.sort((a, b) => a.seq - b.seq);
}

/** Assignments whose window holds `nowMs`: of `sector` when given (else every sector). */
export function currentAssignments(plans, nowMs, sector = "") {
  const out = [];
  for (const plan of plans) {
    for (const a of plan.assignments || []) {
      if (Date.parse(a.starts_at) > nowMs || nowMs >= Date.parse(a.ends_at)) continue;
      if (sector && a.sector !== sector) continue;
      out.push({ plan, assignment: a });
    }
  }
  return out;
}

/** Seconds in each of the assignment's cells from positions [{ms, lon, lat}]. */
export function secondsInCells(assignment, positions) {
  const start = Date.parse(assignment.starts_at);
  const end = Date.parse(assignment.ends_at);
  const seconds = Object.fromEntries(assignment.cells.map((c) => [c.cell, 0]));
  const fixes = [...positions].sort((a, b) => a.ms - b.ms);
  for (let i = 0; i + 1 < fixes.length; i++) {
    const a = fixes[i];
    const b = fixes[i + 1];
    const dt = Math.round((b.ms - a.ms) / 1000);
    if (dt < 1 || dt > GAP_CAP_S || distance(a, b) > MAX_SPEED_MPS * dt) continue;
    if (a.ms < start || a.ms >= end) continue;
    const cell = assignment.cells.find((c) => contains({ type: "Polygon", coordinates: [c.boundary] }, [a.lon, a.lat]));
    if (cell) seconds[cell.cell] += dt;
  }
  return seconds;
}

/** This phone's positions from its patrol log (acknowledged and pending entries). */
export function ownPositions(entries) {
  return entries
    .filter((e) => Number.isInteger(e.body?.lon_e6) && Number.isInteger(e.body?.lat_e6))
    .map((e) => ({ ms: Date.parse(e.body.at), lon: e.body.lon_e6 / 1e6, lat: e.body.lat_e6 / 1e6 }));
}

/** The card shown on the shift screen. */
export function planCard(app, nowMs = Date.now()) {
  const text = TEXT[getLang()] || TEXT.es;
  const sector = app.patrol.shift?.sector || "";
  const current = currentAssignments(pulledPlans(app.vault.data.records), nowMs, sector);
  const positions = ownPositions(app.outbox.logEntries());
  const items = current.map(({ plan, assignment: a }) => {
    const seconds = secondsInCells(a, positions);
    const planned = a.minutes * a.cells.length;
    const done = a.cells.reduce((s, c) => s + Math.min(seconds[c.cell] / 60, a.minutes), 0);
    return h("li", { testid: "plan-item", class: "card", dataset: { plan: plan.id, sector: a.sector, shift: a.shift } },
      h("p", {}, h("b", {}, `${text.sector}: ${a.sector_name || a.sector}`), ` · ${text.shift} ${a.shift} h`),
      plan.note ? h("p", {}, `${text.note}: ${plan.note}`) : null,
      h("p", { testid: "plan-progress", dataset: { done: done.toFixed(1), planned } },
        `${text.done}: ${done.toFixed(1)} ${text.of} ${planned} min`),
      h("ul", {}, a.cells.map((c) => h("li", { testid: "plan-cell", dataset: { cell: c.cell, minutes: (seconds[c.cell] / 60).toFixed(1) } },
        `${text.cell} ${c.cell}: ${(seconds[c.cell] / 60).toFixed(1)} ${text.of} ${a.minutes} min`))));
  });
  return h("section", { testid: "plan-card", class: "stack", "aria-labelledby": "plan-title", dataset: { count: items.length } },
    h("h2", { id: "plan-title" }, text.title),
    items.length ? h("ul", { class: "plans" }, items) : h("p", { testid: "plan-none" }, text.none));
}

/** Put the plan card on a screen (the shift screen) and give the screen back. */
export function withPlan(app, screen) {
  try {
    screen.append(planCard(app));
  } catch (err) {
    console.warn("plan card", err); // a malformed plan must not take the shift screen down
  }
  return screen;
}
