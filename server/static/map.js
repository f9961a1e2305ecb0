// The chief's map: MapLibre GL JS from this server, data from this server, no basemap tiles
// from anywhere: districts, streets and sectors are drawn from Ronda's own layers.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const S = config.strings;
  const DATA = ["hotspots", "incidents", "emerging", "density", "districts", "tracks", "dosage"];
  const HOT = ["match", ["get", "gi_bin"], 3, "#b2182b", 2, "#ef8a62", 1, "#fddbc7",
    -1, "#d1e5f0", -2, "#67a9cf", -3, "#2166ac", "#cccccc"];
  const PATTERN_COLOURS = {
    "new hot spot": "#7f0000", "consecutive hot spot": "#b30000", "intensifying hot spot": "#d7301f",
    "persistent hot spot": "#ef6548", "diminishing hot spot": "#fc8d59", "sporadic hot spot": "#fdbb84",
    "oscillating hot spot": "#fdd49e", "historical hot spot": "#fee8c8", "fading hot spot": "#e7e1ef",
  };
  const empty = { type: "FeatureCollection", features: [] };
  let version = 0;
  const state = { ready: 0, counts: {}, loading: 0 };
  window.rondaState = state;

  function filters() {
    const form = new FormData(document.getElementById("filters"));
    const params = new URLSearchParams();
    params.set("since", form.get("since"));
    params.set("until", form.get("until"));
    const cats = form.getAll("cat");
    const all = document.querySelectorAll('#filters input[name="cat"]').length;
    if (cats.length < all) {
      if (cats.length === 0) params.append("cat", "none");
      cats.forEach((c) => params.append("cat", c));
    }
    return params;
  }

  function layerOn(name) {
    const box = document.querySelector(`#layers input[data-layer="${name}"]`);
    return box && box.checked;
  }

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
  });
  window.rondaMap = map;
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
    const legend = document.getElementById("emerging-legend");
    legend.innerHTML = "";
    for (const [name, colour] of Object.entries(PATTERN_COLOURS)) {
      const row = document.createElement("div");
      const swatch = document.createElement("i");
      swatch.style.background = colour;
      row.append(swatch, document.createTextNode(name));
      legend.append(row);
    }
  }

  function applyVisibility() {
    for (const box of document.querySelectorAll("#layers input[data-layer]")) {
      const name = box.dataset.layer;
      const ids = name === "stations" ? ["stations", "stations-line"] : [name];
      ids.forEach((id) => map.getLayer(id) && map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none"));
      document.querySelectorAll(`.legend-block[data-for="${name}"]`).forEach((el) => { el.hidden = !box.checked; });
    }
  }

  async function refresh() {
    const mine = ++version;
    state.loading = mine;
    document.title = S.loading;
    const params = filters();
    const wanted = DATA.filter((name) => layerOn(name) || name === "incidents" || name === "hotspots");
    const answers = await Promise.all(wanted.map(async (name) => {
      const answer = await fetch(`/web/data/${name}.geojson?${params}`, { credentials: "same-origin" });
      return [name, answer.ok ? await answer.json() : empty];
    }));
    if (mine !== version) return;
    for (const [name, data] of answers) {
      map.getSource(name).setData(data);
      state.counts[name] = data.features.length;
    }
    const incidents = answers.find(([n]) => n === "incidents");
    document.getElementById("shown-count").textContent = incidents ? (incidents[1].total ?? 0) : 0;
    updateExports(params);
    map.once("idle", () => {
      if (mine !== version) return;
      state.ready = mine;
      document.title = `ready:${mine} ` + S.title_map;
    });
    map.triggerRepaint();
  }

  function updateExports(params) {
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    const p = new URLSearchParams(params);
    p.set("bbox", bbox);
    document.getElementById("export-csv").href = "/web/export.csv?" + p;
    document.getElementById("export-gpkg").href = "/web/export.gpkg?" + p;
  }

  function showDetail(id) {
    const panel = document.getElementById("detail");
    fetch(`/web/data/incident/${encodeURIComponent(id)}`, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((d) => {
        panel.replaceChildren();
        const close = document.createElement("button");
        close.className = "close"; close.textContent = "×"; close.onclick = () => { panel.hidden = true; };
        const h = document.createElement("h3"); h.textContent = S.incident;
        const dl = document.createElement("dl");
        const f = d.fields || {}, g = d.derived || {};
        const rows = [[S.category, config.categories[f.category] || f.category], [S.occurred, f.occurred_at],
          [S.status, f.status], [S.address, f.address_text], [S.district, g.district], [S.sector, g.sector]];
        for (const [k, v] of rows) {
          if (v === undefined || v === null) continue;
          const dt = document.createElement("dt"); dt.textContent = k;
          const dd = document.createElement("dd"); dd.textContent = String(v);
          dl.append(dt, dd);
        }
        panel.append(close, h, dl);
        const people = document.createElement("div");
        people.id = "detail-pii";
        if (d.pii) {
          const title = document.createElement("h4"); title.textContent = S.people;
          const pre = document.createElement("pre"); pre.textContent = JSON.stringify(d.pii, null, 1);
          const note = document.createElement("p"); note.className = "note"; note.textContent = S.pii_audited;
          people.append(title, pre, note);
        } else if (!d.pii_allowed) {
          const note = document.createElement("p"); note.className = "note"; note.textContent = S.no_pii;
          people.append(note);
        }
        panel.append(people);
        panel.hidden = false;
      });
  }

  map.on("load", () => {
    addBase();
    applyVisibility();
    refresh();
    map.on("click", "incidents", (e) => e.features.length && showDetail(e.features[0].properties.id));
    map.on("mouseenter", "incidents", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "incidents", () => { map.getCanvas().style.cursor = ""; });
    map.on("moveend", () => updateExports(filters()));
  });
  document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  document.querySelectorAll("#layers input[data-layer]").forEach((box) =>
    box.addEventListener("change", () => { applyVisibility(); refresh(); }));
})();
