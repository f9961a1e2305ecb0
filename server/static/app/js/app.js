// The app's controller: which screen shows, the status bar, locking, syncing, wiping.

import { Attachments } from "./attachments.js";
import { refreshBriefing } from "./briefing.js";
import { t, when, setLang, getLang } from "./i18n.js";
import { Outbox } from "./outbox.js";
import { Patrol } from "./patrol.js";
import { Vault } from "./store.js";
import { clearData } from "./swclient.js";
import { Syncer } from "./sync.js";
import { briefingScreen } from "./ui/briefing.js";
import { h, screen as screenOf } from "./ui/dom.js";
import { enrollScreen } from "./ui/enroll.js";
import { incidentScreen, listScreen } from "./ui/incidents.js";
import { lockScreen, wipedScreen } from "./ui/lock.js";
import { settingsScreen } from "./ui/settings.js";
import { shiftScreen } from "./ui/shift.js";
import { withPlan } from "./plans.js";
import { badgeNav, startWaking, withNotices } from "./notices.js";
import { syncScreen } from "./ui/sync.js";

const SYNC_EVERY_MS = 5 * 60 * 1000;
const BRIEFING_EVERY_MS = 15 * 60 * 1000;
const TABS = [["shift", "nav_shift"], ["incidents", "nav_incidents"], ["briefing", "nav_map"], ["sync", "nav_sync"], ["settings", "nav_settings"]];

export class App {
  constructor(root) {
    this.root = root;
    this.view = root.querySelector('[data-testid="view"]');
    this.vault = new Vault();
    this.outbox = new Outbox(this.vault);
    this.patrol = new Patrol(this);
    this.attachments = new Attachments(this); // evidence files: sealed queue, tus uploads
    this.syncer = new Syncer(this.vault, this.outbox, {
      onRevoked: () => this.wipe("revoked"),
      onChange: () => this.onSyncChange(),
    });
    // The queue count and last sync follow every write, whoever made it.
    this.vault.onCommit = () => {
      if (this.statusQueued) return;
      this.statusQueued = true;
      setTimeout(() => {
        this.statusQueued = false;
        this.renderStatus();
      }, 50);
    };
    this.route = { name: "shift", params: {} };
    this.settings = null;
    this.lastActive = Date.now();
    this.syncTimer = null;
  }

