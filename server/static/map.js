// The chief's map: MapLibre GL JS from this server, data from this server, no basemap tiles
// from anywhere: districts, streets and sectors are drawn from Ronda's own layers.
// Failures are said on the page (role=alert) and stale layers are cleared and marked; empty
// layers say why (the server's "reason"); everything on the map can be reached from lists
// by keyboard. Tests wait on #mapshell[data-ready] (the number of the last drawn load).
"use strict";
(function () {
  performance.mark("ronda:start"); // bench/pages.py prints these marks
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const S = config.strings;
  const shell = document.getElementById("mapshell");
  const DATA = ["hotspots", "incidents", "emerging", "density", "districts", "tracks", "dosage"];
  const HOT_COLOURS = { 3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", "-1": "#d1e5f0", "-2": "#67a9cf", "-3": "#2166ac" };
  const HOT = ["match", ["get", "gi_bin"], ...Object.entries(HOT_COLOURS).flatMap(([k, v]) => [Number(k), v]), "#cccccc"];
  const HOT_NAMES = { 3: S.hot3, 2: S.hot2, 1: S.hot1, "-1": S.cold1, "-2": S.cold2, "-3": S.cold3 };
  const PATTERN_COLOURS = {
    "new hot spot": "#7f0000", "consecutive hot spot": "#b30000", "intensifying hot spot": "#d7301f",
    "persistent hot spot": "#ef6548", "diminishing hot spot": "#fc8d59", "sporadic hot spot": "#fdbb84",
    "oscillating hot spot": "#fdd49e", "historical hot spot": "#fee8c8", "fading hot spot": "#e7e1ef",
  };
  const empty = { type: "FeatureCollection", features: [] };
  const loaded = {}; // layer -> the query its shown data answers (null: nothing valid shown)
  const shown = {}; // layer -> its last data
  const early = {}; // "layer?query" -> the first load's request, sent before the map is built
  let version = 0;
  const state = { ready: 0, counts: {}, loading: 0, failed: [], reasons: {} };
  window.rondaState = state;
  const $ = (id) => document.getElementById(id);
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  const pad = (n) => String(n).padStart(2, "0");
  const dayMonthYear = (iso) => iso.split("-").reverse().join("/");
  const limaTime = new Intl.DateTimeFormat(config.lang === "en" ? "en-GB" : "es-PE", {
    timeZone: "America/Lima", day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const el = (tag, props, ...children) => {
    const node = Object.assign(document.createElement(tag), props || {});
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };

  // ---- messages ---------------------------------------------------------------------
  function say(text) { $("status").textContent = text; }
  function alarm(text, link) {
    const box = $("alert");
    box.replaceChildren(el("span", { textContent: text }));
    if (link) box.append(" ", el("a", { href: link.href, textContent: link.text }));
    box.hidden = false;
  }
  function calm() { $("alert").hidden = true; $("alert").replaceChildren(); }

  // ---- dates: dd/mm/yyyy in the page's language whatever the browser's locale ----------
  function parseDate(text) {
    const s = (text || "").trim();
    let m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
    let y, mo, d;
    if (m) { d = +m[1]; mo = +m[2]; y = +m[3]; }
    else if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s))) { y = +m[1]; mo = +m[2]; d = +m[3]; }
    else return null;
    const t = new Date(Date.UTC(y, mo - 1, d));
    if (y < 1970 || y > 9998 || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
    return `${y}-${pad(mo)}-${pad(d)}`;
  }

  function filters() {
    const form = new FormData($("filters"));
    const params = new URLSearchParams();
    const days = {};
    for (const name of ["since", "until"]) {
      const input = $(name);
      days[name] = parseDate(form.get(name));
      input.setAttribute("aria-invalid", days[name] ? "false" : "true");
      if (!days[name]) return { error: fmt(S.bad_date, { value: form.get(name) || "" }), field: input };
      params.set(name, days[name]);
    }
    if (days.since > days.until) {
      $("since").setAttribute("aria-invalid", "true");
      return { error: S.dates_reversed, field: $("since") };
    }
    const cats = form.getAll("cat");
    const all = document.querySelectorAll('#filters input[name="cat"]').length;
    if (cats.length < all) {
      if (cats.length === 0) params.append("cat", "none");
      cats.forEach((c) => params.append("cat", c));
    }
    return { params, days };
  }

  function layerOn(name) {
    const box = document.querySelector(`#layers input[data-layer="${name}"]`);
    return !!box && box.checked;
  }

  // ---- the map ----------------------------------------------------------------------
  prefetch();
  const map = new maplibregl.Map({
    container: "map",
    style: {
      version: 8,
      sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": "#efece4" } }],
    },
    bounds: config.bounds || [-77.2, -12.3, -76.8, -11.7],
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
    preserveDrawingBuffer: true,
    locale: {
      "NavigationControl.ZoomIn": S.zoom_in,
      "NavigationControl.ZoomOut": S.zoom_out,
      "NavigationControl.ResetBearing": S.reset_bearing,
      "Map.Title": S.map_canvas,
    },
  });
  window.rondaMap = map;
  // The first data is asked for at once, while MapLibre starts, and drawn when it is ready.
  let mapLoaded;
  const whenLoaded = new Promise((resolve) => { mapLoaded = resolve; });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.addControl(new maplibregl.ScaleControl());

  function addBase() {
    for (const name of ["districts", "streets", "sectors", "stations"]) {
      map.addSource("base-" + name, { type: "geojson", data: `/web/data/base/${name}.geojson` });
    }
    DATA.forEach((name) => map.addSource(name, { type: "geojson", data: empty }));
    const add = (layer) => map.addLayer(layer);
    add({ id: "base-districts-fill", type: "fill", source: "base-districts", paint: { "fill-color": "#faf8f2" } });
    add({ id: "districts", type: "fill", source: "districts", layout: { visibility: "none" },
      paint: { "fill-color": ["interpolate", ["linear"], ["coalesce", ["get", "rate"], 0], 0, "#f2f0f7", 20, "#9e9ac8", 60, "#54278f"], "fill-opacity": 0.7 } });
    add({ id: "base-streets", type: "line", source: "base-streets", minzoom: 12,
      paint: { "line-color": "#c9c4b8", "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.4, 16, 2] } });
    add({ id: "density", type: "fill", source: "density", layout: { visibility: "none" },
      paint: { "fill-color": ["interpolate", ["linear"], ["get", "v"], 0, "#ffffb2", 0.5, "#fd8d3c", 1, "#bd0026"], "fill-opacity": 0.6 } });
    add({ id: "hotspots", type: "fill", source: "hotspots", paint: { "fill-color": HOT, "fill-opacity": 0.8 } });
    add({ id: "emerging", type: "fill", source: "emerging", layout: { visibility: "none" },
      paint: { "fill-color": ["match", ["get", "pattern"], ...Object.entries(PATTERN_COLOURS).flat(), "#999"], "fill-opacity": 0.8 } });
    add({ id: "dosage", type: "fill", source: "dosage", layout: { visibility: "none" },
      paint: { "fill-color": ["interpolate", ["linear"], ["get", "minutes"], 0, "#edf8e9", 60, "#74c476", 600, "#006d2c"], "fill-opacity": 0.7 } });
    add({ id: "base-districts-line", type: "line", source: "base-districts", paint: { "line-color": "#6b6355", "line-width": 1.2 } });
    add({ id: "sectors", type: "line", source: "base-sectors", paint: { "line-color": "#3b6e9c", "line-width": 0.8, "line-dasharray": [3, 2] } });
    add({ id: "tracks", type: "line", source: "tracks", layout: { visibility: "none" }, paint: { "line-color": "#1a9850", "line-width": 1.5 } });
    add({ id: "incidents", type: "circle", source: "incidents",
      paint: { "circle-radius": ["interpolate", ["linear"], ["zoom"], 10, 1.5, 15, 4], "circle-color": "#1d232a", "circle-opacity": 0.55 } });
    add({ id: "stations", type: "fill", source: "base-stations", paint: { "fill-color": "#000", "fill-opacity": 0 } });
    add({ id: "stations-line", type: "line", source: "base-stations", paint: { "line-color": "#123a5a", "line-width": 2 } });
  }

  function emergingLegend() {
    const names = config.patterns || {};
    $("emerging-legend").replaceChildren(...Object.entries(PATTERN_COLOURS).map(([name, colour]) =>
      el("div", {}, el("i", { style: `background:${colour}` }), names[name] || name)));
  }

  function applyVisibility() {
    for (const box of document.querySelectorAll("#layers input[data-layer]")) {
      const name = box.dataset.layer;
      const ids = name === "stations" ? ["stations", "stations-line"] : [name];
      ids.forEach((id) => map.getLayer(id) && map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none"));
      document.querySelectorAll(`.legend-block[data-for="${name}"]`).forEach((block) => { block.hidden = !box.checked; });
    }
  }

  function legendBlock(name) { return document.querySelector(`.legend-block[data-for="${name}"]`); }

  function markLayer(name, data, stale) {
    const block = legendBlock(name);
    if (!block) return;
    const badge = block.querySelector(".stale");
    if (badge) badge.hidden = !stale;
    const reason = block.querySelector(".reason");
    const text = data && data.reason ? data.reason.text : "";
    state.reasons[name] = data && data.reason ? data.reason.code : null;
    if (reason) reason.textContent = text;
  }

  // A layer that failed or belongs to refused filters is removed from the map, not left
  // looking current.
  function clearLayer(name) {
    if (map.getSource(name)) map.getSource(name).setData(empty);
    shown[name] = empty;
    loaded[name] = null;
    state.counts[name] = 0;
    markLayer(name, null, true);
  }

  // The first load's requests leave before MapLibre is built (that takes a while on a slow
  // PC); fetchLayer takes them from here when its query is the same.
  function prefetch() {
    const f = filters();
    if (!f.params) return;
    for (const name of DATA.filter(layerOn)) {
      early[`${name}?${f.params}`] = fetch(`/web/data/${name}.geojson?${f.params}`, { credentials: "same-origin" });
    }
  }

  async function fetchLayer(name, params) {
    try {
      const key = `${name}?${params}`;
      const pending = early[key];
      delete early[key];
      const answer = await (pending || fetch(`/web/data/${name}.geojson?${params}`, { credentials: "same-origin" }));
      if (answer.status === 401) return { name, expired: true };
      if (!answer.ok) return { name, failed: true };
      return { name, data: await answer.json() };
    } catch (err) {
      return { name, failed: true, offline: true };
    }
  }

  async function refresh() {
    const mine = ++version;
    state.loading = mine;
    const f = filters();
    if (f.error) {
      DATA.forEach(clearLayer);
      state.failed = ["filters"];
      finish(mine, "error");
      alarm(f.error);
      return;
    }
    shell.dataset.state = "loading";
    $("map").setAttribute("aria-busy", "true");
    say(S.loading_data);
    const key = f.params.toString();
    const todo = DATA.filter((name) => layerOn(name) && loaded[name] !== key);
    const compare = $("compare").checked ? fetchSummary(f.params) : null;
    const answers = await Promise.all(todo.map((name) => fetchLayer(name, f.params)));
    const summary = compare ? await compare : undefined;
    performance.mark("ronda:data");
    await whenLoaded;
    if (mine !== version) return;
    const failed = [];
    let expired = false, offline = false;
    for (const a of answers) {
      if (a.data) {
        map.getSource(a.name).setData(a.data);
        if (a.name === "hotspots") watchDrawn(mine);
        shown[a.name] = a.data;
        loaded[a.name] = key;
        state.counts[a.name] = a.data.features.length;
        markLayer(a.name, a.data, false);
      } else {
        clearLayer(a.name);
        failed.push(a.name);
        expired = expired || !!a.expired;
        offline = offline || !!a.offline;
      }
    }
    if (summary === null) failed.push("summary");
    showComparison(summary);
    state.failed = failed;
    updateCount();
    updateLists();
    updateExports(f.params);
    if (expired) {
      alarm(S.session_expired, { href: "/login?next=/map", text: S.sign_in_again });
    } else if (failed.length) {
      const names = failed.map((n) => S["layer_" + n] || S.compare_title).join(", ");
      alarm(offline && !navigator.onLine ? S.offline : fmt(S.load_failed, { layers: names }));
    } else {
      calm();
    }
    finish(mine, failed.length ? "error" : "ready");
  }

  // #mapshell[data-hotspots-drawn]: the load whose hotspots are on screen (the first frame
  // rendered once their source is loaded; data-ready waits for every layer to settle).
  function watchDrawn(mine) {
    const check = () => {
      if (mine !== version) { map.off("render", check); return; }
      if (!map.isSourceLoaded("hotspots")) return;
      map.off("render", check);
      performance.mark("ronda:hotspots-drawn");
      shell.dataset.hotspotsDrawn = String(mine);
    };
    map.on("render", check);
  }

  function finish(mine, outcome) {
    map.once("idle", () => {
      if (mine !== version) return;
      state.ready = mine;
      shell.dataset.ready = String(mine);
      shell.dataset.state = outcome;
      $("map").setAttribute("aria-busy", "false");
      if (outcome === "ready") say(fmt(S.loaded, { n: (shown.incidents && shown.incidents.total) || 0 }));
      else say("");
    });
    map.triggerRepaint();
  }

  function updateCount() {
    const data = shown.incidents;
    const total = (data && data.total) || 0;
    $("shown-count").textContent = String(total);
    $("shown-note").textContent = data && data.shown < total ? fmt(S.shown_of, { shown: data.shown, total }) : S.shown;
  }

  function updateExports(params) {
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    const p = new URLSearchParams(params);
    p.set("bbox", bbox);
    $("export-csv").href = "/web/export.csv?" + p;
    $("export-gpkg").href = "/web/export.gpkg?" + p;
    $("export-zip").href = "/web/export.zip?" + p; // with the attachments (export_media.py)
  }

  // ---- comparison with the previous period -------------------------------------------
  async function fetchSummary(params) {
    try {
      const answer = await fetch(`/web/data/summary.json?${params}`, { credentials: "same-origin" });
      return answer.ok ? await answer.json() : null;
    } catch (err) {
      return null;
    }
  }

  function change(now, before) {
    const diff = now - before;
    const sign = diff > 0 ? "+" : "";
    return before ? `${sign}${diff} (${sign}${Math.round((diff * 100) / before)} %)` : `${sign}${diff}`;
  }

  function showComparison(summary) {
    const box = $("comparison");
    if (!summary) { box.hidden = true; return; }
    const { period, previous } = summary;
    $("cmp-now").textContent = `${S.this_period} (${dayMonthYear(period.since)}–${dayMonthYear(period.until)})`;
    $("cmp-before").textContent = `${S.previous_period} (${dayMonthYear(previous.since)}–${dayMonthYear(previous.until)})`;
    const cats = [...new Set([...Object.keys(period.by_category), ...Object.keys(previous.by_category)])].sort();
    const row = (name, now, before, head) => el("tr", {},
      el(head ? "th" : "td", head ? { scope: "row" } : {}, name),
      el("td", { className: "n" }, String(now)), el("td", { className: "n" }, String(before)),
      el("td", { className: "n" }, change(now, before)));
    $("comparison-rows").replaceChildren(
      ...cats.map((c) => row(config.categories[c] || c, period.by_category[c] || 0, previous.by_category[c] || 0)),
      row(S.total_row, period.total, previous.total, true));
    box.hidden = false;
  }

  // ---- lists: every hotspot and recent incident reachable by keyboard -----------------
  function centreOf(geometry) {
    const ring = geometry.type === "Polygon" ? geometry.coordinates[0] : [geometry.coordinates];
    const n = ring.length > 1 ? ring.length - 1 : 1;
    let x = 0, y = 0;
    for (let i = 0; i < n; i++) { x += ring[i][0]; y += ring[i][1]; }
    return [x / n, y / n];
  }

  function fillList(list, items) {
    list.replaceChildren(...(items.length ? items : [el("li", { className: "note", textContent: S.list_empty })]));
  }

  function updateLists() {
    const hot = layerOn("hotspots") && shown.hotspots ? shown.hotspots.features : [];
    const top = hot.filter((f) => f.properties.gi_bin > 0)
      .sort((a, b) => b.properties.z - a.properties.z).slice(0, 10);
    fillList($("hot-list"), top.map((f) => {
      const p = f.properties;
      const text = fmt(S.hot_item, { cls: HOT_NAMES[p.gi_bin], n: p.count, z: p.z.toLocaleString(config.lang) });
      return el("li", {}, el("button", { type: "button", className: "linkish", textContent: text,
        onclick: () => openHotspot(f) }));
    }));
    const points = layerOn("incidents") && shown.incidents ? shown.incidents.features : [];
    const recent = [...points].sort((a, b) => b.properties.t - a.properties.t).slice(0, 15);
    fillList($("incident-list"), recent.map((f) => {
      const p = f.properties;
      const text = `${config.categories[p.category] || p.category} · ${limaTime.format(new Date(p.t * 1000))}`;
      return el("li", {}, el("button", { type: "button", className: "linkish", textContent: text,
        onclick: () => { map.easeTo({ center: f.geometry.coordinates, zoom: Math.max(map.getZoom(), 15) }); showDetail(p.id); } }));
    }));
  }

  function openHotspot(feature) {
    const p = feature.properties;
    const centre = centreOf(feature.geometry);
    map.easeTo({ center: centre, zoom: Math.max(map.getZoom(), 14) });
    // map_popup.js (the hotspot popup) may listen and say more about the cell
    document.dispatchEvent(new CustomEvent("ronda:hotspot", { detail: { properties: p, center: centre } }));
    const dl = el("dl");
    for (const [k, v] of [[S.hot_class, HOT_NAMES[p.gi_bin]], [S.count, p.count], [S.z_score, p.z.toLocaleString(config.lang)]]) {
      dl.append(el("dt", { textContent: k }), el("dd", { textContent: String(v) }));
    }
    openDialog(S.hotspot, [dl]);
  }

  // ---- the detail dialog --------------------------------------------------------------
  let returnTo = null;
  function openDialog(title, nodes) {
    const box = $("detail");
    if (box.hidden) returnTo = document.activeElement;
    $("detail-title").textContent = title;
    $("detail-body").replaceChildren(...nodes);
    box.hidden = false;
    $("detail-close").focus();
  }
  function closeDialog() {
    const box = $("detail");
    if (box.hidden) return;
    box.hidden = true;
    const target = returnTo && document.contains(returnTo) && returnTo !== document.body ? returnTo : map.getCanvas();
    returnTo = null;
    target.focus();
  }
  $("detail-close").addEventListener("click", closeDialog);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("detail").hidden) { e.preventDefault(); closeDialog(); } });

  function incidentRows(r) {
    const dl = el("dl");
    const who = r.recorded_by || {};
    const officer = who.officer_name ? `${who.officer_name} (${who.officer_id})` : who.officer_id;
    const device = who.device_name ? `${who.device_name} (${who.device_id})` : who.device_id;
    const rows = [[S.category, r.category], [S.occurred, r.occurred && `${r.occurred} (${S.lima_time})`],
      [S.status, r.status], [S.address, r.address], [S.district, r.district], [S.sector, r.sector],
      [S.station, r.station], [S.recorded_by, device ? `${officer}, ${S.recorded_device} ${device}` : officer]];
    for (const [k, v] of rows) {
      if (v === undefined || v === null || v === "") continue;
      dl.append(el("dt", { textContent: k }), el("dd", { textContent: String(v) }));
    }
    return dl;
  }

  function peopleTable(rows) {
    const head = el("tr", {}, ...[S.people_group, S.person_name, S.person_dni, S.person_role]
      .map((t) => el("th", { scope: "col", textContent: t })));
    const body = rows.map((p) => el("tr", {}, ...[p.group, p.name, p.dni, p.role].map((t) => el("td", { textContent: t }))));
    return el("table", { className: "data compact people" }, el("caption", { textContent: S.people }),
      el("thead", {}, head), el("tbody", {}, ...body));
  }

  async function showDetail(id) {
    let d;
    try {
      const answer = await fetch(`/web/data/incident/${encodeURIComponent(id)}`, { credentials: "same-origin" });
      if (!answer.ok) throw new Error(String(answer.status));
      d = await answer.json();
    } catch (err) {
      alarm(fmt(S.load_failed, { layers: S.incident }));
      return null;
    }
    const nodes = [incidentRows(d.readable || {})];
    if (d.people && d.people.length) {
      nodes.push(peopleTable(d.people), el("p", { className: "note", textContent: S.pii_audited }));
    } else if (!d.pii_allowed) {
      nodes.push(el("p", { className: "note", textContent: S.no_pii }));
    }
    openDialog(S.incident, nodes);
    document.dispatchEvent(new CustomEvent("ronda:incident", { detail: d })); // detail_media.js
    return d; // the caller may need it too: each fetch of a detail is one audited view
  }

  window.rondaShowDetail = showDetail; // map_popup.js opens /map?incident=<id> (conflict review)

  // ---- the panel on a phone -----------------------------------------------------------
  function setPanel(open) {
    $("panel-toggle").setAttribute("aria-expanded", String(open));
    $("panel").hidden = !open;
    shell.classList.toggle("panel-closed", !open);
    map.resize();
  }
  $("panel-toggle").addEventListener("click", () => setPanel($("panel").hidden));
  if (window.matchMedia("(max-width: 700px)").matches) setPanel(false);

  // ---- wiring -------------------------------------------------------------------------
  emergingLegend();
  map.on("load", () => {
    addBase();
    applyVisibility();
    performance.mark("ronda:map-load");
    mapLoaded();
    map.on("click", "incidents", (e) => e.features.length && showDetail(e.features[0].properties.id));
    map.on("mouseenter", "incidents", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "incidents", () => { map.getCanvas().style.cursor = ""; });
    map.on("moveend", () => { const f = filters(); if (f.params) updateExports(f.params); });
  });
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    DATA.forEach((name) => { loaded[name] = null; }); // Apply reloads everything (a retry)
    refresh();
  });
  $("compare").addEventListener("change", () => { if (!$("compare").checked) showComparison(null); refresh(); });
  document.querySelectorAll("button[data-preset]").forEach((button) => button.addEventListener("click", () => {
    const [since, until] = config.presets[button.dataset.preset];
    $("since").value = dayMonthYear(since);
    $("until").value = dayMonthYear(until);
    refresh();
  }));
  document.querySelectorAll("#layers input[data-layer]").forEach((box) =>
    box.addEventListener("change", () => { applyVisibility(); refresh(); }));
  window.addEventListener("offline", () => {
    DATA.forEach(clearLayer);
    updateLists();
    alarm(S.offline);
    shell.dataset.state = "error";
  });
  window.addEventListener("online", () => { calm(); refresh(); });
  refresh();
})();
