// The patrol shift: start/end entries, positions thinned from watchPosition, notes. Every
// one is a hash-chained patrol-log entry (outbox.appendLog). While the app is locked the key
// is gone, so fixes wait in memory and are written at the next unlock.

import { e6, keepFix, watch } from "./geo.js";
import { utcNow } from "./incidents.js";

export const NOTE_KINDS = { visit: "note", junta: "note", intervention: "stop", other: "note" };
const NOTE_TAGS = { visit: "visita", junta: "junta_vecinal", intervention: "intervencion", other: "nota" };

export class Patrol {
  constructor(app) {
    this.app = app;
    this.stopWatch = null;
    this.waiting = []; // fixes taken while locked, when they cannot be sealed
    this.lastKept = null; // thinning while locked (the shift record is sealed then)
    this.lastFix = null; // the latest fix (kept or not), for the screen
    this.onFix = () => {};
    this.recording = Promise.resolve(); // one fix at a time: see record()
  }

  get shift() {
    return this.app.vault.unlocked ? this.app.vault.get("shift") : null;
  }

  where(fix) {
    return fix ? { lon_e6: e6(fix.lon), lat_e6: e6(fix.lat) } : {};
  }

  async start({ sector, mode, vehicle, partner }) {
    const parts = [`sector=${sector || "-"}`, `modo=${mode}`];
    if (vehicle) parts.push(`unidad=${vehicle}`);
    if (partner) parts.push(`companero=${partner}`);
    const entry = await this.app.outbox.appendLog({ kind: "shift_start", at: utcNow(), text: parts.join("; "), ...this.where(this.lastFix) });
    const shift = { id: entry.id, started_ms: Date.now(), sector, mode, vehicle, partner, positions: 0, last_kept: null };
    await this.app.vault.commit([{ store: "secure", key: "shift", value: shift }]);
    this.resume();
    return shift;
  }

  async end() {
    await this.app.outbox.appendLog({ kind: "shift_end", at: utcNow(), text: "", ...this.where(this.lastFix) });
    await this.app.vault.commit([{ store: "secure", key: "shift", del: true }]);
    this.pause();
  }

  async note(kind, text, incidentId = null) {
    const body = { kind: NOTE_KINDS[kind] || "note", at: utcNow(), text: `${NOTE_TAGS[kind] || "nota"}: ${text}`.slice(0, 4000), ...this.where(this.lastFix) };
    if (incidentId) body.incident_id = incidentId;
    return this.app.outbox.appendLog(body);
  }

  /** Watch positions while a shift is open (after unlock, or after a reload). */
  resume() {
    if (this.stopWatch || !this.shift) return;
    this.stopWatch = watch(
      (fix) => this.take(fix),
      (e) => this.onFix(null, e),
    );
  }

  pause() {
    if (this.stopWatch) this.stopWatch();
    this.stopWatch = null;
  }

  async take(fix) {
    this.lastFix = fix;
    if (!this.app.vault.unlocked) {
      if (keepFix(this.lastKept, fix)) {
        this.lastKept = fix;
        const sealed = await this.app.vault.stashLocked(fix).catch(() => false);
        if (!sealed) this.waiting.push(fix);
      }
      this.onFix(fix);
      return;
    }
    await this.record(fix);
    this.onFix(fix);
  }

  /** Write a fix as a checkpoint if the thinning keeps it. One at a time: two fixes that
   * came together both passed the thinning against the same last kept one, and the chain got
   * the same position twice (review finding). */
  record(fix) {
    const run = this.recording.then(() => this._record(fix));
    this.recording = run.catch(() => {});
    return run;
  }

  async _record(fix) {
    const shift = this.shift;
    if (!shift || !keepFix(shift.last_kept, fix)) return false;
    await this.app.outbox.appendLog({
      kind: "checkpoint",
      at: utcNow(fix.time),
      // The body has no accuracy member: it goes in the text, which the chain covers.
      text: `gps ±${Math.round(fix.accuracy)} m`,
      ...this.where(fix),
    });
    this.lastKept = fix;
    const next = { ...shift, positions: shift.positions + 1, last_kept: fix };
    await this.app.vault.commit([{ store: "secure", key: "shift", value: next }]);
    return true;
  }

  /** After unlock: write the fixes that came while locked. */
  async flush() {
    const fixes = [...(await this.app.vault.takeLocked()), ...this.waiting.splice(0)];
    fixes.sort((a, b) => a.time - b.time);
    for (const fix of fixes) await this.record(fix);
  }
}