  async start() {
    await this.vault.open();
    await this.loadSettings();
    for (const ev of ["pointerdown", "keydown", "touchstart"]) addEventListener(ev, () => (this.lastActive = Date.now()), { passive: true });
    setInterval(() => this.checkIdle(), 15000);
    addEventListener("online", () => { this.renderStatus(); this.syncNow("online"); });
    addEventListener("offline", () => this.renderStatus());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      this.checkIdle();
      this.syncNow("visible");
    });
    this.root.querySelector('[data-testid="lang-toggle"]').addEventListener("click", () => { setLang(getLang() === "es" ? "en" : "es"); this.render(); });
    this.root.querySelector('[data-testid="lock-button"]').addEventListener("click", () => this.lock());
    // One unlocked tab at a time: each keeps its own copy of the chain head in memory, and
    // two writers would fork the chain. A tab that unlocks locks the others.
    this.tabs = globalThis.BroadcastChannel ? new BroadcastChannel("ronda-tabs") : null;
    if (this.tabs) {
      this.tabs.onmessage = (ev) => {
        if (ev.data === "unlocked" && this.vault.unlocked) this.lock();
        if (ev.data === "wiped") this.reopen();
      };
    }
    this.render();
    document.body.dataset.ready = "1";
  }

  /** Another tab wiped the phone: let go of the database so that it can be deleted. */
  async reopen() {
    this.patrol.pause();
    this.vault.lock();
    this.vault.db?.close();
    this.vault.db = null;
    await this.vault.open();
    this.render();
  }

  async loadSettings() {
    this.settings = await this.vault.settings();
  }

  // --- lifecycle ---
  async enrolled(pin, answer, deviceName) {
    const me = { device_id: answer.device_id, officer_id: answer.officer_id, role: answer.role, station_id: answer.station_id, device_name: deviceName };
    const offset = Number.isInteger(answer.server_time_ms) && Math.abs(answer.server_time_ms - Date.now()) > 60000 ? answer.server_time_ms - Date.now() : 0;
    await this.vault.create(pin, { token: answer.token, me, clock: { last: "0000000000000-00000", offset }, chain_head: { n: 0, hash: "" }, acked_head: { n: 0, hash: "" }, cursor: "" });
    localStorage.removeItem("ronda-wiped");
    this.lastActive = Date.now();
    this.go("shift");
    this.startSyncing("enroll");
  }

  /** Sync now, then every few minutes while the app is open and unlocked. */
  startSyncing(reason) {
    this.syncNow(reason);
    startWaking(this); // notices.js: a long-poll says when to pull
    this.syncTimer = this.syncTimer || setInterval(() => this.syncNow("timer"), SYNC_EVERY_MS);
  }

  async unlock(pin) {
    const result = await this.vault.unlock(pin);
    if (result.ok) {
      this.tabs?.postMessage("unlocked");
      this.lastActive = Date.now();
      await this.patrol.flush();
      this.patrol.resume();
      this.render();
      this.startSyncing("open");
    }
    return result;
  }

  lock() {
    this.vault.lock();
    this.render();
  }

  checkIdle() {
    if (this.vault.unlocked && Date.now() - this.lastActive > this.settings.idleMinutes * 60000) this.lock();
  }

  /** Wipe everything; `reason` is shown after (revoked, pins, manual). */
  async wipe(reason) {
    this.patrol.pause();
    await this.vault.wipe();
    await clearData();
    if (reason !== "manual") localStorage.setItem("ronda-wiped", JSON.stringify({ reason, at: Date.now() }));
    this.tabs?.postMessage("wiped");
    this.render();
  }

  wiped(reason) {
    localStorage.setItem("ronda-wiped", JSON.stringify({ reason, at: Date.now() }));
    this.render();
  }

  clearWiped() {
    localStorage.removeItem("ronda-wiped");
    this.render();
  }

  // --- sync ---
  async syncNow(reason) {
    if (!this.vault.unlocked || !navigator.onLine && reason !== "button") return null;
    const result = await this.syncer.sync(reason);
    // The records are acknowledged: their attachments may go now (not awaited: a long upload
    // does not hold the sync's callers; it resumes on the next sync if cut).
    if (result) this.attachments.upload().catch(() => null);
    if (result && this.vault.unlocked) {
      // The briefing changes slowly: fetched at most every 15 minutes unless asked for.
      const age = Date.now() - (this.vault.get("briefing")?.fetched_ms || 0);
      if (age > BRIEFING_EVERY_MS || reason === "button" || reason === "enroll") await refreshBriefing(this).catch(() => null);
      // A form being filled is not drawn again under the officer's thumbs (focus, keyboard).
      if (this.route.name === "incident" || this.route.name === "pick") this.renderStatus();
      else this.render();
    }
    return result;
  }

  syncSoon() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.syncNow("edit"), 1500);
  }

  onSyncChange() {
    this.renderStatus();
    if (this.route.name === "sync" && this.vault.unlocked) this.render();
  }

  pickPoint(draftBefore, onPoint, id) {
    this.route = { name: "pick", params: { onPick: (point) => this.go("incident", { id, draft: point ? onPoint(point) : draftBefore }) } };
    this.render();
  }

  // --- screens ---
  go(name, params = {}) {
    this.route = { name, params };
    this.render();
    window.scrollTo(0, 0);
  }

  async render() {
    document.documentElement.lang = getLang();
    // Drawing the incident form again (language switch) keeps what was typed in it. Only
    // while unlocked: a lock forgets it, as it forgets everything the PIN protects.
    const shown = this.view.firstElementChild;
    if (this.route.name === "incident" && shown?.readDraft && shown.draftFor === (this.route.params.id || null)) {
      this.route.params = this.vault.unlocked ? { ...this.route.params, draft: shown.readDraft() } : { ...this.route.params, draft: undefined };
    }
    const wiped = JSON.parse(localStorage.getItem("ronda-wiped") || "null");
    const enrolled = this.vault.db ? await this.vault.hasDevice() : false;
    let screen;
    let tabs = false;
    // WebCrypto and service workers exist only on HTTPS (or this machine): the token is a
    // password and must not cross a network in clear (docs/protocol.md, Transport).
    if (!globalThis.isSecureContext || !globalThis.crypto?.subtle) screen = insecureScreen();
    else if (wiped && !enrolled) screen = wipedScreen(this, wiped.reason);
    else if (!enrolled) screen = enrollScreen(this);
    else if (!this.vault.unlocked) screen = lockScreen(this);
    else {
      tabs = true;
      const { name, params } = this.route;
      if (name === "incidents") screen = listScreen(this);
      else if (name === "incident") screen = incidentScreen(this, params);
      else if (name === "briefing") screen = withNotices(this, briefingScreen(this));
      else if (name === "pick") screen = briefingScreen(this, { pick: params.onPick });
      else if (name === "sync") screen = syncScreen(this);
      else if (name === "settings") screen = settingsScreen(this, this.settings);
      else screen = withNotices(this, withPlan(this, shiftScreen(this)));
    }
    this.view.replaceChildren(screen);
    this.renderNav(tabs);
    this.renderStatus();
  }

  renderNav(show) {
    const nav = this.root.querySelector('[data-testid="nav"]');
    nav.hidden = !show;
    const active = this.route.name === "incident" ? "incidents" : this.route.name === "pick" ? "briefing" : this.route.name;
    nav.replaceChildren(...TABS.map(([name, key]) => h("button", {
      testid: `nav-${name}`, class: name === active ? "active" : "", "aria-current": name === active ? "page" : null,
      onclick: () => this.go(name),
    }, t(key))));
    if (show) badgeNav(this, nav); // notices.js: unread notices on the shift tab
  }

  renderStatus() {
    const q = (id) => this.root.querySelector(`[data-testid="${id}"]`);
    const net = q("net-status");
    net.textContent = navigator.onLine ? t("online") : t("offline");
    net.dataset.online = navigator.onLine ? "1" : "0";
    const unlocked = this.vault.unlocked;
    q("status-bar").hidden = !unlocked;
    q("lock-button").hidden = !unlocked;
    // Short on the bar (390 px hold three buttons), the language's full name for readers.
    const toggle = q("lang-toggle");
    toggle.textContent = getLang() === "es" ? "EN" : "ES";
    // The spoken name starts with the visible text (axe: label-content-name-mismatch).
    toggle.setAttribute("aria-label", `${toggle.textContent} (${t("lang")})`);
    toggle.setAttribute("lang", getLang() === "es" ? "en" : "es");
    q("lock-button").textContent = t("lock");
    q("install-app").textContent = t("install");
    if (!unlocked) return;
    q("queued-count").textContent = String(this.outbox.pendingCount());
    q("queued-label").textContent = t("queued");
    const last = this.vault.get("last_sync");
    q("last-sync").textContent = last?.at ? when(last.at, { short: true }) : t("never");
    q("last-sync").dataset.ms = last?.at || "";
    q("last-sync-label").textContent = t("last_sync");
    q("sync-spinner").hidden = this.syncer.state.phase === "idle";
  }
}

function insecureScreen() {
  return screenOf("insecure", h("h1", {}, "HTTPS"), h("p", { testid: "insecure-text" }, t("insecure")));
}

