// The chief's map: MapLibre GL JS from this server, data from this server, no basemap tiles
// from anywhere. Streets (named), sectors, incidents, hotspot cells, density, districts and
// tracks are Ronda's own vector tiles (/tiles, the session cookie; every tile URL carries
// the filters, so a cached tile is always the one of its filters); the panel's counts,
// reasons and keyboard lists come from /web/data/meta/{layer}.json, cut from the same
// tables; emerging hotspots and dosage, which have no tiles, are GeoJSON.
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
  const TILED = new Set(["hotspots", "incidents", "density", "districts", "tracks"]);
  const BASE_TILES = ["streets", "sectors"]; // tiles that do not follow the filters
  const FONT = "DejaVuSans"; // server/static/glyphs, made by scripts/glyphs.py
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
  const shown = {}; // layer -> its last data (GeoJSON) or description (tiled: count, lists)
  const early = window.rondaEarly || {}; // "layer?query" -> a request map_start.js sent
  const tileQuery = {}; // tiled source -> the filters its tile URLs carry
  const tileFailed = {}; // tiled source -> a tile of its current URLs failed
  const tileSeen = {}; // tiled source -> a tile of its current URLs has arrived
  const cleared = {}; // layer -> hidden: failed, offline or refused filters
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
  const zText = (z) => z.toLocaleString(config.lang, { maximumFractionDigits: 2 });
  const layerName = (name) => S["layer_" + name] || config.layer_names[name] || name;

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
    return { params, days, cats: cats.length < all ? cats : null };
  }

  // The tiles' filters for the page's: Lima days as UTC instants (the end inclusive, to the
  // second), categories comma-separated ("none" for none): the same incidents as the page's.
  function instant(day, end) {
    const [y, m, d] = day.split("-").map(Number);
    const ms = Date.UTC(y, m - 1, d) - config.utc_offset_minutes * 60000 + (end ? 86399000 : 0);
    return new Date(ms).toISOString().replace(".000Z", "Z");
  }
  function tileFilters(f) {
    const p = new URLSearchParams({ datetime: `${instant(f.days.since, false)}/${instant(f.days.until, true)}` });
    if (f.cats) p.set("category", f.cats.length ? [...f.cats].sort().join(",") : "none");
    return p.toString();
  }
  const tileUrl = (layer, query) => `ronda://${location.host}/tiles/${layer}/{z}/{x}/{y}.mvt${query ? "?" + query : ""}`;

  // Tiles come through this fetch rather than MapLibre's own, to honour the server's 429
  // "busy" (at a shift change it sheds requests and says in Retry-After when to come back):
  // with MapLibre's own, a shed tile failed its layer (cleared, and the alarm said) until the
  // chief pressed Apply. A tile is asked again at most TILE_RETRIES times; then, and for any
  // other failure, it fails as MapLibre's own fetch fails (an AJAXError: a 404 is no tile).
  const TILE_RETRIES = 3;
  const pause = (ms, signal) => new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
  maplibregl.addProtocol("ronda", async (params, abort) => {
    const url = location.protocol + params.url.slice("ronda:".length);
    for (let attempt = 0; ; attempt++) {
      const answer = await fetch(url, { credentials: "same-origin", signal: abort.signal });
      const wait = answer.headers.get("Retry-After");
      if (answer.status === 429 && attempt < TILE_RETRIES) {
        answer.body?.cancel();
        await pause((/^\d+$/.test(wait || "") ? Number(wait) : 5) * 1000, abort.signal);
        continue;
      }
      if (!answer.ok) throw new maplibregl.AJAXError(answer.status, answer.statusText, url, await answer.blob());
      return { data: await answer.arrayBuffer(), cacheControl: answer.headers.get("Cache-Control"), expires: answer.headers.get("Expires") };
    }
  });

  function layerOn(name) {
    const box = document.querySelector(`#layers input[data-layer="${name}"]`);
    return !!box && box.checked;
  }

  // ---- the map ----------------------------------------------------------------------
  const first = filters();
  const firstTiles = first.params ? tileFilters(first) : "";
  DATA.filter((n) => TILED.has(n)).forEach((n) => { tileQuery[n] = firstTiles; });
  const vector = (layer, query, options) => ({ type: "vector", tiles: [tileUrl(layer, query)], ...options });
  // The first view draws the hotspot cells before anything else: until every hotspot tile
  // has come only the background and the cells are shown, so MapLibre asks for no other
  // tiles or GeoJSON, its one worker decodes the hotspot tiles first and the first frame
  // with data has them (a software-rendered frame costs 50-500 ms here). Then every other
  // layer is asked for while that frame is drawn (release(); refresh() waits for them
  // before it calls the load settled).
  let held = layerOn("hotspots");
  const UNSWITCHED = ["base-districts-fill", "streets", "base-districts-line", "street-names"];
  const BASE_DATA = { "base-districts": "/web/data/base/districts.geojson", "base-stations": "/web/data/base/stations.geojson" };
  const on = (name) => (layerOn(name) && (!held || name === "hotspots") ? "visible" : "none");
  const always = held ? { visibility: "none" } : {};
  let release = () => {}; // replaced below, once the map is built
  const released = new Promise((resolve) => { release = resolve; });
  const hidden = { visibility: "none" };
  const map = new maplibregl.Map({
    container: "map",
    // Everything is in the style from the start, so that MapLibre asks for the first tiles
    // as soon as it runs (no TileJSON round trip: the tile URLs are written here).
    style: {
      version: 8,
      glyphs: `${location.origin}/glyphs/{fontstack}/{range}.pbf`,
      // MapLibre asks for tiles source by source in this order: the hotspots first.
      sources: {
        hotspots: vector("hotspots", firstTiles, { maxzoom: 16 }),
        incidents: vector("incidents", firstTiles, { maxzoom: 16 }),
        "base-districts": { type: "geojson", data: held ? empty : BASE_DATA["base-districts"] },
        "base-stations": { type: "geojson", data: held ? empty : BASE_DATA["base-stations"] },
        streets: vector("streets", "", { minzoom: 12, maxzoom: 16 }),
        sectors: vector("sectors", "", { maxzoom: 14 }),
        density: vector("density", firstTiles, { maxzoom: 15 }),
        districts: vector("districts", firstTiles, { maxzoom: 14 }),
        tracks: vector("tracks", firstTiles, { maxzoom: 16 }),
        emerging: { type: "geojson", data: empty },
        dosage: { type: "geojson", data: empty },
      },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#efece4" } },
        { id: "base-districts-fill", type: "fill", source: "base-districts", layout: always, paint: { "fill-color": "#faf8f2" } },
        { id: "districts", type: "fill", source: "districts", "source-layer": "districts", layout: { visibility: on("districts") },
          paint: { "fill-color": ["interpolate", ["linear"], ["coalesce", ["get", "rate_per_10k"], 0], 0, "#f2f0f7", 20, "#9e9ac8", 60, "#54278f"], "fill-opacity": 0.7 } },
        { id: "streets", type: "line", source: "streets", "source-layer": "streets", layout: always,
          paint: { "line-color": "#c9c4b8", "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.4, 16, 2.5] } },
        { id: "density", type: "fill", source: "density", "source-layer": "density", layout: { visibility: on("density") },
          paint: { "fill-color": ["match", ["get", "class"], 1, "#ffffb2", 2, "#fecc5c", 3, "#fd8d3c", 4, "#f03b20", "#bd0026"], "fill-opacity": 0.6 } },
        { id: "hotspots", type: "fill", source: "hotspots", "source-layer": "hotspots", layout: { visibility: on("hotspots") },
          filter: ["!=", ["get", "gi_bin"], 0], paint: { "fill-color": HOT, "fill-opacity": 0.8 } },
        { id: "emerging", type: "fill", source: "emerging", layout: { visibility: on("emerging") },
          paint: { "fill-color": ["match", ["get", "pattern"], ...Object.entries(PATTERN_COLOURS).flat(), "#999"], "fill-opacity": 0.8 } },
        { id: "dosage", type: "fill", source: "dosage", layout: { visibility: on("dosage") },
          paint: { "fill-color": ["interpolate", ["linear"], ["get", "minutes"], 0, "#edf8e9", 60, "#74c476", 600, "#006d2c"], "fill-opacity": 0.7 } },
        { id: "base-districts-line", type: "line", source: "base-districts", layout: always, paint: { "line-color": "#6b6355", "line-width": 1.2 } },
        { id: "sectors", type: "line", source: "sectors", "source-layer": "sectors", layout: { visibility: on("sectors") },
          paint: { "line-color": "#3b6e9c", "line-width": 0.8, "line-dasharray": [3, 2] } },
        { id: "tracks", type: "line", source: "tracks", "source-layer": "tracks", layout: { visibility: on("tracks") },
          paint: { "line-color": "#1a9850", "line-width": 1.5 } },
        // Below zoom 14 the tiles group incidents in clusters (point_count): bigger dots.
        { id: "incidents", type: "circle", source: "incidents", "source-layer": "incidents", layout: { visibility: on("incidents") },
          paint: {
            "circle-radius": ["interpolate", ["linear"], ["zoom"],
              10, ["case", ["has", "point_count"], ["min", 9, ["+", 1.5, ["sqrt", ["get", "point_count"]]]], 1.5],
              15, ["case", ["has", "point_count"], ["min", 12, ["+", 3, ["sqrt", ["get", "point_count"]]]], 4]],
            "circle-color": "#1d232a", "circle-opacity": 0.55 } },
        { id: "stations", type: "fill", source: "base-stations", layout: { visibility: on("stations") }, paint: { "fill-color": "#000", "fill-opacity": 0 } },
        { id: "stations-line", type: "line", source: "base-stations", layout: { visibility: on("stations") }, paint: { "line-color": "#123a5a", "line-width": 2 } },
        // Names from zoom 15: the first view of a station (about 14.5) is drawn without
        // asking for glyphs (43 KB), a step closer they come (issue 15's 350 KB budget).
        { id: "street-names", type: "symbol", source: "streets", "source-layer": "streets", minzoom: 15,
          layout: {
            ...always,
            "symbol-placement": "line", "symbol-spacing": 320, "text-font": [FONT], "text-max-angle": 35,
            "text-field": ["case", ["to-boolean", ["get", "type"]], ["concat", ["get", "type"], " ", ["get", "name"]], ["get", "name"]],
            "text-size": ["interpolate", ["linear"], ["zoom"], 15, 11, 18, 14],
          },
          paint: { "text-color": "#4a4438", "text-halo-color": "#fbfaf6", "text-halo-width": 1.4 } },
      ],
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
  // Sources can change once the style is in (a frame after the map is built); MapLibre's
  // "load" comes much later, when every first tile, glyph and layer has arrived.
  const whenLoaded = new Promise((resolve) => {
    if (map.isStyleLoaded()) resolve();
    else map.once("style.load", resolve);
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.addControl(new maplibregl.ScaleControl());
  // A tile that fails marks its layer (said and cleared when the load settles); anything
  // else MapLibre reports is a fault of this page, shown in the console as MapLibre would.
  map.on("error", (e) => {
    if (e.sourceId && (TILED.has(e.sourceId) || BASE_TILES.includes(e.sourceId))) {
      tileFailed[e.sourceId] = true;
      if (e.sourceId === "hotspots") release(); // nothing to wait for
      // MapLibre draws no frame for a failed tile, so it would never say "idle" (every
      // tile in) if that was the last one: ask for a frame.
      map.triggerRepaint();
    } else {
      console.error(e.error || e);
    }
  });
  map.on("sourcedata", (e) => {
    if (!e.tile || !e.sourceId) return;
    tileSeen[e.sourceId] = true;
    // every hotspot tile is in: the others may come now, while the cells' frame is drawn
    if (e.sourceId === "hotspots" && map.isSourceLoaded("hotspots")) release();
  });
  watchDrawn(1); // the first load is version 1

  function emergingLegend() {
    const names = config.patterns || {};
    $("emerging-legend").replaceChildren(...Object.entries(PATTERN_COLOURS).map(([name, colour]) =>
      el("div", {}, el("i", { style: `background:${colour}` }), names[name] || name)));
  }

  function applyVisibility() {
    for (const box of document.querySelectorAll("#layers input[data-layer]")) {
      const name = box.dataset.layer;
      const ids = name === "stations" ? ["stations", "stations-line"] : [name];
      const visible = box.checked && !cleared[name] && (!held || name === "hotspots");
      ids.forEach((id) => map.getLayer(id) && map.setLayoutProperty(id, "visibility", visible ? "visible" : "none"));
      document.querySelectorAll(`.legend-block[data-for="${name}"]`).forEach((block) => { block.hidden = !box.checked; });
    }
  }

  // Every other layer of the first view, once the hotspot tiles are in (or cannot come).
  const letGo = release;
  release = () => {
    if (!held) return;
    held = false;
    for (const [name, url] of Object.entries(BASE_DATA)) map.getSource(name).setData(url);
    for (const id of UNSWITCHED) map.setLayoutProperty(id, "visibility", "visible");
    applyVisibility();
    letGo();
  };
  if (!held) release = letGo;

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
  // looking current: GeoJSON emptied, tiles hidden until a load draws them again.
  function clearLayer(name) {
    if (name === "hotspots") release(); // they will not be drawn: show the rest
    if (TILED.has(name)) {
      cleared[name] = true;
      if (map.getLayer(name)) map.setLayoutProperty(name, "visibility", "none");
    } else if (map.getSource(name)) {
      map.getSource(name).setData(empty);
    }
    shown[name] = null;
    loaded[name] = null;
    state.counts[name] = 0;
    markLayer(name, null, true);
  }

  // A tiled source asks for the tiles of new filters (MapLibre drops the old ones); the
  // same filters again reload them when forced (Apply is a retry) or when some failed.
  function setTiles(name, query, force) {
    if (!force && !tileFailed[name] && tileQuery[name] === query) return;
    tileQuery[name] = query;
    tileFailed[name] = false;
    tileSeen[name] = false;
    map.getSource(name).setTiles([tileUrl(name, query)]);
  }

  async function getJSON(url) {
    const pending = early[url];
    delete early[url];
    try {
      const answer = await (pending || fetch(url, { credentials: "same-origin" }));
      if (answer.status === 401) return { expired: true };
      if (!answer.ok) return { failed: true };
      return { data: await answer.json() };
    } catch (err) {
      return { failed: true, offline: true };
    }
  }

  async function fetchLayer(name, params) {
    const url = TILED.has(name) ? `/web/data/meta/${name}.json?${params}` : `/web/data/${name}.geojson?${params}`;
    return { name, ...(await getJSON(url)) };
  }

  function idle() {
    return new Promise((resolve) => { map.once("idle", resolve); map.triggerRepaint(); });
  }

  async function refresh(force) {
    const mine = ++version;
    state.loading = mine;
    const f = filters();
    if (f.error) {
      DATA.forEach(clearLayer);
      state.failed = ["filters"];
      updateLists();
      finish(mine, "error");
      alarm(f.error);
      return;
    }
    shell.dataset.state = "loading";
    $("map").setAttribute("aria-busy", "true");
    say(S.loading_data);
    const key = f.params.toString();
    const tiles = tileFilters(f);
    const todo = DATA.filter((name) => layerOn(name) && loaded[name] !== key);
    const asked = Promise.all(todo.map((name) => fetchLayer(name, f.params)));
    const compare = $("compare").checked ? fetchSummary(f.params) : null;
    await whenLoaded;
    if (mine !== version) return;
    for (const name of todo) if (TILED.has(name)) setTiles(name, tiles, force);
    for (const name of BASE_TILES) if (tileFailed[name]) setTiles(name, "", true);
    if (todo.includes("hotspots") && mine > 1) watchDrawn(mine);
    if (!layerOn("hotspots")) release();
    const answers = await asked;
    const summary = compare ? await compare : undefined;
    performance.mark("ronda:data");
    if (mine !== version) return;
    for (const a of answers) {
      if (!a.data) continue;
      if (!TILED.has(a.name)) map.getSource(a.name).setData(a.data);
      shown[a.name] = a.data;
      state.counts[a.name] = TILED.has(a.name) ? a.data.count : a.data.features.length;
    }
    updateLists();
    await released;
    await idle(); // every tile of the new filters has come (or failed)
    if (mine !== version) return;
    const failed = [];
    let expired = false, offline = false;
    for (const a of answers) {
      if (a.data && !(TILED.has(a.name) && tileFailed[a.name])) {
        cleared[a.name] = false;
        loaded[a.name] = key;
        markLayer(a.name, a.data, false);
      } else {
        clearLayer(a.name);
        failed.push(a.name);
        expired = expired || !!a.expired;
        offline = offline || !!a.offline || !navigator.onLine;
      }
    }
    // Streets have no switch; sectors count when they are on.
    failed.push(...BASE_TILES.filter((n) => tileFailed[n] && (n === "streets" || layerOn(n))));
    applyVisibility();
    if (summary === null) failed.push("summary");
    showComparison(summary);
    state.failed = failed;
    updateCount();
    updateLists();
    updateExports(f.params);
    if (expired) {
      alarm(S.session_expired, { href: "/login?next=/map", text: S.sign_in_again });
    } else if (failed.length) {
      const names = failed.map((n) => (n === "summary" ? S.compare_title : layerName(n))).join(", ");
      alarm(offline && !navigator.onLine ? S.offline : fmt(S.load_failed, { layers: names }));
    } else {
      calm();
    }
    finish(mine, failed.length ? "error" : "ready");
  }

  // #mapshell[data-hotspots-drawn]: the load whose hotspots are on screen (the first frame
  // rendered once a tile of their filters has come and none is still loading; data-ready
  // waits for every layer to settle).
  function watchDrawn(mine) {
    const check = () => {
      if (mine !== version && version !== 0) { map.off("render", check); return; }
      if (!tileSeen.hotspots || !map.isSourceLoaded("hotspots")) return;
      map.off("render", check);
      performance.mark("ronda:hotspots-drawn");
      release();
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
      if (outcome === "ready") say(fmt(S.loaded, { n: state.counts.incidents || 0 }));
      else say("");
    });
    map.triggerRepaint();
  }

  function updateCount() {
    $("shown-count").textContent = String(state.counts.incidents || 0);
    $("shown-note").textContent = S.shown;
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
  function fillList(list, items) {
    list.replaceChildren(...(items.length ? items : [el("li", { className: "note", textContent: S.list_empty })]));
  }

  function updateLists() {
    const hot = layerOn("hotspots") && shown.hotspots ? shown.hotspots.top : [];
    fillList($("hot-list"), hot.map((p) => {
      const text = fmt(S.hot_item, { cls: HOT_NAMES[p.gi_bin], n: p.count, z: zText(p.z) });
      return el("li", {}, el("button", { type: "button", className: "linkish", textContent: text,
        onclick: () => openHotspot(p) }));
    }));
    const recent = layerOn("incidents") && shown.incidents ? shown.incidents.recent : [];
    fillList($("incident-list"), recent.map((p) => {
      const text = `${config.categories[p.category] || p.category} · ${limaTime.format(new Date(p.t * 1000))}`;
      return el("li", {}, el("button", { type: "button", className: "linkish", textContent: text,
        onclick: () => { map.easeTo({ center: [p.lon, p.lat], zoom: Math.max(map.getZoom(), 15) }); showDetail(p.id); } }));
    }));
  }

  function openHotspot(p) {
    map.easeTo({ center: p.center, zoom: Math.max(map.getZoom(), 14) });
    // map_popup.js (the hotspot popup) may listen and say more about the cell
    document.dispatchEvent(new CustomEvent("ronda:hotspot", { detail: { properties: p, center: p.center } }));
    const dl = el("dl");
    for (const [k, v] of [[S.hot_class, HOT_NAMES[p.gi_bin]], [S.count, p.count], [S.z_score, zText(p.z)]]) {
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
  map.on("load", () => performance.mark("ronda:map-load"));
  whenLoaded.then(() => {
    // A single incident opens its detail; a cluster (zoomed out) opens onto its incidents.
    map.on("click", "incidents", (e) => {
      const f = e.features[0];
      if (!f) return;
      if (f.properties.id) showDetail(f.properties.id);
      else map.easeTo({ center: f.geometry.coordinates, zoom: Math.max(map.getZoom() + 1.5, 14.5) });
    });
    map.on("mouseenter", "incidents", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "incidents", () => { map.getCanvas().style.cursor = ""; });
    map.on("moveend", () => { const f = filters(); if (f.params) updateExports(f.params); });
  });
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    DATA.forEach((name) => { loaded[name] = null; }); // Apply reloads everything (a retry)
    refresh(true);
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
