// The device's durable sync state over the vault (store.js): outbox, in-flight batch, chain
// heads, clock, pulled records, rejected changes. Mirrors sync/outbox.py. Every function that
// changes state runs under `exclusive` and ends in ONE vault commit, so a new patrol-log
// entry and the chain head it moves are written together, and a batch is written down
// (with its id) before it is sent.

import { makeEntry, relink } from "./chain.js";
import { randomId } from "./crypto.js";
import { compare, HybridClock, restamp } from "./hlc.js";
import { check, overlay } from "./incidents.js";
import { chainStart, readAnswer } from "./settle.js";
import { exclusive } from "./store.js";

const OWN_CHAIN_KEEP = 500; // acknowledged hashes kept for re-linking hints

export class Outbox {
  constructor(vault, wall = () => Date.now()) {
    this.vault = vault;
    this.wall = wall;
  }

  clock() {
    return new HybridClock(this.vault.get("clock", {}), this.wall);
  }

  me() {
    return this.vault.get("me", {});
  }

  nextOrd() {
    const keys = [...this.vault.data.outbox.keys(), ...this.vault.data.rejected.keys()];
    return keys.length ? Math.max(...keys) + 1 : 1;
  }

  pending() {
    return this.vault.all("outbox").map(([, row]) => row);
  }

  pendingCount() {
    return this.vault.data.outbox.size;
  }

  // --- local edits ---
  /** Queue an incident upsert (only the changed fields) or delete; returns its id. */
  async saveIncident(id, fields, pii, { isNew = false, op = "upsert", also = [] } = {}) {
    const problems = op === "upsert" ? check(fields, pii, isNew) : [];
    if (problems.length) throw Object.assign(new Error(problems.join("; ")), { problems });
    return exclusive(async () => {
      const clock = this.clock();
      const change = { collection: "incidents", id, op, base_seq: this.baseSeq(id) };
      if (op === "upsert") change.fields = fields;
      if (pii) change.pii = pii;
      change.hlc = clock.tick();
      const ord = this.nextOrd();
      await this.vault.commit([
        { store: "outbox", key: ord, value: { ord, change, batch_id: null, created_ms: this.wall() } },
        { store: "secure", key: "clock", value: clock.state() },
        ...also, // e.g. the attachment queue items the change names: queued with it or not at all
      ]);
      return id;
    });
  }

  /** Append a patrol-log entry to this device's chain; the head moves in the same commit. */
  async appendLog(body) {
    return exclusive(async () => {
      const deviceId = this.me().device_id;
      const head = this.vault.get("chain_head", { n: 0, hash: "" });
      const clock = this.clock();
      const entry = await makeEntry(deviceId, head, { id: randomId(), hlc: clock.tick(), body });
      const ord = this.nextOrd();
      await this.vault.commit([
        { store: "outbox", key: ord, value: { ord, change: entry, batch_id: null, created_ms: this.wall() } },
        { store: "secure", key: "chain_head", value: { n: entry.n, hash: entry.hash } },
        { store: "secure", key: "clock", value: clock.state() },
      ]);
      return entry;
    });
  }

  // --- batches ---
  currentBatch() {
    return this.vault.get("batch");
  }

  /** Write the next batch down (id, changes text) before sending; null if nothing pending. */
  async openBatch(limit) {
    return exclusive(async () => {
      const existing = this.vault.get("batch");
      if (existing) return existing;
      const rows = this.pending().filter((r) => !r.batch_id).slice(0, limit);
      if (!rows.length) return null;
      const batch = {
        batch_id: randomId(),
        ords: rows.map((r) => r.ord),
        // The exact bytes sent every time: a retry must hash to the same changes.
        changes: "[" + rows.map((r) => JSON.stringify(r.change)).join(",") + "]",
        created_ms: this.wall(),
      };
      await this.vault.commit([
        { store: "secure", key: "batch", value: batch },
        ...rows.map((r) => ({ store: "outbox", key: r.ord, value: { ...r, batch_id: batch.batch_id } })),
      ]);
      return batch;
    });
  }

  /** Forget a batch refused as a whole (nothing of it applied): its changes go back. */
  async dropBatch(batch) {
    return exclusive(() => this.vault.commit(this._release(batch)));
  }

  _release(batch) {
    const writes = [{ store: "secure", key: "batch", del: true }];
    for (const ord of batch.ords) {
      const row = this.vault.data.outbox.get(ord);
      if (row) writes.push({ store: "outbox", key: ord, value: { ...row, batch_id: null } });
    }
    return writes;
  }

