// The briefing the officer carries offline: the station's sectors and current hotspot
// cells (OGC API Features with the device token: officers read their own station), kept
// sealed in the vault; the map's vector tiles are cached by the service worker.

import { request } from "./api.js";
import { bounds, centre, contains, tilesFor } from "./geo.js";

export const TILE_LAYERS = ["districts", "sectors", "stations", "incidents", "streets"];
export const STREETS_MINZOOM = 12; // the streets layer's own (server/maps/registry.py)
export const FONT = "DejaVuSans"; // server/static/glyphs, cached with the app (sw.js)

async function items(app, collection) {
  const { data } = await request("GET", `/ogc/collections/${collection}/items?limit=1000`, { token: app.vault.get("token") });
  return data.features || [];
}

/** Fetch sectors and hotspots and keep them (called after a sync, when online). */
export async function refreshBriefing(app) {
  const [sectors, hotspots] = await Promise.all([items(app, "sectors"), items(app, "hotspots")]);
  const value = { sectors, hotspots: hotspots.filter((f) => f.properties?.gi_bin > 0), fetched_ms: Date.now() };
  await app.vault.commit([{ store: "secure", key: "briefing", value }]);
  return value;
}

export function briefing(app) {
  return app.vault.get("briefing", { sectors: [], hotspots: [], fetched_ms: null });
}

export function sectorOptions(app) {
  return briefing(app).sectors.map((f) => [f.properties.code, f.properties.name || f.properties.code]);
}

/** A sector's name for people (the code when the briefing does not hold it). */
export function sectorName(app, code) {
  if (!code) return "";
  const f = briefing(app).sectors.find((s) => s.properties.code === code);
  return f?.properties.name || code;
}

/** Hot cells of one sector (their centre inside it), hottest first; all when no sector. */
export function sectorHotspots(app, sectorCode) {
  const b = briefing(app);
  const sector = b.sectors.find((f) => f.properties.code === sectorCode);
  const cells = sector ? b.hotspots.filter((f) => contains(sector.geometry, centre(f.geometry))) : b.hotspots;
  return [...cells].sort((a, c) => c.properties.gi_bin - a.properties.gi_bin || c.properties.count - a.properties.count);
}

export function stationBounds(app) {
  return bounds(briefing(app).sectors);
}

/** Tile URLs of the station's area for offline use, zoom 12 to 16, at most `max`. */
export function areaTiles(app, max = 800) {
  const b = stationBounds(app);
  if (!b) return [];
  const urls = [];
  for (let z = 11; z <= 16; z++) {
    const layers = TILE_LAYERS.filter((layer) => layer !== "streets" || z >= STREETS_MINZOOM);
    for (const [tz, x, y] of tilesFor(b, z)) for (const layer of layers) urls.push(`/tiles/${layer}/${tz}/${x}/${y}.mvt`);
    if (urls.length > max) break;
  }
  return urls.slice(0, max);
}
