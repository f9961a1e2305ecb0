// The vault: everything the app keeps, sealed with the PIN-derived key (crypto.js) in
// IndexedDB (db.js). While unlocked, the decrypted values are held in memory maps; every
// change goes through `commit`, which seals first and then writes in one transaction.
// Only `meta` is plain: the KDF salt, the PIN verifier, the wrong-PIN count and settings.

import { deriveKey, KDF_ITERATIONS, newFixKeys, open, openWith, randomBytes, seal, sealTo } from "./crypto.js";
import * as idb from "./db.js";

const CHECK = "ronda-pin-check";
export const DEFAULT_SETTINGS = { idleMinutes: 5, wipeAfter: 5, tileBudgetMb: 25 };
const SEALED = ["secure", "outbox", "records", "rejected"];

export class Vault {
  constructor() {
    this.db = null;
    this.key = null;
    this.data = Object.fromEntries(SEALED.map((s) => [s, new Map()]));
  }

  async open() {
    if (!this.db) this.db = await idb.openDb();
    return this;
  }

  get unlocked() {
    return this.key !== null;
  }

  async meta(key, fallback = null) {
    const value = await idb.get(this.db, "meta", key);
    return value === undefined ? fallback : value;
  }

  async setMeta(key, value) {
    await idb.commit(this.db, [{ store: "meta", key, value }]);
  }

  async settings() {
    return { ...DEFAULT_SETTINGS, ...(await this.meta("settings", {})) };
  }

  async hasDevice() {
    return (await this.meta("kdf")) !== null;
  }

  /** First use: derive the key from a new PIN and store the verifier and `values` sealed. */
  async create(pin, values) {
    const salt = randomBytes(16);
    const key = await deriveKey(pin, salt, KDF_ITERATIONS);
    const check = await seal(key, CHECK, "meta:check");
    const fixKeys = await newFixKeys();
    await idb.commit(this.db, [
      { store: "meta", key: "kdf", value: { salt, iterations: KDF_ITERATIONS, alg: "PBKDF2-SHA256/AES-GCM" } },
      { store: "meta", key: "check", value: check },
      { store: "meta", key: "attempts", value: 0 },
      { store: "meta", key: "fix_pub", value: fixKeys.publicJwk },
    ]);
    this.key = key;
    const all = { ...values, fix_key: fixKeys.privateJwk };
    await this.commit(Object.entries(all).map(([k, v]) => ({ store: "secure", key: k, value: v })));
  }

  /** Keep a value while locked, sealed to the enrollment's public key. False if impossible. */
  async stashLocked(value) {
    const pub = await this.meta("fix_pub");
    if (!pub) return false;
    const key = `locked:${String(Date.now()).padStart(15, "0")}:${Math.random().toString(36).slice(2, 8)}`;
    await idb.commit(this.db, [{ store: "meta", key, value: await sealTo(pub, value) }]);
    return true;
  }

  /** After unlock: the values stashed while locked (oldest first), removed from storage. */
  async takeLocked() {
    const priv = this.get("fix_key");
    const found = (await idb.entries(this.db, "meta")).filter(([k]) => String(k).startsWith("locked:"));
    const values = [];
    for (const [, ct] of found) {
      if (priv) values.push(await openWith(priv, ct).catch(() => null));
    }
    if (found.length) await idb.commit(this.db, found.map(([k]) => ({ store: "meta", key: k, del: true })));
    return values.filter((v) => v !== null);
  }

  /** {ok: true} or {ok: false, remaining} or {ok: false, wiped: true}; {ok: false, notPin:
   * true} for what cannot be a PIN (enrolment takes 6 to 12 digits): not counted, so empty
   * taps in a pocket do not wipe the phone (review finding), and no guess is given away. */
  async unlock(pin) {
    if (!/^\d{6,12}$/.test(pin)) return { ok: false, notPin: true };
    const kdf = await this.meta("kdf");
    const settings = await this.settings();
    // Counted before trying: closing the app mid-try does not give a free guess.
    const attempts = (await this.meta("attempts", 0)) + 1;
    await this.setMeta("attempts", attempts);
    const key = await deriveKey(pin, kdf.salt, kdf.iterations);
    try {
      await open(key, await this.meta("check"), "meta:check");
    } catch {
      if (attempts >= settings.wipeAfter) {
        await this.wipe();
        return { ok: false, wiped: true };
      }
      return { ok: false, remaining: settings.wipeAfter - attempts };
    }
    await this.setMeta("attempts", 0);
    this.key = key;
    await this.load();
    return { ok: true };
  }

  async load() {
    for (const store of SEALED) {
      // Decrypted in parallel: WebCrypto works off the main thread, one at a time is slow.
      const rows = await idb.entries(this.db, store);
      const values = await Promise.all(rows.map(([k, sealed]) => open(this.key, sealed, `${store}:${k}`)));
      this.data[store] = new Map(rows.map(([k], i) => [k, values[i]]));
    }
  }

  lock() {
    this.key = null;
    for (const store of SEALED) this.data[store] = new Map();
  }

  /** Delete everything on the phone: database, cached tiles and data, memory. */
  async wipe() {
    this.lock();
    if (this.db) this.db.close();
    this.db = null;
    await idb.deleteDb();
    if (globalThis.caches) {
      for (const name of await caches.keys()) if (name.startsWith("ronda-data")) await caches.delete(name);
    }
    await this.open();
  }

  get(key, fallback = null) {
    const v = this.data.secure.get(key);
    return v === undefined ? fallback : v;
  }

  all(store) {
    return [...this.data[store].entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** Seal and write [{store, key, value} | {store, key, del: true}] in ONE transaction. */
  async commit(writes) {
    if (!this.key) throw new Error("locked");
    const sealed = await Promise.all(
      writes.map(async (w) =>
        w.del ? w : { store: w.store, key: w.key, value: await seal(this.key, w.value, `${w.store}:${w.key}`) },
      ),
    );
    await idb.commit(this.db, sealed);
    for (const w of writes) {
      if (w.del) this.data[w.store].delete(w.key);
      else this.data[w.store].set(w.key, w.value);
    }
    this.onCommit?.();
  }
}

/** One writer at a time (across tabs too, where Web Locks exist): chain appends, batches and
 * settling must not interleave, or two entries could take the same chain position. */
let tail = Promise.resolve();
export function exclusive(fn) {
  if (globalThis.navigator?.locks) return navigator.locks.request("ronda-state", fn);
  const run = tail.then(fn, fn);
  tail = run.catch(() => {});
  return run;
}
