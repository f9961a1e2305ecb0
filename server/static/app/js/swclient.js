// The page's side of the service worker: registration, "new version ready", tile-cache
// budget and usage.

export async function register(onWaiting) {
  if (!("serviceWorker" in navigator)) return null;
  const reg = await navigator.serviceWorker.register("/app/sw.js", { scope: "/app" });
  const watchInstalling = (worker) => {
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) onWaiting(reg);
    });
  };
  if (reg.waiting && navigator.serviceWorker.controller) onWaiting(reg);
  reg.addEventListener("updatefound", () => watchInstalling(reg.installing));
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (reloading || !window.rondaReloadOnUpdate) return;
    reloading = true;
    location.reload();
  });
  // Look for a new version now and then while the app stays open.
  setInterval(() => reg.update().catch(() => {}), 30 * 60 * 1000);
  return reg;
}

/** Tell the waiting worker to take over; the page reloads on controllerchange. */
export function activateWaiting(reg) {
  window.rondaReloadOnUpdate = true;
  if (reg?.waiting) reg.waiting.postMessage({ type: "skip-waiting" });
  else location.reload();
}

function ask(message) {
  const worker = navigator.serviceWorker?.controller;
  if (!worker) return Promise.resolve(null);
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), 3000);
    channel.port1.onmessage = (ev) => {
      clearTimeout(timer);
      resolve(ev.data);
    };
    worker.postMessage(message, [channel.port2]);
  });
}

/** {used, budget, count} bytes of cached map tiles, or null without a worker. */
export function tileUsage() {
  return ask({ type: "tile-usage" });
}

export function setTileBudget(bytes) {
  return ask({ type: "tile-budget", bytes });
}

export function clearData() {
  return ask({ type: "clear-data" });
}