  /** Apply a push answer: one commit. Returns counts and the per-change results shown. */
  async settle(batch, answer, replayed = false) {
    return exclusive(async () => {
      const changes = JSON.parse(batch.changes);
      const d = readAnswer(changes, answer);
      const writes = this._release(batch);
      const rows = new Map(this.vault.data.outbox);
      const deviceId = this.me().device_id;
      let confirmed = this.vault.get("confirmed", "0000000000000-00000");
      let acked = this.vault.get("acked_head", { n: 0, hash: "" });
      const ownChain = { ...this.vault.get("own_chain", {}) };
      const localPii = new Map();
      for (const { index, change, result } of d.accepted) {
        const ord = batch.ords[index];
        rows.delete(ord);
        writes.push({ store: "outbox", key: ord, del: true });
        if (compare(change.hlc, confirmed) > 0) confirmed = change.hlc;
        if (change.collection === "patrol_logs") {
          ownChain[change.n] = change.hash;
          if (change.n > acked.n) acked = { n: change.n, hash: change.hash };
          writes.push({ store: "records", key: `patrol_logs/${change.id}`, value: { ...change, seq: result.seq, device_id: deviceId } });
        } else if (change.pii) {
          const merged = { ...(localPii.get(change.id) || this.vault.data.records.get(`pii/${change.id}`) || {}) };
          for (const [k, v] of Object.entries(change.pii)) if (v && v.length) merged[k] = v; else delete merged[k];
          localPii.set(change.id, merged);
        }
      }
      for (const [id, pii] of localPii) writes.push({ store: "records", key: `pii/${id}`, value: pii });
      for (const { index, change, error } of d.rejected) {
        const ord = batch.ords[index];
        rows.delete(ord);
        writes.push({ store: "outbox", key: ord, del: true });
        writes.push({ store: "rejected", key: ord, value: { ord, change, error, rejected_ms: this.wall() } });
      }
      const clock = this.clock();
      let pending = [...rows.values()].sort((a, b) => a.ord - b.ord).map((r) => ({ ...r, batch_id: null }));
      let restamped = 0;
      if (d.skewTime) {
        const wallNow = this.wall();
        const newOffset = d.skewTime - wallNow;
        const delta = newOffset - clock.offset;
        clock.offset = newOffset;
        const r = restamp(pending.map((p) => p.change.hlc), delta, d.skewTime, confirmed);
        pending = pending.map((p, i) => ({ ...p, change: { ...p.change, hlc: r.stamps[i] } }));
        if (r.stamps.length) clock.last = r.last;
        restamped = r.stamps.length;
      }
      let relinked = 0;
      if (d.chainHint !== null) {
        const start = chainStart(acked, d.chainHint, (n) => ownChain[n] || null);
        const logs = pending.filter((p) => p.change.collection === "patrol_logs");
        const r = await relink(deviceId, logs.map((p) => p.change), start);
        const byOrd = new Map(logs.map((p, i) => [p.ord, r.entries[i]]));
        pending = pending.map((p) => (byOrd.has(p.ord) ? { ...p, change: byOrd.get(p.ord) } : p));
        writes.push({ store: "secure", key: "chain_head", value: r.head });
        relinked = logs.length;
      }
      if (restamped || relinked) for (const p of pending) writes.push({ store: "outbox", key: p.ord, value: p });
      if (!replayed && Number.isInteger(answer.clock_offset_ms) && Math.abs(answer.clock_offset_ms) > 60000) {
        clock.offset += answer.clock_offset_ms; // latency blurs it by a second: only a clearly wrong clock
      }
      const keys = Object.keys(ownChain).map(Number).sort((a, b) => a - b);
      for (const k of keys.slice(0, Math.max(0, keys.length - OWN_CHAIN_KEEP))) delete ownChain[k];
      writes.push(
        { store: "secure", key: "clock", value: clock.state() },
        { store: "secure", key: "confirmed", value: confirmed },
        { store: "secure", key: "acked_head", value: acked },
        { store: "secure", key: "own_chain", value: ownChain },
      );
      if (d.conflicts.length) {
        const known = this.vault.get("conflicts", []);
        const seen = d.conflicts.map(({ change, result }) => ({
          id: change.id, fields: change.fields || {}, pii: Object.keys(change.pii || {}),
          count: result.conflicts, seq: result.seq, at: this.wall(),
        }));
        writes.push({ store: "secure", key: "conflicts", value: [...seen, ...known].slice(0, 50) });
      }
      // Only the last writes to a key count: the outbox puts above replace the releases.
      await this.vault.commit(dedupe(writes));
      return {
        applied: d.accepted.filter((a) => a.result.status === "applied").length,
        unchanged: d.accepted.filter((a) => a.result.status === "unchanged").length,
        rejected: d.rejected.length, fixable: d.fixable, restamped, relinked,
        conflicts: d.conflicts.length,
        results: (answer.results || []).map((r) => ({
          index: r.index, id: r.id, collection: r.collection, status: r.status,
          code: r.error?.code || null, message: r.error?.message || null, conflicts: r.conflicts || 0,
        })),
      };
    });
  }

  /** The seq this device last saw of an incident: 0 if unknown (or not seen again yet since
   * the server's database was replaced, when old sequence numbers mean nothing). */
  baseSeq(id) {
    const key = `incidents/${id}`;
    const doc = this.vault.data.records.get(key);
    const resync = this.vault.get("resync");
    if (!doc || (resync && !resync.seen.includes(key))) return 0;
    return doc.seq;
  }

