// The officer app's service worker: the app shell offline (cache-first, one versioned cache
// per build), MapLibre from this server, and the station's map tiles within a size budget.
// Protocol data (/v1, /ogc) is never cached here: it lives sealed in IndexedDB.
//
// The server replaces the placeholder below with {"version", "files", "maplibre", "glyphs"}: the
// version hashes every shell file, so any change to the app is a new worker (and the app
// says "new version ready"); nobody has to remember to bump a number.
const BUILD = "__RONDA_BUILD__";
const INFO = typeof BUILD === "object" ? BUILD : { version: "dev", files: ["/app"], maplibre: "none", glyphs: { version: "none", files: [] } };
const SHELL = `ronda-shell-${INFO.version}`;
const MAPLIBRE = `ronda-maplibre-${INFO.maplibre}`;
const GLYPHS = `ronda-glyphs-${INFO.glyphs.version}`; // the street names' font (map labels)
const TILES = "ronda-data-tiles"; // "ronda-data-*" caches are wiped with the phone's data
const INDEX_URL = "/__ronda_tile_index__";
const MAPLIBRE_FILES = ["/vendor/maplibre/maplibre-gl.js", "/vendor/maplibre/maplibre-gl.css"];
let budget = 25 * 1048576;
let index = null; // url -> {bytes, t}: what the tile cache holds, oldest used first out

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const shell = await caches.open(SHELL);
      await shell.addAll(INFO.files.map((url) => new Request(url, { cache: "reload" })));
      // MapLibre is large and changes only with its package: kept in its own cache.
      const lib = await caches.open(MAPLIBRE);
      for (const url of MAPLIBRE_FILES) {
        if (!(await lib.match(url))) await lib.add(url).catch(() => {});
      }
      const font = await caches.open(GLYPHS);
      for (const url of INFO.glyphs.files) {
        if (!(await font.match(url))) await font.add(url).catch(() => {});
      }
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        const old = (name.startsWith("ronda-shell-") && name !== SHELL) || (name.startsWith("ronda-maplibre-") && name !== MAPLIBRE)
          || (name.startsWith("ronda-glyphs-") && name !== GLYPHS);
        if (old) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  const msg = event.data || {};
  const reply = (value) => event.ports[0]?.postMessage(value);
  if (msg.type === "skip-waiting") self.skipWaiting();
  else if (msg.type === "tile-usage") event.waitUntil(usage().then(reply));
  else if (msg.type === "tile-budget") {
    budget = Math.max(1048576, Number(msg.bytes) || budget);
    event.waitUntil(evict().then(usage).then(reply));
  } else if (msg.type === "clear-data") {
    index = new Map();
    event.waitUntil(caches.delete(TILES).then(() => reply({ cleared: true })));
  } else if (msg.type === "version") reply({ version: INFO.version });
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/tiles/") && url.pathname.endsWith(".mvt")) {
    event.respondWith(tile(event, req, url));
  } else if (url.pathname.startsWith("/glyphs/")) {
    event.respondWith(cacheFirst(GLYPHS, req));
  } else if (MAPLIBRE_FILES.includes(url.pathname)) {
    event.respondWith(cacheFirst(MAPLIBRE, req));
  } else if (req.mode === "navigate" && (url.pathname === "/app" || url.pathname.startsWith("/app/"))) {
    event.respondWith(caches.match("/app", { cacheName: SHELL }).then((hit) => hit || fetch(req)));
  } else if (url.pathname.startsWith("/app/") && url.pathname !== "/app/sw.js") {
    event.respondWith(cacheFirst(SHELL, req));
  }
});

async function cacheFirst(name, req) {
  const cache = await caches.open(name);
  const hit = await cache.match(req, { ignoreSearch: true });
  if (hit) return hit;
  const answer = await fetch(req);
  if (answer.ok) cache.put(req, answer.clone());
  return answer;
}

// --- map tiles: stale-while-revalidate, within the budget ---
async function loadIndex(cache) {
  if (index) return index;
  const saved = await cache.match(INDEX_URL);
  index = new Map(saved ? Object.entries(await saved.json()) : []);
  return index;
}

async function saveIndex(cache) {
  await cache.put(INDEX_URL, new Response(JSON.stringify(Object.fromEntries(index)), { headers: { "Content-Type": "application/json" } }));
}

async function tile(event, req, url) {
  const cache = await caches.open(TILES);
  const idx = await loadIndex(cache);
  const key = url.pathname + url.search;
  const hit = await cache.match(key, { ignoreVary: true });
  const refresh = fetch(req)
    .then(async (answer) => {
      if (answer.status !== 200) return answer;
      const bytes = (await answer.clone().arrayBuffer()).byteLength;
      await cache.put(key, answer.clone());
      idx.set(key, { bytes, t: Date.now() });
      await evict();
      return answer;
    });
  if (hit) {
    idx.set(key, { ...(idx.get(key) || { bytes: 0 }), t: Date.now() });
    event.waitUntil(refresh.catch(() => null));
    return hit;
  }
  return refresh.catch(() => new Response(null, { status: 204 })); // offline, never cached: an empty tile
}

async function evict() {
  const cache = await caches.open(TILES);
  const idx = await loadIndex(cache);
  let used = [...idx.values()].reduce((s, e) => s + e.bytes, 0);
  if (used > budget) {
    for (const [key, entry] of [...idx.entries()].sort((a, b) => a[1].t - b[1].t)) {
      if (used <= budget * 0.9) break;
      await cache.delete(key, { ignoreVary: true });
      idx.delete(key);
      used -= entry.bytes;
    }
  }
  await saveIndex(cache);
}

async function usage() {
  const idx = await loadIndex(await caches.open(TILES));
  return { used: [...idx.values()].reduce((s, e) => s + e.bytes, 0), budget, count: idx.size, version: INFO.version };
}
