// The briefing screen: MapLibre (loaded on demand from this server) with the station's
// vector tiles (cached offline by the service worker), named streets, hot cells and the
// officer's own incidents; the sector's hotspot list; the station's notices (js/notices.js
// replaces the placeholder with their card).
// Also used to pick an incident's location on the map.

import { areaTiles, briefing, FONT, sectorHotspots, sectorName, STREETS_MINZOOM } from "../briefing.js";
import { bounds as boundsOf, centre, contains } from "../geo.js";
import { t, when } from "../i18n.js";
import { setTileBudget, tileUsage } from "../swclient.js";
import { h, screen } from "./dom.js";

const HOT = ["match", ["get", "gi_bin"], 3, "#b2182b", 2, "#ef8a62", 1, "#fddbc7", "#cccccc"];
let loading = null;

function loadMapLibre() {
  if (globalThis.maplibregl) return Promise.resolve(globalThis.maplibregl);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const css = h("link", { rel: "stylesheet", href: "/vendor/maplibre/maplibre-gl.css" });
      const js = h("script", { src: "/vendor/maplibre/maplibre-gl.js" });
      js.onload = () => resolve(globalThis.maplibregl);
      js.onerror = () => {
        loading = null;
        reject(new Error("maplibre"));
      };
      document.head.append(css, js);
    });
  }
  return loading;
}

