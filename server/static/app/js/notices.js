// Station notices (BOLO), docs/protocol.md "Notices" and "Wake-up": pulled as records of
// `notices`, shown on the shift screen (and the briefing) with an unread badge on the nav;
// "Enterado" queues a `notice_acks` change in the outbox (sent with the next push, offline
// too). A notice disappears at its expiry by this phone's clock (corrected by the server
// offset), without waiting for the server's tombstone, and its text is deleted from the phone.
// While the app is unlocked and online, one long-poll on /v1/sync/wait tells it when to pull.

import { ApiError, request } from "./api.js";
import { getLang, when } from "./i18n.js";
import { exclusive } from "./store.js";
import { h } from "./ui/dom.js";

const WAIT_S = 25;
const RETRY_MS = 10000;

const TEXT = {
  es: {
    title: "Avisos de la comisaría",
    none: "No hay avisos vigentes.",
    ack: "Enterado",
    acked: "Enterado ✓",
    pending: "(se enviará al sincronizar)",
    until: "Vigente hasta",
    photo: "Foto del aviso",
    photo_missing: "La foto aún no está disponible.",
    unread: "sin leer",
  },
  en: {
    title: "Station notices",
    none: "No notices in force.",
    ack: "Acknowledge",
    acked: "Acknowledged ✓",
    pending: "(sent with the next sync)",
    until: "In force until",
    photo: "Notice photo",
    photo_missing: "The photo is not available yet.",
    unread: "unread",
  },
};

function tx(key) {
  return (TEXT[getLang()] || TEXT.es)[key];
}

/** The server's time as this phone best knows it (the clock offset learnt at enrolment/sync). */
function serverNow(vault) {
  return Date.now() + (vault.get("clock", {}).offset || 0);
}

/** Notices in force for this phone: pulled, not ended, not past their expiry. */
export function activeNotices(records, nowMs) {
  const out = new Map();
  for (const [key, doc] of records) {
    if (!key.startsWith("notices/") || doc.deleted || !doc.body) continue;
    if (Date.parse(doc.expires_at) <= nowMs) continue;
    out.set(doc.notice_id, doc);
  }
  return [...out.values()].sort((a, b) => (a.posted_at < b.posted_at ? 1 : -1));
}

/** Notice ids this officer has acknowledged: pulled acknowledgements and queued ones. */
export function acknowledged(records, outboxRows, officerId) {
  const done = new Map();
  for (const [key, doc] of records) {
    if (key.startsWith("notice_acks/") && doc.officer_id === officerId) done.set(doc.notice_id, "sent");
  }
  for (const row of outboxRows) {
    if (row.change.collection === "notice_acks" && !done.has(row.change.id)) done.set(row.change.id, "queued");
  }
  return done;
}

function state(app) {
  const vault = app.vault;
  const notices = activeNotices(vault.data.records, serverNow(vault));
  const acks = acknowledged(vault.data.records, app.outbox.pending(), vault.get("me", {}).officer_id);
  return { notices, acks, unread: notices.filter((n) => !acks.has(n.notice_id)).length };
}

export function unreadCount(app) {
  return app.vault.unlocked ? state(app).unread : 0;
}

/** Queue the acknowledgement of a notice (one outbox row, one commit), then sync soon. */
export async function acknowledge(app, noticeId) {
  await exclusive(async () => {
    const outbox = app.outbox;
    if (acknowledged(app.vault.data.records, outbox.pending(), app.vault.get("me", {}).officer_id).has(noticeId)) return;
    const clock = outbox.clock();
    const change = { collection: "notice_acks", id: noticeId, op: "ack", hlc: clock.tick(), at: new Date().toISOString() };
    const ord = outbox.nextOrd();
    await app.vault.commit([
      { store: "outbox", key: ord, value: { ord, change, batch_id: null, created_ms: Date.now() } },
      { store: "secure", key: "clock", value: clock.state() },
    ]);
  });
  app.render();
  app.syncSoon();
}

/** Delete the text of notices past their expiry by this phone's clock (the tombstone that
 * comes with a later pull replaces the record anyway). True if anything went. */
export async function dropExpired(app) {
  if (!app.vault.unlocked) return false;
  const now = serverNow(app.vault);
  const gone = [];
  for (const [key, doc] of app.vault.data.records) {
    if (key.startsWith("notices/") && !doc.deleted && Date.parse(doc.expires_at) <= now) gone.push(key);
  }
  if (!gone.length) return false;
  await exclusive(() => app.vault.commit(gone.map((key) => ({ store: "records", key, del: true }))));
  return true;
}

