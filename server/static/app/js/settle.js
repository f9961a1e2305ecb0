// How a push answer is read (docs/protocol.md, "Client algorithm", step 3). Pure: no DOM and
// no storage, so node's test runner can check the rules; outbox.js applies the decisions.

// Refusals the device fixes by itself; every other refusal is shown to the officer.
export const FIXABLE = new Set(["clock_skew", "chain_gap", "chain_broken"]);

/** Sort a push answer's results into decisions about the batch's changes.
 * Returns {accepted: [{index, change, result}], rejected: [{index, change, error}],
 * fixable: n, skewTime: ms|null, chainHint: details|null, conflicts: [{change, result}]}. */
export function readAnswer(changes, answer) {
  const out = { accepted: [], rejected: [], fixable: 0, skewTime: null, chainHint: null, conflicts: [] };
  for (const result of answer?.results || []) {
    const index = result?.index;
    if (!Number.isInteger(index) || index < 0 || index >= changes.length) continue;
    const change = changes[index];
    if (result.status === "applied" || result.status === "unchanged") {
      out.accepted.push({ index, change, result });
      if (result.conflicts > 0) out.conflicts.push({ change, result });
      continue;
    }
    const error = result.error || { code: "unknown", message: "", details: {} };
    if (FIXABLE.has(error.code)) {
      out.fixable += 1;
      if (error.code === "clock_skew") out.skewTime = Number(error.details?.server_time_ms) || null;
      else if (out.chainHint === null) out.chainHint = { ...(error.details || {}), n: change.n };
      continue;
    }
    out.rejected.push({ index, change, error });
    // A refused entry leaves a hole: the later pending entries are re-linked over it.
    if (change?.collection === "patrol_logs" && out.chainHint === null) out.chainHint = {};
  }
  if (out.skewTime && out.chainHint === null) out.chainHint = {};
  return out;
}

/** Where re-linking starts: {n, hash} after which the pending entries are renumbered.
 * `acked`: the acknowledged head; `ownHash(n)`: the hash of our acknowledged entry n, or null. */
export function chainStart(acked, hint, ownHash) {
  const expected = hint?.expected_n;
  if (Number.isInteger(expected) && expected - 1 !== acked.n) {
    if (expected === 1) return { n: 0, hash: "" };
    const found = ownHash(expected - 1);
    if (found) return { n: expected - 1, hash: found };
  }
  const prev = hint?.expected_prev_hash;
  if (typeof prev === "string" && Number.isInteger(hint?.n) && hint.n - 1 === acked.n) {
    return { n: acked.n, hash: prev };
  }
  return { n: acked.n, hash: acked.hash };
}

/** Retry delay for the attempt-th failure (0-based): 0.25 s doubling, at most 30 s, times a
 * random factor 0.5-1.5; a server's Retry-After (seconds) wins when it says longer. */
export function backoffMs(attempt, retryAfterS = null, random = Math.random) {
  const base = Math.min(30000, 250 * 2 ** attempt) * (0.5 + random());
  return retryAfterS !== null && retryAfterS * 1000 > base ? retryAfterS * 1000 : base;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function retryAfterSeconds(header, nowMs = Date.now()) {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const when = Date.parse(header);
  return Number.isNaN(when) ? null : Math.max(0, (when - nowMs) / 1000);
}
