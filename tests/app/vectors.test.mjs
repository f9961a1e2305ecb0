// The officer's app's pure modules against vectors the server's Python computed
// (tests/app/vectors.json, written by tests/app/make_vectors.py). Run: node --test tests/app/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash, webcrypto } from "node:crypto";

// Node 18 (Debian's) has WebCrypto but not yet as a global; the modules use the global.
globalThis.crypto ??= webcrypto;

const chain = await import("../../server/static/app/js/chain.js");
const hlc = await import("../../server/static/app/js/hlc.js");
const incidents = await import("../../server/static/app/js/incidents.js");

const vectors = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));

const stamp = (text) => hlc.parse(text);
const hasFraction = (value) =>
  typeof value === "number"
    ? !Number.isInteger(value)
    : value !== null && typeof value === "object" && Object.values(value).some(hasFraction);

test("canonical JSON: the server's bytes, or a refusal for numbers that are not integers", () => {
  for (const c of vectors.canonical) {
    if (hasFraction(c.value)) {
      // Hashed material holds integers only (docs/protocol.md): the app may refuse a fraction,
      // but must never write different bytes than the server for it.
      let out;
      try {
        out = chain.canonicalJson(c.value);
      } catch {
        continue;
      }
      assert.equal(out, c.canonical, c.name);
      continue;
    }
    const out = chain.canonicalJson(c.value);
    assert.equal(out, c.canonical, c.name);
    assert.equal(Buffer.byteLength(out, "utf8"), c.bytes, c.name);
    assert.equal(createHash("sha256").update(out, "utf8").digest("hex"), c.sha256, c.name);
  }
});

test("hash chains: material and hash of every entry", async () => {
  for (const c of vectors.chains) {
    for (const { change, material } of c.entries) {
      const label = `${c.name}: ${change.id}`;
      assert.equal(chain.hashMaterial(c.device_id, change), material, label);
      assert.equal(await chain.sha256Hex(material), change.hash, label);
      assert.equal(await chain.entryHash(c.device_id, change), change.hash, label);
    }
  }
});

test("hash chains: built entry by entry from the bodies, as the app records them", async () => {
  for (const c of vectors.chains) {
    let head = { n: 0, hash: "" };
    for (const { change } of c.entries) {
      const made = await chain.makeEntry(c.device_id, head, {
        id: change.id,
        hlc: change.hlc,
        body: change.body,
      });
      assert.equal(made.n, change.n, `${c.name}: ${change.id} n`);
      assert.equal(made.prev_hash, change.prev_hash, `${c.name}: ${change.id} prev_hash`);
      assert.equal(made.hash, change.hash, `${c.name}: ${change.id} hash`);
      assert.ok(!Object.values(made.body).includes(null), "null members are not sent");
      head = { n: made.n, hash: made.hash };
    }
    const sent = c.entries.map((e) => e.change);
    assert.deepEqual(await chain.verify(c.device_id, sent), [], c.name);
  }
});

test("hash chains: a changed byte, a missing entry or a wrong link is found", async () => {
  const c = vectors.chains.find((x) => x.entries.length >= 4);
  const sent = c.entries.map((e) => structuredClone(e.change));
  const tampered = structuredClone(sent);
  tampered[1].body.kind = tampered[1].body.kind === "note" ? "stop" : "note";
  assert.deepEqual(await chain.verify(c.device_id, tampered), [{ n: 2, problem: "tampered" }]);
  const gap = [sent[0], ...sent.slice(2)];
  assert.deepEqual(await chain.verify(c.device_id, gap), [{ n: 3, problem: "gap" }]);
  // another device's id: every hash is wrong
  const other = await chain.verify("dev-other", sent);
  assert.equal(other.filter((p) => p.problem === "tampered").length, sent.length);
  // relinking the tail after the first entry gives back the very same chain
  const tail = sent.slice(1).map((e) => ({ ...e, n: 99, prev_hash: "f".repeat(64), hash: "" }));
  const relinked = await chain.relink(c.device_id, tail, { n: 1, hash: sent[0].hash });
  assert.deepEqual(
    relinked.entries.map((e) => e.hash),
    sent.slice(1).map((e) => e.hash),
  );
  assert.deepEqual(relinked.head, { n: sent.length, hash: sent.at(-1).hash });
});