function photo(app, doc) {
  const ref = (doc.body.attachments || [])[0];
  if (!ref) return null;
  const box = h("figure", { class: "notice-photo", testid: "notice-photo", dataset: { sha: ref.sha256 } });
  const url = `/v1/attachments/notices/${encodeURIComponent(doc.id)}/${ref.sha256}`;
  fetch(url, { headers: { Authorization: `Bearer ${app.vault.get("token")}` }, cache: "no-store" })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
    .then((blob) => box.append(h("img", { src: URL.createObjectURL(blob), alt: tx("photo") })))
    .catch(() => box.append(h("figcaption", { class: "muted" }, tx("photo_missing"))));
  return box;
}

function item(app, doc, ack) {
  const read = ack !== undefined;
  const button = read
    ? h("span", { class: "notice-acked", testid: "notice-acked" }, tx("acked"), ack === "queued" ? ` ${tx("pending")}` : "")
    : h("button", { type: "button", class: "primary", testid: "notice-ack", onclick: (ev) => { ev.target.disabled = true; acknowledge(app, doc.notice_id); } }, tx("ack"));
  return h(
    "li",
    { class: `notice${read ? "" : " unread"}`, testid: "notice-item", dataset: { notice: doc.notice_id, read: read ? "1" : "0" } },
    h("p", { class: "notice-cat" }, h("b", {}, doc.body.category.replaceAll("_", " ")), read ? "" : ` · ${tx("unread")}`),
    h("p", { class: "notice-text", testid: "notice-text" }, doc.body.text),
    photo(app, doc),
    h("p", { class: "muted", testid: "notice-expiry" }, `${tx("until")}: ${when(doc.expires_at)}`),
    button,
  );
}

/** The notices card: unread first. */
export function noticesCard(app) {
  const { notices, acks } = state(app);
  const ordered = [...notices.filter((n) => !acks.has(n.notice_id)), ...notices.filter((n) => acks.has(n.notice_id))];
  return h(
    "section",
    { class: "card notices", testid: "notices-card", dataset: { count: String(notices.length) } },
    h("h2", {}, tx("title")),
    ordered.length
      ? h("ul", { class: "notice-list", testid: "notice-list" }, ordered.map((doc) => item(app, doc, acks.get(doc.notice_id))))
      : h("p", { class: "muted", testid: "notices-none" }, tx("none")),
  );
}

/** Put the card on a screen: in place of the briefing's placeholder, or first on the shift screen. */
export function withNotices(app, screen) {
  try {
    const placeholder = screen.querySelector('[data-testid="notices-placeholder"]');
    const card = noticesCard(app);
    if (placeholder) {
      placeholder.previousElementSibling?.tagName === "H2" && placeholder.previousElementSibling.remove();
      placeholder.replaceWith(card);
    } else {
      const heading = screen.querySelector("h1");
      if (heading) heading.after(card);
      else screen.prepend(card);
    }
  } catch (err) {
    console.warn("notices card", err); // a malformed notice must not take the screen down
  }
  return screen;
}

/** The unread count on the shift tab (hidden at 0). */
export function badgeNav(app, nav) {
  const button = nav.querySelector('[data-testid="nav-shift"]');
  if (!button) return;
  const n = unreadCount(app);
  const badge = h("span", { class: "badge", testid: "notices-badge", hidden: n === 0, title: `${n} ${tx("unread")}` }, String(n));
  button.append(" ", badge);
}

/** One wake-up loop per app while it is unlocked: wait, pull when told, drop expired notices. */
export function startWaking(app) {
  if (app.waking) return;
  app.waking = true;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  (async () => {
    try {
      while (app.vault.unlocked && app.vault.get("token")) {
        if (await dropExpired(app).catch(() => false)) app.render();
        if (!navigator.onLine) {
          await sleep(RETRY_MS);
          continue;
        }
        try {
          const cursor = encodeURIComponent(app.vault.get("cursor", ""));
          const token = app.vault.get("token");
          const answer = await request("GET", `/v1/sync/wait?cursor=${cursor}&timeout_s=${WAIT_S}`, { token, timeoutMs: (WAIT_S + 15) * 1000 });
          if (answer.data.changed && app.vault.unlocked) await app.syncNow("wake");
        } catch (err) {
          // 429: the server holds enough waits; a bad cursor or a revocation: the sync says
          // what to do (resync, wipe). Either way wait a while, the timer sync still runs.
          if (err instanceof ApiError && (err.status === 401 || err.code === "invalid_cursor")) await app.syncNow("wake");
          const retry = Number(err?.retryAfter) > 0 ? Number(err.retryAfter) * 1000 : RETRY_MS;
          await sleep(retry);
        }
      }
    } finally {
      app.waking = false;
    }
  })();
}
