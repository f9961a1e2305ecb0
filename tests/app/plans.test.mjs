// The officer's app counts its own minutes in a plan's cells by the protocol's rule
// (docs/protocol.md, "Dosage against a plan"); expected values worked out by hand.
// Run: node --test tests/app/
import { test } from "node:test";
import assert from "node:assert/strict";

const plans = await import("../../server/static/app/js/plans.js");

// A square "cell" 0.01 degrees wide (about 1.1 km) and a point well outside it.
const CELL = { cell: "89000000000ffff", boundary: [[-77.04, -12.06], [-77.03, -12.06], [-77.03, -12.05], [-77.04, -12.05]] };
const IN = { lon: -77.035, lat: -12.055 };
const NEAR_OUT = { lon: -77.0285, lat: -12.055 }; // 0.0065 degrees east: ~700 m from IN
const ASSIGNMENT = {
  sector: "s1", shift: "14-22", minutes: 10, cells: [CELL],
  starts_at: "2026-12-03T14:00:00-05:00", ends_at: "2026-12-03T22:00:00-05:00",
};
const at = (time, where) => ({ ms: Date.parse(`2026-12-03T${time}-05:00`), ...where });

test("the protocol's worked example: 3 minutes", () => {
  // 15:00 -> 15:01 (60 s), 15:01 -> 15:02:30 (90 s), 15:02:30 -> 15:03 starts inside (30 s;
  // ~700 m in 30 s is 23 m/s, under the cap), then a 10-minute gap (dropped).
  const fixes = [at("15:00:00", IN), at("15:01:00", IN), at("15:02:30", IN), at("15:03:00", NEAR_OUT), at("15:13:00", IN)];
  assert.deepEqual(plans.secondsInCells(ASSIGNMENT, fixes), { [CELL.cell]: 180 });
});

test("a jump faster than 25 m/s, repeated times and times outside the shift count 0", () => {
  const fixes = [
    at("13:59:00", IN), at("14:00:00", IN), // starts before the shift: 0
    at("16:00:00", IN), at("16:00:10", NEAR_OUT), // ~700 m in 10 s: a jump, 0
    at("17:00:00", IN), at("17:00:00", IN), at("17:01:00", IN), // 0, then 60 s
  ];
  assert.deepEqual(plans.secondsInCells(ASSIGNMENT, fixes), { [CELL.cell]: 60 });
});

test("only the assignments whose window holds now, of the shift's sector", () => {
  const plan = { id: "plan-1", seq: 3, assignments: [ASSIGNMENT, { ...ASSIGNMENT, sector: "s2" }] };
  const now = Date.parse("2026-12-03T15:00:00-05:00");
  assert.equal(plans.currentAssignments([plan], now).length, 2);
  assert.deepEqual(plans.currentAssignments([plan], now, "s2").map((a) => a.assignment.sector), ["s2"]);
  assert.equal(plans.currentAssignments([plan], Date.parse("2026-12-03T22:00:00-05:00")).length, 0);
  const records = new Map([["patrol_plans/plan-1", plan], ["patrol_plans/plan-0", { ...plan, id: "plan-0", deleted: true }], ["incidents/x", {}]]);
  assert.deepEqual(plans.pulledPlans(records).map((p) => p.id), ["plan-1"]);
});