  // --- pulled records ---
  /** The server refused our cursor (its database was restored or replaced): pull the whole
   * scope again. Records stay visible until the last page; queued edits not yet in a batch
   * lose their base_seq (a number of the old database). As sync/resync.py does. */
  async startResync() {
    return exclusive(async () => {
      const writes = [
        { store: "secure", key: "cursor", value: "" },
        { store: "secure", key: "resync", value: { seen: [], started_ms: this.wall() } },
      ];
      for (const row of this.pending()) {
        if (row.batch_id || row.change.collection !== "incidents" || !row.change.base_seq) continue;
        writes.push({ store: "outbox", key: row.ord, value: { ...row, change: { ...row.change, base_seq: 0 } } });
      }
      await this.vault.commit(writes);
    });
  }

  /** After a resync's last page: records the server did not send again leave the views
   * (kept as `dropped/...`: after a restore they may be the only copy). */
  _finishResync(writes, seen) {
    let dropped = 0;
    for (const [key, doc] of this.vault.data.records) {
      if (!key.startsWith("incidents/") || seen.has(key)) continue;
      writes.push({ store: "records", key: `dropped/${key}`, value: doc }, { store: "records", key, del: true });
      dropped += 1;
    }
    writes.push({ store: "secure", key: "resync", del: true });
    return dropped;
  }

  /** Keep a pulled page and its cursor in one commit; every stamp is observed. */
  async storePage(docs, cursor, last = false) {
    return exclusive(async () => {
      const clock = this.clock();
      const deviceId = this.me().device_id;
      let confirmed = this.vault.get("confirmed", "0000000000000-00000");
      const writes = [];
      for (const doc of docs) {
        if (doc.hlc) {
          clock.observe(doc.hlc);
          if (doc.collection === "patrol_logs" ? doc.device_id === deviceId : true) {
            if (compare(doc.hlc, confirmed) > 0) confirmed = doc.hlc;
          }
        }
        // Other officers' patrol positions are not needed on this phone.
        if (doc.collection === "patrol_logs" && doc.device_id !== deviceId) continue;
        writes.push({ store: "records", key: `${doc.collection}/${doc.id}`, value: doc });
        if (doc.collection === "incidents" && doc.pii) writes.push({ store: "records", key: `pii/${doc.id}`, value: doc.pii });
      }
      writes.push(
        { store: "secure", key: "cursor", value: cursor },
        { store: "secure", key: "clock", value: clock.state() },
        { store: "secure", key: "confirmed", value: confirmed },
      );
      const resync = this.vault.get("resync");
      let dropped = 0;
      if (resync) {
        const seen = new Set([...resync.seen, ...docs.map((d) => `${d.collection}/${d.id}`)]);
        if (last) dropped = this._finishResync(writes, seen);
        else writes.push({ store: "secure", key: "resync", value: { ...resync, seen: [...seen] } });
      }
      await this.vault.commit(writes);
      return dropped;
    });
  }

  // --- views ---
  _pendingById() {
    const byId = new Map();
    for (const r of this.pending()) {
      if (r.change.collection !== "incidents") continue;
      if (!byId.has(r.change.id)) byId.set(r.change.id, []);
      byId.get(r.change.id).push(r.change);
    }
    return byId;
  }

  incident(id, byId = null) {
    const doc = this.vault.data.records.get(`incidents/${id}`) || null;
    const pending = (byId || this._pendingById()).get(id) || [];
    return overlay(doc, pending, id, this.me(), this.vault.data.records.get(`pii/${id}`));
  }

  incidents() {
    const byId = this._pendingById();
    const ids = new Set(byId.keys());
    for (const key of this.vault.data.records.keys()) if (key.startsWith("incidents/")) ids.add(key.slice(10));
    return [...ids].map((id) => this.incident(id, byId)).filter((v) => v && !v.deleted);
  }

  /** This device's patrol-log entries: acknowledged, then pending (chain order). */
  logEntries() {
    const acked = [];
    for (const [key, doc] of this.vault.data.records) if (key.startsWith("patrol_logs/")) acked.push({ ...doc, pending: false });
    const pending = this.pending().filter((r) => r.change.collection === "patrol_logs").map((r) => ({ ...r.change, pending: true }));
    return [...acked.sort((a, b) => a.n - b.n), ...pending];
  }

  rejected() {
    return this.vault.all("rejected").map(([, row]) => row);
  }

  async dismiss(ord) {
    return exclusive(() => this.vault.commit([{ store: "rejected", key: ord, del: true }]));
  }
}

function dedupe(writes) {
  const last = new Map();
  writes.forEach((w, i) => last.set(`${w.store}\u0000${w.key}`, i));
  return writes.filter((w, i) => last.get(`${w.store}\u0000${w.key}`) === i);
}
