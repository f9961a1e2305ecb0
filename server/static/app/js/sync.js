// Push then pull (docs/protocol.md, "Client algorithm"), with the reference client's retry
// rules: the same batch id and bytes on every retry; back-off on network errors, 5xx and
// 429 (Retry-After honoured); 413 halves the batch; 409 batch_id_reused re-queues; 401
// means the device was revoked and the phone wipes itself.

import { ApiError, isRevocation, request } from "./api.js";
import { backoffMs, retryAfterSeconds } from "./settle.js";

const ATTEMPTS = 6;
const PULL_LIMIT = 500;
const BATCH_SIZE = 200;

export class Syncer {
  constructor(vault, outbox, { onRevoked, onChange, sleep } = {}) {
    this.vault = vault;
    this.outbox = outbox;
    this.onRevoked = onRevoked || (() => {});
    this.onChange = onChange || (() => {});
    this.sleep = sleep || ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.running = null;
    this.state = { phase: "idle", error: null, retryAt: null, lastResults: [] };
  }

  token() {
    return this.vault.get("token");
  }

  limits() {
    return this.vault.get("me", {}).limits || {};
  }

  batchSize() {
    const max = this.limits().max_changes || 1000;
    return Math.max(1, Math.min(this.vault.get("batch_size", BATCH_SIZE), max));
  }

  set(patch) {
    Object.assign(this.state, patch);
    this.onChange(this.state);
  }

  /** One sync at a time; a second call while one runs waits for it. */
  sync(reason = "manual") {
    if (!this.vault.unlocked || !this.token()) return Promise.resolve(null);
    if (!this.running) {
      this.running = this._sync(reason).finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  async _sync(reason) {
    this.set({ phase: "me", error: null, reason });
    try {
      await this.identify();
      this.set({ phase: "push" });
      const pushed = await this.push();
      this.set({ phase: "pull" });
      const pulled = await this.pull();
      const summary = { ok: true, at: Date.now(), pushed, pulled, pending: this.outbox.pendingCount() };
      await this.vault.commit([{ store: "secure", key: "last_sync", value: summary }]);
      // A retry on the way set the error it got over: the sync ended well, so no error.
      this.set({ phase: "idle", retryAt: null, error: null });
      return summary;
    } catch (err) {
      if (isRevocation(err)) {
        await this.onRevoked(err);
        return null;
      }
      if (this.vault.unlocked) {
        const failed = { ...(this.vault.get("last_sync") || {}), failed_at: Date.now(), error: err.code || String(err) };
        await this.vault.commit([{ store: "secure", key: "last_sync", value: failed }]).catch(() => {});
      }
      this.set({ phase: "idle", error: err instanceof ApiError ? err : new ApiError(0, "client_error", String(err)) });
      return null;
    }
  }

  /** A request, retried on network errors, 5xx and 429 (the caller's batch stays the same). */
  async call(method, path, options = {}) {
    for (let attempt = 0; ; attempt += 1) {
      // Locked mid-sync: stop here. Sending no token would get a 401, and a 401 wipes the phone.
      const token = this.token();
      if (!this.vault.unlocked || !token) throw new ApiError(0, "locked", "the app was locked");
      try {
        return await request(method, path, { token, ...options });
      } catch (err) {
        if (!(err instanceof ApiError) || !err.transient || attempt + 1 >= ATTEMPTS) throw err;
        const wait = backoffMs(attempt, retryAfterSeconds(err.retryAfter));
        this.set({ retryAt: Date.now() + wait, error: err });
        await this.sleep(wait);
        if (!this.vault.unlocked) throw err;
      }
    }
  }

  async identify() {
    const { data } = await this.call("GET", "/v1/me");
    const me = { ...this.vault.get("me", {}), ...data };
    await this.vault.commit([{ store: "secure", key: "me", value: me }]);
    return me;
  }

  async push() {
    let stalled = 0;
    let done = 0;
    const results = [];
    while (stalled < 3) {
      const batch = this.outbox.currentBatch() || (await this.outbox.openBatch(this.batchSize()));
      if (!batch) break;
      let answer;
      try {
        answer = await this.call("POST", "/v1/sync/push", {
          // device_time_ms is not part of the batch's identity: only the changes are hashed.
          body: `{"batch_id":"${batch.batch_id}","device_time_ms":${this.outbox.clock().physical()},"changes":${batch.changes}}`,
        });
      } catch (err) {
        if (err.status === 413 && this.batchSize() > 1) {
          await this.outbox.dropBatch(batch);
          await this.vault.commit([{ store: "secure", key: "batch_size", value: Math.max(1, Math.floor(this.batchSize() / 2)) }]);
          continue;
        }
        if (err.status === 409 && err.code === "batch_id_reused") {
          await this.outbox.dropBatch(batch);
          continue;
        }
        throw err;
      }
      const replayed = answer.headers.get("Ronda-Replayed") === "true";
      const settled = await this.outbox.settle(batch, answer.data, replayed);
      results.push(...settled.results);
      this.set({ lastResults: results.slice(-200), lastSettled: settled });
      const moved = settled.applied + settled.unchanged + settled.rejected;
      done += settled.applied + settled.unchanged;
      stalled = moved ? 0 : stalled + 1;
    }
    if (results.length) await this.vault.commit([{ store: "secure", key: "last_results", value: results.slice(-200) }]);
    return done;
  }

  async pull() {
    const limit = Math.min(PULL_LIMIT, this.limits().pull_max_limit || PULL_LIMIT);
    let total = 0;
    for (;;) {
      const cursor = this.vault.get("cursor", "");
      let page;
      try {
        page = (await this.call("GET", `/v1/sync/pull?cursor=${encodeURIComponent(cursor)}&limit=${limit}`)).data;
      } catch (err) {
        if (err.code === "invalid_cursor" && cursor) {
          await this.outbox.startResync();
          continue;
        }
        throw err;
      }
      await this.outbox.storePage(page.changes, page.cursor, !page.has_more);
      total += page.changes.length;
      this.set({ pulled: total });
      if (!page.has_more) return total;
    }
  }
}
