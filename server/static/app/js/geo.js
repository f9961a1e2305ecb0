// Positions and shapes, pure: thinning GPS fixes, distances, point in polygon, bounds.

export const THIN = { minMs: 10000, maxMs: 120000, minMeters: 50, maxAccuracy: 250 };

/** Metres between two {lon, lat} (haversine). */
export function distance(a, b) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
}

/** Keep a fix as a patrol position? Not more often than every minMs; then when it moved
 * minMeters (beyond the fixes' accuracy) or maxMs passed. Poor fixes are dropped. */
export function keepFix(last, fix, opts = THIN) {
  if (fix.accuracy > opts.maxAccuracy) return false;
  if (!last) return true;
  const dt = fix.time - last.time;
  if (dt < opts.minMs) return false;
  if (dt >= opts.maxMs) return true;
  return distance(last, fix) >= Math.max(opts.minMeters, fix.accuracy);
}

/** Integer micro-degrees, as patrol-log bodies carry them. */
export function e6(value) {
  return Math.round(value * 1e6);
}

function inRing(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Is [lon, lat] inside a GeoJSON Polygon or MultiPolygon geometry? */
export function contains(geometry, [x, y]) {
  const polys = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  return polys.some(([outer, ...holes]) => inRing(outer, x, y) && !holes.some((h) => inRing(h, x, y)));
}

/** The mean of a polygon's outer ring: good enough for a hexagon's centre. */
export function centre(geometry) {
  const ring = geometry.type === "Polygon" ? geometry.coordinates[0] : geometry.coordinates[0][0];
  const pts = ring.slice(0, -1);
  return [pts.reduce((s, p) => s + p[0], 0) / pts.length, pts.reduce((s, p) => s + p[1], 0) / pts.length];
}

/** [w, s, e, n] of GeoJSON features. */
export function bounds(features) {
  let b = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (c) => {
    if (typeof c[0] === "number") b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
    else c.forEach(visit);
  };
  features.forEach((f) => f.geometry && visit(f.geometry.coordinates));
  return Number.isFinite(b[0]) ? b : null;
}

/** The XYZ tiles covering bounds at zoom z. */
export function tilesFor([w, s, e, n], z) {
  const x = (lon) => Math.floor(((lon + 180) / 360) * 2 ** z);
  const y = (lat) => {
    const r = (lat * Math.PI) / 180;
    return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
  };
  const out = [];
  for (let tx = x(w); tx <= x(e); tx++) for (let ty = y(n); ty <= y(s); ty++) out.push([z, tx, ty]);
  return out;
}

/** Watch the phone's position; calls onFix({lon, lat, accuracy, time}). Returns a stop(). */
export function watch(onFix, onError) {
  if (!navigator.geolocation) {
    onError?.({ code: "unsupported" });
    return () => {};
  }
  const id = navigator.geolocation.watchPosition(
    (p) => onFix({ lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy, time: p.timestamp || Date.now() }),
    (e) => onError?.(e),
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 60000 },
  );
  return () => navigator.geolocation.clearWatch(id);
}

/** One fix now (for an incident's location). */
export function fixOnce(timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(new Error("unsupported"));
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy, time: p.timestamp }),
      reject,
      { enableHighAccuracy: true, maximumAge: 10000, timeout: timeoutMs },
    );
  });
}
