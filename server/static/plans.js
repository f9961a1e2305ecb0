// The patrol plans page (server/templates/plans.html): the chief checks hot cells, gives
// them to a sector, a shift and minutes per cell, and publishes the plan (POST /v1/plans
// with the session's CSRF token). Assignments stay in this page until they are published.

const config = JSON.parse(document.getElementById("plans-config").textContent);
const r = config.texts;
const $ = (id) => document.getElementById(id);
const staged = [];

function csrf() {
  return document.querySelector("form[action='/logout'] input[name=csrf]")?.value || "";
}

function say(text) {
  $("plans-status").textContent = text;
}

function draw() {
  const list = $("staged");
  list.replaceChildren(...staged.map((a, i) => {
    const li = document.createElement("li");
    li.dataset.sector = a.sector;
    li.dataset.shift = a.shift;
    const name = $("sector").querySelector(`option[value="${CSS.escape(a.sector)}"]`)?.textContent || a.sector;
    li.append(`${name} · ${a.shift} h · ${a.minutes} min · ${a.cells.length} ${r.cells.toLowerCase()} `);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = r.remove;
    remove.setAttribute("aria-label", `${r.remove}: ${name} ${a.shift} h`);
    remove.addEventListener("click", () => { staged.splice(i, 1); draw(); });
    li.append(remove);
    return li;
  }));
  $("none-staged").hidden = staged.length > 0;
  $("publish").disabled = staged.length === 0;
}

function add() {
  const cells = [...document.querySelectorAll("#hot-cells input[name=cell]:checked")].map((c) => c.value);
  if (!cells.length) return say(r.pick_cells);
  const assignment = { sector: $("sector").value, shift: $("shift").value, minutes: Number($("minutes").value), cells };
  // One assignment per sector and shift: a second one for the same pair replaces the first.
  const same = staged.findIndex((a) => a.sector === assignment.sector && a.shift === assignment.shift);
  if (same >= 0) staged.splice(same, 1, assignment);
  else staged.push(assignment);
  for (const box of document.querySelectorAll("#hot-cells input[name=cell]:checked")) box.checked = false;
  say("");
  draw();
}

async function publish() {
  const day = $("plan-date").value;
  $("publish").disabled = true;
  const answer = await fetch("/v1/plans", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: JSON.stringify({ date: day, note: $("plan-note").value.trim(), assignments: staged }),
  });
  if (answer.status === 201) {
    const plan = await answer.json();
    location.assign(`/plans?date=${encodeURIComponent(day)}&published=${encodeURIComponent(plan.id)}`);
    return;
  }
  const body = await answer.json().catch(() => ({}));
  say(`${r.failed}: ${body.error?.message || answer.status}`);
  $("publish").disabled = false;
}

if ($("assign-form")) {
  $("add-assignment").addEventListener("click", add);
  $("publish").addEventListener("click", publish);
  if (new URLSearchParams(location.search).get("published")) say(r.published);
  draw();
}
