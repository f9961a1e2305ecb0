// Hybrid logical clocks (docs/protocol.md, "Hybrid logical clocks"; sync/clock.py is the
// reference). Pure: no DOM, no storage; node 20 imports it for the test vectors.

export const MAX_COUNTER = 99999;
const PATTERN = /^\d{13}-\d{5}$/;

/** "1764172800000-00000" -> {wall, counter}; throws on anything else. */
export function parse(text) {
  if (typeof text !== "string" || !PATTERN.test(text)) {
    throw new TypeError(`not an hlc stamp: ${String(text).slice(0, 40)}`);
  }
  return { wall: Number(text.slice(0, 13)), counter: Number(text.slice(14)) };
}

/** {wall, counter} -> the fixed-width wire form (string order is time order). */
export function format(stamp) {
  return String(stamp.wall).padStart(13, "0") + "-" + String(stamp.counter).padStart(5, "0");
}

/** Compare two stamps (objects or strings): -1, 0 or 1. */
export function compare(a, b) {
  const x = typeof a === "string" ? parse(a) : a;
  const y = typeof b === "string" ? parse(b) : b;
  if (x.wall !== y.wall) return x.wall < y.wall ? -1 : 1;
  if (x.counter !== y.counter) return x.counter < y.counter ? -1 : 1;
  return 0;
}

function carry(wall, counter) {
  // A counter overflow borrows a millisecond rather than breaking the 5-digit form.
  return counter > MAX_COUNTER ? { wall: wall + 1, counter: 0 } : { wall, counter };
}

/** The stamp for a local event; `pt` = device wall ms + offset. */
export function tick(last, pt) {
  const wall = Math.max(pt, last.wall);
  return carry(wall, wall === last.wall ? last.counter + 1 : 0);
}

/** The clock after receiving `remote` (a pulled document's hlc). */
export function observe(last, remote, pt) {
  const r = typeof remote === "string" ? parse(remote) : remote;
  const wall = Math.max(pt, last.wall, r.wall);
  let counter;
  if (wall === last.wall && wall === r.wall) counter = Math.max(last.counter, r.counter) + 1;
  else if (wall === last.wall) counter = last.counter + 1;
  else if (wall === r.wall) counter = r.counter + 1;
  else counter = 0;
  return carry(wall, counter);
}

function next(stamp) {
  return carry(stamp.wall, stamp.counter + 1);
}

/** Re-stamp pending changes after a `clock_skew` refusal (docs/protocol.md, "Clock skew").
 * `stamps`: the pending changes' hlc strings in outbox order; `delta`: the offset correction
 * (new offset - old offset); `confirmed`: the greatest stamp the server accepted from us.
 * Each wall moves by delta but never past serverTimeMs, and every stamp stays above the
 * previous one and above `confirmed`. Returns {stamps, last}. */
export function restamp(stamps, delta, serverTimeMs, confirmed) {
  let prev = typeof confirmed === "string" ? parse(confirmed) : confirmed || { wall: 0, counter: 0 };
  const out = [];
  for (const text of stamps) {
    const old = parse(text);
    const wall = Math.min(old.wall + delta, serverTimeMs);
    prev = wall > prev.wall ? { wall, counter: 0 } : next(prev);
    out.push(format(prev));
  }
  return { stamps: out, last: prev };
}

/** A clock with state {last, offset}, on an injectable wall clock (ms). */
export class HybridClock {
  constructor(state = {}, wall = () => Date.now()) {
    this.last = state.last ? (typeof state.last === "string" ? parse(state.last) : state.last) : { wall: 0, counter: 0 };
    this.offset = state.offset || 0;
    this.wall = wall;
  }

  physical() {
    return this.wall() + this.offset;
  }

  tick() {
    this.last = tick(this.last, this.physical());
    return format(this.last);
  }

  observe(remote) {
    this.last = observe(this.last, remote, this.physical());
    return format(this.last);
  }

  state() {
    return { last: format(this.last), offset: this.offset };
  }
}
