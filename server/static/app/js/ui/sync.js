// The sync screen: sync now, per-change results, rejected changes (fix and re-queue, or
// dismiss), conflicts (the value that won), queue and last sync.

import { category, errorText, t, when } from "../i18n.js";
import { FIXABLE } from "../settle.js";
import { h, screen } from "./dom.js";

export function syncScreen(app) {
  const s = app.syncer.state;
  const last = app.vault.get("last_sync");
  const results = s.lastResults?.length ? s.lastResults : app.vault.get("last_results", []);
  const rejected = app.outbox.rejected();
  const conflicts = app.vault.get("conflicts", []);
  const status = s.phase !== "idle" ? t("syncing") : s.error ? t("sync_failed", { code: errorText(s.error.code) }) : "";
  return screen("sync",
    h("h1", {}, t("sync_title")),
    h("p", { testid: "sync-state", dataset: { phase: s.phase, error: s.error?.code || "" } }, status),
    s.retryAt && s.phase !== "idle" ? h("p", { testid: "sync-retry" }, t("retry_at", { t: when(s.retryAt, { date: false }) })) : null,
    h("p", {}, `${t("queued")}: `, h("b", { testid: "sync-queued" }, String(app.outbox.pendingCount()))),
    h("p", {}, `${t("last_sync")}: `, h("b", { testid: "sync-last" }, last?.at ? when(last.at) : t("never"))),
    h("div", { class: "actions" }, h("button", { class: "primary", testid: "sync-now", disabled: s.phase !== "idle", onclick: () => app.syncNow("button") }, t("sync_now"))),
    h("h2", {}, `${t("rejected")} (${rejected.length})`),
    h("ul", { class: "items", testid: "rejected-list" }, rejected.map((r) => rejectedItem(app, r))),
    h("h2", {}, `${t("conflicts")} (${conflicts.length})`),
    h("ul", { class: "items", testid: "conflict-list" }, conflicts.map((c) => conflictItem(app, c))),
    h("h2", {}, `${t("results")} (${results.length})`),
    h("ul", { class: "items small", testid: "result-list" }, results.slice(-50).reverse().map((r) =>
      h("li", { testid: "result-item", dataset: { status: r.status, code: r.code || "", id: r.id || "" } },
        `${collectionName(r.collection)} ${String(r.id || "").slice(0, 8)} · ${t(r.status === "rejected" ? "st_rejected" : r.status)}${r.code ? ` · ${r.code}` : ""}${FIXABLE.has(r.code) ? ` (${t("auto_fixed")})` : ""}${r.conflicts ? ` · ${t("conflicts")}: ${r.conflicts}` : ""}`))),
  );
}

function rejectedItem(app, r) {
  const c = r.change || {};
  return h("li", { class: "card", testid: "rejected-item", dataset: { code: r.error?.code || "", id: c.id || "" } },
    h("b", {}, `${collectionName(c.collection)} ${String(c.id).slice(0, 8)}`), h("p", {}, errorText(r.error?.code || "")), h("p", { class: "muted" }, `${r.error?.code}: ${r.error?.message || ""}`),
    h("pre", { class: "details" }, JSON.stringify(r.error?.details || {})),
    h("div", { class: "row-buttons" },
      c.collection === "incidents" ? h("button", { class: "secondary", testid: "rejected-fix", onclick: async () => {
        // The refused change is dropped; the form opens on the local view with its values,
        // and saving queues a new, corrected change.
        await app.outbox.dismiss(r.ord);
        app.go("incident", { id: c.id, draft: { fields: { ...(app.outbox.incident(c.id)?.fields || {}), ...(c.fields || {}) }, pii: c.pii || app.outbox.incident(c.id)?.pii } });
      } }, t("fix")) : null,
      h("button", { class: "secondary", testid: "rejected-dismiss", onclick: async () => { await app.outbox.dismiss(r.ord); app.render(); } }, t("dismiss"))));
}

function conflictItem(app, c) {
  const now = app.outbox.incident(c.id);
  const rows = Object.entries(c.fields).filter(([k]) => JSON.stringify(now?.fields?.[k] ?? null) !== JSON.stringify(c.fields[k]));
  return h("li", { class: "card", testid: "conflict-item", dataset: { id: c.id } },
    // Which incident, as the officer knows it (its category and time), then when it happened.
    h("button", { class: "row", testid: "conflict-open", onclick: () => app.go("incident", { id: c.id }) },
      `${now?.fields?.category ? `${category(now.fields.category)} · ${when(now.fields.occurred_at)}` : String(c.id).slice(0, 8)} · ${t("conflicts")}: ${when(c.at)}`),
    rows.length ? h("dl", {}, rows.map(([k, v]) => [
      h("dt", {}, t(`field_${k}`) === `field_${k}` ? k : t(`field_${k}`)),
      h("dd", {}, `${t("yours")}: ${fmt(k, v)} → ${t("won")}: `, h("b", { testid: "conflict-won", dataset: { field: k } }, fmt(k, now?.fields?.[k]))),
    ])) : h("p", { class: "muted" }, `${t("won")}: ${t("yours")}`));
}

/** "incidents" / "patrol_logs" as the screen's language says them. */
function collectionName(name) {
  const key = { incidents: "log_incident", patrol_logs: "log" }[name];
  return key ? t(key) : name || "?";
}

/** A field's value as people read it: Lima time, names not codes (review finding). */
function fmt(k, v) {
  if (v === null || v === undefined || v === "") return "—";
  if (k === "occurred_at") return when(v);
  if (k === "status") return t(`status_${v}`);
  if (k === "category") return category(v);
  if (k === "location" && typeof v === "object") return `${v.lat}, ${v.lon}`;
  if (k === "attachments" && Array.isArray(v)) return String(v.length);
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