test("refused entries: a fractional number is never hashed", async () => {
  for (const c of vectors.refused) {
    if (!hasFraction(c.change.body) && Number.isInteger(c.change.n)) continue;
    await assert.rejects(chain.entryHash("dev-x", c.change), TypeError, c.name);
  }
});

test("hlc: parse and format", () => {
  for (const c of vectors.hlc.parse) {
    if (c.valid) {
      assert.deepEqual(stamp(c.text), { wall: c.wall_ms, counter: c.counter }, c.text);
      assert.equal(hlc.format(stamp(c.text)), c.text);
    } else {
      assert.throws(() => hlc.parse(c.text), undefined, JSON.stringify(c.text));
    }
  }
});

test("hlc: tick", () => {
  for (const c of vectors.hlc.tick) {
    const got = hlc.tick(stamp(c.last), c.now_ms + c.offset_ms);
    assert.equal(hlc.format(got), c.expected, c.name);
    const clock = new hlc.HybridClock({ last: c.last, offset: c.offset_ms }, () => c.now_ms);
    assert.equal(clock.tick(), c.expected, `${c.name} (HybridClock)`);
  }
});

test("hlc: observe", () => {
  for (const c of vectors.hlc.observe) {
    const got = hlc.observe(stamp(c.last), c.remote, c.now_ms + c.offset_ms);
    assert.equal(hlc.format(got), c.expected, c.name);
    const clock = new hlc.HybridClock({ last: c.last, offset: c.offset_ms }, () => c.now_ms);
    assert.equal(clock.observe(c.remote), c.expected, `${c.name} (HybridClock)`);
  }
});

test("hlc: one clock through a sequence, its state saved and restored at every step", () => {
  for (const c of vectors.hlc.sequences) {
    let now = 0;
    let clock = new hlc.HybridClock({ offset: c.offset_ms }, () => now);
    for (const [i, step] of c.steps.entries()) {
      now = step.now_ms;
      const got = step.op === "tick" ? clock.tick() : clock.observe(step.remote);
      assert.equal(got, step.expected, `${c.name}, step ${i}`);
      const saved = JSON.parse(JSON.stringify(clock.state()));
      clock = new hlc.HybridClock(saved, () => now);
    }
  }
});

test("hlc: compare, and the merge rule's (hlc, device_id) order", () => {
  const stamps = vectors.hlc.compare.find((x) => x.kind === "stamps").cases;
  for (const c of stamps) {
    assert.equal(hlc.compare(c.a, c.b), c.expected, `${c.a} vs ${c.b}`);
    assert.equal(hlc.compare(c.b, c.a), 0 - c.expected, `${c.b} vs ${c.a}`);
    // string order is time order
    assert.equal(c.a < c.b ? -1 : c.a > c.b ? 1 : 0, c.expected);
  }
  const pairs = vectors.hlc.compare.find((x) => x.kind === "merge_pairs").cases;
  for (const c of pairs) {
    const byStamp = hlc.compare(c.a.hlc, c.b.hlc);
    const byDevice = c.a.device_id < c.b.device_id ? -1 : c.a.device_id > c.b.device_id ? 1 : 0;
    assert.equal(byStamp || byDevice, c.expected, JSON.stringify(c));
  }
});

test("hlc: after clock_skew, the offset and the re-stamped outbox", () => {
  for (const c of vectors.hlc.skew) {
    if (c.accepted) continue;
    // docs/protocol.md "Clock skew": offset_ms = server time - the stamp's wall time
    assert.equal(c.offset_ms, c.server_time_ms - stamp(c.hlc).wall, c.name);
  }
  for (const c of vectors.hlc.restamp) {
    const newOffset = c.server_time_ms - c.device_wall_ms;
    assert.equal(newOffset, c.expected.offset_ms, c.name);
    const got = hlc.restamp(c.pending, newOffset - c.offset_ms, c.server_time_ms, c.accepted);
    assert.deepEqual(got.stamps, c.expected.pending, c.name);
    assert.equal(hlc.format(got.last), c.expected.last, c.name);
  }
});

test("incidents: the app's check takes exactly the changes the server takes", () => {
  // A change the server would refuse must never enter the outbox (docs/protocol.md,
  // "Client algorithm" step 2), and a valid one must not be held back.
  for (const c of vectors.incidents) {
    const problems = incidents.check(c.fields, c.pii, c.is_new);
    if (c.accepted) assert.deepEqual(problems, [], c.name);
    else assert.ok(problems.length > 0, `${c.name}: the server refuses it, the app let it through`);
  }
});
