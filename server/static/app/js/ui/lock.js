// The lock screen: PIN, wrong-PIN count, wipe after too many.

import { t } from "../i18n.js";
import { field, h, screen } from "./dom.js";

export function lockScreen(app) {
  const err = h("p", { class: "error", testid: "lock-error", role: "alert" });
  // The wipe loses what was not synced: the officer is told before the try that does it.
  const warn = h("p", { class: "error", testid: "lock-warning", hidden: true });
  const pin = h("input", { testid: "lock-pin", type: "password", inputmode: "numeric", autocomplete: "current-password", autofocus: true });
  const submit = h("button", { type: "submit", class: "primary", testid: "lock-submit" }, t("unlock"));
  const form = h("form", {
    class: "stack",
    onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      submit.textContent = t("unlocking");
      const result = await app.unlock(pin.value);
      if (result.ok) return;
      submit.disabled = false;
      submit.textContent = t("unlock");
      if (result.notPin) return (err.textContent = t("pin_short"));
      pin.value = "";
      if (result.wiped) return app.wiped("pins");
      err.textContent = t("wrong_pin", { n: result.remaining });
      warn.textContent = t("last_try");
      warn.hidden = result.remaining !== 1;
    },
  }, field("PIN", pin), err, warn, h("div", { class: "actions" }, submit));
  return screen("lock", h("h1", {}, t("lock_title")), form);
}

/** After a wipe: why, and a way to enroll again. */
export function wipedScreen(app, reason) {
  const text = reason === "revoked" ? t("revoked_text") : t("wiped_pins");
  return screen(
    "wiped",
    h("h1", {}, reason === "revoked" ? t("revoked_title") : t("wiped_title")),
    h("p", { testid: "wiped-reason", dataset: { reason } }, text),
    h("div", { class: "actions" }, h("button", { class: "primary", testid: "wiped-enroll", onclick: () => app.clearWiped() }, t("enroll_again"))),
  );
}
