// The officer's app's Syncer.call (server/static/app/js/sync.js, unchanged) against a real
// server that sheds: two pulls in a row with a budget of one; the second is answered 429 and
// must wait its Retry-After before it goes through. Prints a JSON report for the Python test.
// Usage: node retry_after.mjs BASE_URL TOKEN
import { Syncer } from "../../../server/static/app/js/sync.js";

const [base, token] = process.argv.slice(2);
const vault = { unlocked: true, get: (key, fallback) => (key === "token" ? token : fallback) };
const sleeps = [];
const retryAfter = [];
const syncer = new Syncer(vault, null, {
  onChange: (state) => {
    if (state.retryAt && state.error && state.error.status === 429) retryAfter.push(state.error.retryAfter);
  },
  sleep: (ms) => {
    sleeps.push(ms);
    return new Promise((resolve) => setTimeout(resolve, ms));
  },
});
const statuses = [];
for (let i = 0; i < 2; i += 1) {
  const answer = await syncer.call("GET", `${base}/v1/sync/pull`);
  statuses.push(answer.status);
}
// onChange fires once per retry with the error that caused it.
process.stdout.write(JSON.stringify({ statuses, sleeps, retry_after: retryAfter.slice(0, sleeps.length) }));
