// Entry point: start the app, register the service worker, offer a waiting new version.

import { App } from "./app.js";
import { t } from "./i18n.js";
import { activateWaiting, register } from "./swclient.js";

const app = new App(document.body);
window.rondaApp = app; // for tests and debugging from the console
app.start().catch((e) => {
  document.body.dataset.error = String(e);
  throw e;
});

register((reg) => {
  const banner = document.querySelector('[data-testid="update-banner"]');
  banner.querySelector("span").textContent = t("update_ready");
  const button = banner.querySelector('[data-testid="update-reload"]');
  button.textContent = t("reload");
  button.onclick = () => activateWaiting(reg);
  banner.hidden = false;
}).catch(() => {});

// Android Chrome offers to install the app; the officer gets a button for it.
addEventListener("beforeinstallprompt", (event) => {
  event.preventDefault();
  const button = document.querySelector('[data-testid="install-app"]');
  button.textContent = t("install");
  button.hidden = false;
  button.onclick = async () => {
    button.hidden = true;
    await event.prompt();
  };
});
