// Settings: language, idle lock, wipe after N wrong PINs, map space; device info; wipe.

import { KDF_ITERATIONS } from "../crypto.js";
import { getLang, setLang, t } from "../i18n.js";
import { field, h, screen, select, toast } from "./dom.js";

export function settingsScreen(app, settings) {
  const me = app.vault.get("me", {});
  const idle = h("input", { testid: "settings-idle", type: "number", min: 1, max: 240, value: settings.idleMinutes });
  const wipe = h("input", { testid: "settings-wipe-after", type: "number", min: 3, max: 20, value: settings.wipeAfter });
  const budget = h("input", { testid: "settings-tile-budget", type: "number", min: 5, max: 500, value: settings.tileBudgetMb });
  const lang = select("settings-lang", [["es", "Español"], ["en", "English"]], getLang());
  return screen("settings",
    h("h1", {}, t("settings_title")),
    h("form", {
      class: "stack",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const clamp = (x, lo, hi, d) => (Number.isFinite(+x) ? Math.min(hi, Math.max(lo, Math.round(+x))) : d);
        await app.vault.setMeta("settings", {
          idleMinutes: clamp(idle.value, 1, 240, 5), wipeAfter: clamp(wipe.value, 3, 20, 5), tileBudgetMb: clamp(budget.value, 5, 500, 25),
        });
        setLang(lang.value);
        await app.loadSettings();
        app.render();
        toast(t("saved")); // the form looks the same after saving: say that it took
      },
    },
    field("Idioma / Language", lang), field(t("idle_minutes"), idle), field(t("wipe_after"), wipe), field(t("tile_budget"), budget),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", testid: "settings-save" }, t("save")))),
    h("h2", {}, t("device")),
    h("dl", { testid: "device-info" },
      h("dt", {}, t("device")), h("dd", { testid: "device-id" }, `${me.device_id || ""} (${me.device_name || ""})`),
      h("dt", {}, t("officer")), h("dd", {}, me.officer_id || ""),
      h("dt", {}, t("station")), h("dd", {}, me.station_id || ""),
      h("dt", {}, t("storage")), h("dd", {}, t("encrypted", { n: KDF_ITERATIONS.toLocaleString() }))),
    h("div", { class: "row-buttons end" },
      h("button", { class: "secondary", testid: "lock-now", onclick: () => app.lock() }, t("lock")),
      h("button", { class: "danger", testid: "wipe-now", onclick: async () => { if (confirm(t("confirm_wipe"))) await app.wipe("manual"); } }, t("wipe_now"))),
  );
}
