// The first requests of the chief's map, sent before MapLibre (240 KB) is even parsed: the
// counts and lists of the layers shown at first (/web/data/meta/...), whose answers also
// make the server build the tables the first tiles are cut from. map.js picks these
// requests up by URL (window.rondaEarly) when its first load asks for the same.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const query = new URLSearchParams({ since: config.since, until: config.until });
  const early = {};
  for (const layer of config.first_layers || []) {
    const url = `/web/data/meta/${layer}.json?${query}`;
    early[url] = fetch(url, { credentials: "same-origin" });
    early[url].catch(() => {}); // map.js says what failed, when it asks
  }
  window.rondaEarly = early;
})();
