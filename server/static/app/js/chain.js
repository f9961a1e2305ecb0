// Patrol-log hash chain (docs/protocol.md, "Hash chain"). Pure: no DOM, no storage, so that
// node 20 (`node --test`) imports it as the browser does. sync/chain.py is the reference.

const HEX = "0123456789abcdef";

/** Canonical JSON: keys sorted at every level, no whitespace, strings unescaped UTF-8.
 * JSON.stringify already writes strings exactly as the protocol asks (only ", \ and control
 * characters escaped, lowercase \u00xx); we only sort keys and refuse non-integer numbers,
 * which every language would print differently. */
export function canonicalJson(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(`canonical JSON holds integers only, got ${value}`);
    }
    return String(value);
  }
  if (Array.isArray(value)) {
    return "[" + value.map(canonicalJson).join(",") + "]";
  }
  if (typeof value === "object") {
    // Keys are ASCII in the protocol; code-unit order is then code-point order.
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(value[k])).join(",") + "}";
  }
  throw new TypeError(`cannot put a ${typeof value} in canonical JSON`);
}

/** The body as hashed: members sent as null (or undefined) are dropped, nothing is added. */
export function hashedBody(body) {
  const out = {};
  for (const [k, v] of Object.entries(body || {})) {
    if (v !== null && v !== undefined) out[k] = v;
  }
  return out;
}

/** The exact text whose UTF-8 bytes are hashed for an entry of `deviceId`. */
export function hashMaterial(deviceId, entry) {
  return canonicalJson({
    body: hashedBody(entry.body),
    device_id: deviceId,
    hlc: entry.hlc,
    id: entry.id,
    n: entry.n,
    prev_hash: entry.prev_hash,
  });
}

function toHex(buffer) {
  const bytes = new Uint8Array(buffer);
  let out = "";
  for (const b of bytes) out += HEX[b >> 4] + HEX[b & 15];
  return out;
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes (WebCrypto: browser and node 20). */
export async function sha256Hex(text) {
  const data = new TextEncoder().encode(text);
  return toHex(await globalThis.crypto.subtle.digest("SHA-256", data));
}

/** The `hash` a patrol-log entry must carry. */
export async function entryHash(deviceId, entry) {
  return sha256Hex(hashMaterial(deviceId, entry));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A string that has a UTF-8 form: lone surrogates (from a broken paste) become U+FFFD.
 * JSON.stringify would escape them as \udXXX, which the server cannot hash as we did. */
export function wellFormed(text) {
  return text.replace(LONE_SURROGATE, "\uFFFD");
}

/** A complete patrol-log change, ready for the outbox: next position after `head`. */
export async function makeEntry(deviceId, head, { id, hlc, body }) {
  const clean = Object.fromEntries(
    Object.entries(hashedBody(body)).map(([k, v]) => [k, typeof v === "string" ? wellFormed(v) : v]),
  );
  const entry = {
    collection: "patrol_logs",
    id,
    op: "append",
    hlc,
    n: head.n + 1,
    prev_hash: head.n === 0 ? "" : head.hash,
    body: clean,
  };
  entry.hash = await entryHash(deviceId, entry);
  return entry;
}

/** Renumber and re-hash pending entries (in order) after `head` = {n, hash}.
 * Returns new entry objects and the new head; the input is not changed. */
export async function relink(deviceId, entries, head) {
  let n = head.n;
  let prev = head.n === 0 ? "" : head.hash;
  const out = [];
  for (const old of entries) {
    const entry = { ...old, n: n + 1, prev_hash: prev };
    delete entry.hash;
    entry.hash = await entryHash(deviceId, entry);
    out.push(entry);
    n = entry.n;
    prev = entry.hash;
  }
  return { entries: out, head: { n, hash: prev } };
}

/** Check a run of entries as the server would: links, numbers and hashes.
 * Returns the list of problems (empty when the run is intact). */
export async function verify(deviceId, entries, head = { n: 0, hash: "" }) {
  const problems = [];
  let n = head.n;
  let prev = head.n === 0 ? "" : head.hash;
  for (const e of entries) {
    if ((await entryHash(deviceId, e)) !== e.hash) problems.push({ n: e.n, problem: "tampered" });
    if (e.n !== n + 1) problems.push({ n: e.n, problem: "gap" });
    else if (e.prev_hash !== prev) problems.push({ n: e.n, problem: "broken" });
    n = e.n;
    prev = e.hash;
  }
  return problems;
}
