// IndexedDB, thinly: one database, a few object stores, promise helpers, and `commit` that
// writes many records in ONE transaction (all or nothing). Values arrive already encrypted:
// an IndexedDB transaction commits itself as soon as it waits on anything else (WebCrypto
// included), so nothing asynchronous may happen between opening and finishing it.

export const DB_NAME = "ronda-app";
const VERSION = 2; // 2: `blobs` (attachment bytes, sealed chunk by chunk: attachments.js)
// meta: plain (KDF salt, PIN verifier, wrong-PIN count, settings); the rest is sealed.
export const STORES = ["meta", "secure", "outbox", "records", "rejected", "blobs"];

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export function openDb() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, VERSION);
    r.onupgradeneeded = () => {
      for (const name of STORES) {
        if (!r.result.objectStoreNames.contains(name)) r.result.createObjectStore(name);
      }
    };
    r.onsuccess = () => {
      // A newer version of the app (another tab) upgrades the database: let it.
      r.result.onversionchange = () => r.result.close();
      resolve(r.result);
    };
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error("the app's database is open elsewhere"));
  });
}

export async function get(db, store, key) {
  return req(db.transaction(store).objectStore(store).get(key));
}

/** Every [key, value] of a store, in key order. */
export async function entries(db, store) {
  const s = db.transaction(store).objectStore(store);
  const [keys, values] = await Promise.all([req(s.getAllKeys()), req(s.getAll())]);
  return keys.map((k, i) => [k, values[i]]);
}

/** Apply writes atomically: [{store, key, value}] puts, [{store, key, del: true}] deletes,
 * [{store, clear: true}] empties. Resolves when the transaction is durable. */
export function commit(db, writes) {
  const names = [...new Set(writes.map((w) => w.store))];
  return new Promise((resolve, reject) => {
    const tx = db.transaction(names, "readwrite", { durability: "strict" });
    for (const w of writes) {
      const s = tx.objectStore(w.store);
      if (w.clear) s.clear();
      else if (w.del) s.delete(w.key);
      else s.put(w.value, w.key);
    }
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

export function deleteDb() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(DB_NAME);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    r.onblocked = () => resolve(); // deleted once the last connection closes
  });
}