function tileFetcher(app) {
  // Tiles go through the page's fetch (so the service worker caches them) with the token.
  return async (params, abort) => {
    const url = params.url.replace(/^ronda:\/\//, "/");
    const r = await fetch(url, { headers: { Authorization: `Bearer ${app.vault.get("token")}` }, signal: abort.signal });
    if (r.status === 204 || r.status === 404) return { data: new ArrayBuffer(0) };
    if (!r.ok) throw new Error(`tile ${r.status}`);
    return { data: await r.arrayBuffer() };
  };
}

/** The name of the sector a hot cell lies in (its centre), or the cell id. */
function sectorOf(b, cell) {
  const c = centre(cell.geometry);
  const sector = b.sectors.find((s) => contains(s.geometry, c));
  return sector ? sector.properties.name || sector.properties.code : cell.properties.cell;
}

function mb(bytes) {
  return bytes < 1048576 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

export function briefingScreen(app, { pick = null } = {}) {
  const b = briefing(app);
  const sector = app.patrol.shift?.sector || "";
  const station = sectorHotspots(app, "");
  // A sector with no hot cell shows the station's, saying so.
  const cells = sectorHotspots(app, sector);
  const shown = sector && !cells.length ? station : cells;
  const mapBox = h("div", { class: "map", testid: "briefing-map", role: "region", "aria-label": t("map_title") });
  const usage = h("p", { testid: "tile-cache-usage" }, "…");
  const showUsage = async () => {
    const u = await tileUsage();
    usage.textContent = u ? t("tile_cache", { used: mb(u.used), budget: mb(u.budget) }) : "";
    usage.dataset.used = u?.used ?? "";
    usage.dataset.budget = u?.budget ?? "";
  };
  const download = h("button", {
    class: "secondary", testid: "briefing-download",
    onclick: async () => {
      const urls = areaTiles(app);
      const token = app.vault.get("token");
      download.disabled = true;
      let done = 0;
      for (let i = 0; i < urls.length; i += 6) {
        await Promise.all(urls.slice(i, i + 6).map((u) => fetch(u, { headers: { Authorization: `Bearer ${token}` } }).catch(() => null)));
        done = Math.min(urls.length, i + 6);
        usage.textContent = t("downloading", { done, total: urls.length });
      }
      download.disabled = false;
      showUsage();
    },
  }, t("download_area"));
  const list = h("ol", { class: "hotspots", testid: "hotspot-list" },
    shown.length ? shown.slice(0, 20).map((f) => h("li", { testid: "hotspot-item", dataset: { cell: f.properties.cell, bin: f.properties.gi_bin } },
      h("b", {}, `${t("hot")} ${f.properties.gi_bin === 3 ? "99" : f.properties.gi_bin === 2 ? "95" : "90"} %`),
      ` · ${t("n_incidents", { n: f.properties.count })} · ${sectorOf(b, f)}`))
      : h("li", { testid: "hotspots-empty" }, t("no_hotspots")));
  const body = pick
    ? [h("p", { class: "hint", testid: "pick-hint" }, t("tap_map")), mapBox,
      h("div", { class: "actions" }, h("button", { class: "secondary", testid: "pick-cancel", onclick: () => pick(null) }, t("cancel")))]
    : [
      mapBox,
      h("h2", { testid: "hotspots-scope", dataset: { sector: shown === cells ? sector : "" } }, `${t("hotspots")} · ${shown === cells && sector ? sectorName(app, sector) : t("any_sector")}`),
      h("p", { class: "muted", testid: "briefing-updated" }, `${t("updated")}: ${when(b.fetched_ms)}`),
      list,
      h("h2", {}, t("notices")),
      h("p", { class: "muted", testid: "notices-placeholder" }, t("notices_placeholder")),
      usage,
      h("div", { class: "actions" }, download),
    ];
  setTimeout(() => drawMap(app, mapBox, shown, pick), 0);
  mapBox.addEventListener("map-idle", () => showUsage());
  if (!pick) app.vault.meta("settings", {}).then((s) => setTileBudget((s.tileBudgetMb || 25) * 1048576)).then(showUsage);
  return screen(pick ? "pick" : "briefing", h("h1", {}, t(pick ? "pick_on_map" : "map_title")), ...body);
}

async function drawMap(app, box, cells, pick) {
  let gl;
  try {
    gl = await loadMapLibre();
  } catch {
    box.append(h("p", { class: "error", testid: "map-unavailable" }, t("map_unavailable")));
    return;
  }
  if (!box.isConnected) return;
  if (!drawMap.protocol) {
    gl.addProtocol("ronda", tileFetcher(app));
    drawMap.protocol = true;
  }
  const b = briefing(app);
  const vector = (layer, minzoom = 0) => ({ type: "vector", tiles: [`ronda://tiles/${layer}/{z}/{x}/{y}.mvt`], minzoom, maxzoom: 16 });
  // Incidents not yet on the server (the vector tiles show the rest).
  const mine = app.outbox.incidents().filter((v) => v.pending && v.fields.location).map((v) => ({
    type: "Feature", properties: { id: v.id, category: v.fields.category }, geometry: { type: "Point", coordinates: [v.fields.location.lon, v.fields.location.lat] },
  }));
  const fix = app.patrol.lastFix;
  const bounds = boundsOf(b.sectors) || [-77.2, -12.3, -76.8, -11.7];
  const map = new gl.Map({
    container: box,
    style: {
      version: 8,
      // Street names need glyphs: the service worker keeps the font's ranges with the app.
      glyphs: `${location.origin}/glyphs/{fontstack}/{range}.pbf`,
      sources: {
        districts: vector("districts"), sectors: vector("sectors"), stations: vector("stations"), incidents: vector("incidents"),
        streets: vector("streets", STREETS_MINZOOM),
        hot: { type: "geojson", data: { type: "FeatureCollection", features: cells } },
        mine: { type: "geojson", data: { type: "FeatureCollection", features: mine } },
        me: { type: "geojson", data: { type: "FeatureCollection", features: fix ? [{ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [fix.lon, fix.lat] } }] : [] } },
      },
      layers: [
        { id: "bg", type: "background", paint: { "background-color": "#f4f1ea" } },
        // Streets, so that an officer picking an incident's place sees where it is (a
        // review found a beige square with one sector line at zoom 16).
        { id: "streets", type: "line", source: "streets", "source-layer": "streets",
          paint: { "line-color": "#c9c4b8", "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.5, 16, 3] } },
        { id: "districts", type: "line", source: "districts", "source-layer": "districts", paint: { "line-color": "#6b6355", "line-width": 1.2 } },
        { id: "hot", type: "fill", source: "hot", paint: { "fill-color": HOT, "fill-opacity": 0.75 } },
        { id: "sectors", type: "line", source: "sectors", "source-layer": "sectors", paint: { "line-color": "#0b4f8a", "line-width": 2, "line-dasharray": [3, 2] } },
        { id: "incidents", type: "circle", source: "incidents", "source-layer": "incidents", minzoom: 13, paint: { "circle-radius": 3, "circle-color": "#222", "circle-opacity": 0.5 } },
        { id: "stations", type: "circle", source: "stations", "source-layer": "stations", paint: { "circle-radius": 6, "circle-color": "#0b4f8a" } },
        { id: "mine", type: "circle", source: "mine", paint: { "circle-radius": 7, "circle-color": "#ffb000", "circle-stroke-color": "#000", "circle-stroke-width": 2 } },
        { id: "street-names", type: "symbol", source: "streets", "source-layer": "streets", minzoom: 15,
          layout: {
            "symbol-placement": "line", "symbol-spacing": 320, "text-font": [FONT], "text-max-angle": 35,
            "text-field": ["case", ["to-boolean", ["get", "type"]], ["concat", ["get", "type"], " ", ["get", "name"]], ["get", "name"]],
            "text-size": ["interpolate", ["linear"], ["zoom"], 15, 11, 18, 14],
          },
          paint: { "text-color": "#4a4438", "text-halo-color": "#fbfaf6", "text-halo-width": 1.4 } },
        { id: "me", type: "circle", source: "me", paint: { "circle-radius": 8, "circle-color": "#1565c0", "circle-stroke-color": "#fff", "circle-stroke-width": 3 } },
      ],
    },
    bounds,
    fitBoundsOptions: { padding: 16 },
    attributionControl: false,
  });
  window.rondaMap = map;
  map.on("idle", () => {
    box.dataset.ready = "1";
    box.dispatchEvent(new Event("map-idle"));
  });
  map.on("error", () => {}); // a tile missing offline is not an error for the officer
  if (pick) {
    map.on("click", (ev) => pick({ lon: ev.lngLat.lng, lat: ev.lngLat.lat }));
  }
}

