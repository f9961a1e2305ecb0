// The hotspot pop-up and the "top places" list of the chief's map (issue 15, item 5).
// Hooks into map.js from outside: window.rondaMap (the MapLibre map), the "ronda:hotspot"
// event map.js sends when a hotspot is opened from its list, the #detail dialog, and
// #mapshell[data-ready] (bumped after every drawn load). Data: /web/data/hotspot.json,
// /web/data/top_places.json; the printable briefing is /briefing with the same filters.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("map-config").textContent);
  const S = config.strings;
  const lang = config.lang || document.documentElement.lang || "es";
  let words = null; // the server's labels (server/web/review_text.py), from the first answer
  let asked = 0;
  const el = (tag, props, ...children) => {
    const node = Object.assign(document.createElement(tag), props || {});
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };
  const pad = (n) => String(n).padStart(2, "0");

  function isoDay(text) {
    const s = (text || "").trim();
    let m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
    if (m) return `${m[3]}-${pad(m[2])}-${pad(m[1])}`;
    m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
    return m ? s : null;
  }

  // The map's filters as the server reads them (map.js keeps the same rules).
  function filters() {
    const params = new URLSearchParams();
    for (const name of ["since", "until"]) {
      const day = isoDay($(name) && $(name).value);
      if (!day) return null;
      params.set(name, day);
    }
    const boxes = [...document.querySelectorAll('#filters input[name="cat"]')];
    const cats = boxes.filter((b) => b.checked).map((b) => b.value);
    if (cats.length < boxes.length) {
      if (cats.length === 0) params.append("cat", "none");
      cats.forEach((c) => params.append("cat", c));
    }
    return params;
  }

  const dayMonthYear = (iso) => iso.split("-").reverse().join("/");
  function changeText(p) {
    const sign = p.change > 0 ? "+" : "";
    return p.change_pct === null ? `${sign}${p.change}` : `${sign}${p.change} (${sign}${p.change_pct} %)`;
  }

  function factsList(p, period) {
    const w = words;
    const dl = el("dl", { className: "hotspot-facts" });
    const before = `${p.previous_count} (${dayMonthYear(period.previous.since)}–${dayMonthYear(period.previous.until)})`;
    const rows = [
      [w.class, p.class], [w.count, String(p.count)], [w.z, p.z.toLocaleString(lang)],
      [w.change, changeText(p)], [w.previous, before],
      [w.streets, p.streets.length ? p.streets.join(", ") : w.no_streets],
      [w.sector, p.sector ? p.sector.name : "—"],
    ];
    for (const [k, v] of rows) dl.append(el("dt", { textContent: k }), el("dd", { textContent: v }));
    return dl;
  }

  function briefingLink() {
    const params = filters();
    return el("a", { href: "/briefing?" + (params || ""), className: "button briefing-link",
      textContent: words ? words.open_briefing : "Informe" });
  }

  async function getJSON(url) {
    const answer = await fetch(url, { credentials: "same-origin" });
    if (answer.status === 404) return { missing: true };
    if (!answer.ok) throw new Error(String(answer.status));
    return answer.json();
  }

  function openDialog(title, nodes) {
    $("detail-title").textContent = title;
    $("detail-body").replaceChildren(...nodes);
    $("detail").hidden = false;
    $("detail-close").focus();
  }

  // The cell's facts, put in the open dialog (replacing what was there before of ours).
  async function describe(lngLat, replace) {
    const params = filters();
    if (!params) return;
    params.set("lon", lngLat[0].toFixed(6));
    params.set("lat", lngLat[1].toFixed(6));
    const mine = ++asked;
    const section = el("section", { id: "hotspot-more", "aria-live": "polite" },
      el("p", { className: "note", textContent: S.loading_data || S.loading }));
    if (replace) openDialog(S.hotspot, [section]);
    else { const old = $("hotspot-more"); if (old) old.remove(); $("detail-body").append(section); }
    let p;
    try {
      p = await getJSON("/web/data/hotspot.json?" + params);
    } catch (err) {
      if (mine === asked) section.replaceChildren(el("p", { className: "note", textContent: S.load_failed ? S.load_failed.replace("{layers}", S.hotspot) : "!" }));
      return;
    }
    if (mine !== asked) return;
    if (p.missing) { section.replaceChildren(el("p", { className: "note", textContent: S.list_empty || "—" })); return; }
    words = p.labels;
    section.replaceChildren(factsList(p, p.period), briefingLink());
    section.dataset.cell = p.cell;
  }

  // ---- the "top places" list in the panel -----------------------------------------------
  function placesSection() {
    let box = $("top-places");
    if (box) return box;
    box = el("section", { id: "top-places", "aria-labelledby": "top-places-title" },
      el("h2", { id: "top-places-title", textContent: "…" }),
      el("ol", { id: "top-places-list", className: "picklist" }),
      el("p", { id: "top-places-link" }));
    const lists = $("lists");
    if (lists) lists.after(box); else $("panel").append(box);
    return box;
  }

  let placesFor = null; // the filters the list shows (a layer toggled changes none of it)
  let placesAsked = 0;
  async function loadPlaces() {
    const params = filters();
    if (!params || params.toString() === placesFor) return;
    placesFor = params.toString();
    const mine = ++placesAsked;
    let answer;
    try {
      answer = await getJSON("/web/data/top_places.json?" + params);
    } catch (err) {
      if (mine === placesAsked) placesFor = null; // map.js says what failed; asked again later
      return;
    }
    if (answer.missing || mine !== placesAsked) return;
    words = answer.labels;
    const box = placesSection();
    box.querySelector("h2").textContent = words.top_places;
    const items = answer.places.map((p) => {
      const streets = p.streets.length ? p.streets.slice(0, 2).join(" / ") : words.no_streets;
      const label = `${streets} · ${p.count} (${changeText(p)})`;
      return el("li", {}, el("button", { type: "button", className: "linkish", textContent: label,
        onclick: () => {
          window.rondaMap.easeTo({ center: p.center, zoom: Math.max(window.rondaMap.getZoom(), 14) });
          describe(p.center, true);
        } }));
    });
    $("top-places-list").replaceChildren(...(items.length ? items : [el("li", { className: "note", textContent: words.no_places })]));
    $("top-places-link").replaceChildren(briefingLink());
    box.dataset.ready = String(Number(box.dataset.ready || 0) + 1);
  }

  // ---- wiring -------------------------------------------------------------------------
  function wire(map) {
    map.on("click", "hotspots", (e) => {
      // An incident under the pointer wins: map.js opens its detail.
      if (map.getLayer("incidents") && map.queryRenderedFeatures(e.point, { layers: ["incidents"] }).length) return;
      describe([e.lngLat.lng, e.lngLat.lat], true);
    });
    map.on("mouseenter", "hotspots", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "hotspots", () => { map.getCanvas().style.cursor = ""; });
  }
  document.addEventListener("ronda:hotspot", (e) => describe(e.detail.center, false));
  const shell = $("mapshell");
  if (shell) {
    new MutationObserver(() => { if (shell.dataset.state === "ready") loadPlaces(); })
      .observe(shell, { attributes: true, attributeFilter: ["data-ready"] });
  }

  function openIncidentFromLink() {
    const id = new URLSearchParams(location.search).get("incident");
    if (!id || !window.rondaShowDetail) return;
    // One request: the detail the dialog shows also gives the place (a second fetch was a
    // second audited view of the same personal data).
    Promise.resolve(window.rondaShowDetail(id))
      .then((d) => {
        const g = (d && d.derived) || {};
        if (g.lon !== undefined && g.lat !== undefined) window.rondaMap.easeTo({ center: [g.lon, g.lat], zoom: 16 });
      })
      .catch(() => {});
  }

  function start() {
    const map = window.rondaMap;
    if (!map) return;
    if (map.loaded()) { wire(map); openIncidentFromLink(); }
    else map.on("load", () => { wire(map); openIncidentFromLink(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
