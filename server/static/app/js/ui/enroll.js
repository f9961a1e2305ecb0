// Enrollment: code from the QR (BarcodeDetector, else the vendored jsQR) or typed; device
// name; PIN twice. The token is stored only sealed with the PIN-derived key.

import { request } from "../api.js";
import { errorText, t } from "../i18n.js";
import { field, h, screen } from "./dom.js";

/** The enrollment code in a QR text: "ronda:enroll?server=...&code=..." or a bare code. */
export function parseQr(text) {
  const raw = String(text || "").trim();
  if (raw.startsWith("ronda:enroll?")) {
    const q = new URLSearchParams(raw.slice("ronda:enroll?".length));
    return { code: q.get("code") || "", server: q.get("server") || null };
  }
  return { code: raw, server: null };
}

async function decoder() {
  if ("BarcodeDetector" in globalThis) {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const d = new BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => (await d.detect(video))[0]?.rawValue || null;
      }
    } catch {
      /* fall through to jsQR */
    }
  }
  if (!globalThis.jsQR) {
    try {
      await new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = "/app/vendor/jsqr/jsQR.js";
        s.onload = resolve;
        s.onerror = reject;
        document.head.append(s);
      });
    } catch {
      return null;
    }
  }
  if (!globalThis.jsQR) return null;
  const canvas = document.createElement("canvas");
  return async (video) => {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    if (!canvas.width) return null;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0);
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return globalThis.jsQR(img.data, img.width, img.height)?.data || null;
  };
}

export function enrollScreen(app) {
  const err = h("p", { class: "error", testid: "enroll-error", role: "alert" });
  const code = h("input", { testid: "enroll-code", autocomplete: "off", autocapitalize: "characters", placeholder: "K7QD-M2XA", required: true });
  const name = h("input", { testid: "enroll-device-name", value: navigator.userAgentData?.platform || "Android", maxlength: 200, required: true });
  const pin = h("input", { testid: "enroll-pin", type: "password", inputmode: "numeric", autocomplete: "new-password", required: true });
  const pin2 = h("input", { testid: "enroll-pin-repeat", type: "password", inputmode: "numeric", autocomplete: "new-password", required: true });
  const video = h("video", { testid: "enroll-video", playsinline: true, muted: true, hidden: true });
  let stream = null;
  const stop = () => {
    stream?.getTracks().forEach((tr) => tr.stop());
    stream = null;
    video.hidden = true;
    scan.textContent = t("scan");
  };
  const useText = (text) => {
    const parsed = parseQr(text);
    code.value = parsed.code;
    let origin = null;
    try {
      origin = parsed.server ? new URL(parsed.server).origin : null;
    } catch {
      origin = "?";
    }
    if (origin && origin !== location.origin) err.textContent = t("other_server", { server: parsed.server });
  };
  const scan = h("button", {
    type: "button", class: "secondary", testid: "enroll-scan",
    onclick: async () => {
      if (stream) return stop();
      const read = await decoder();
      if (!read) return (err.textContent = t("no_decoder"));
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      } catch {
        return (err.textContent = t("no_camera"));
      }
      video.srcObject = stream;
      video.hidden = false;
      scan.textContent = t("stop_scan");
      await video.play();
      const loop = async () => {
        if (!stream) return;
        const text = await read(video).catch(() => null);
        if (text) {
          useText(text);
          stop();
          return;
        }
        requestAnimationFrame(loop);
      };
      loop();
    },
  }, t("scan"));
  const submit = h("button", { type: "submit", class: "primary", testid: "enroll-submit" }, t("enroll"));
  const form = h("form", {
    class: "stack",
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = "";
      if (!/^\d{6,12}$/.test(pin.value)) return (err.textContent = t("pin_short"));
      if (pin.value !== pin2.value) return (err.textContent = t("pins_differ"));
      stop();
      submit.disabled = true;
      submit.textContent = t("enrolling");
      try {
        const { data } = await request("POST", "/v1/enroll", { json: { code: parseQr(code.value).code, device_name: name.value.trim() } });
        await app.enrolled(pin.value, data, name.value.trim());
      } catch (e) {
        err.textContent = e.code === "enrollment_invalid" ? t("enroll_invalid") : e.code ? errorText(e.code) : String(e);
        submit.disabled = false;
        submit.textContent = t("enroll");
      }
    },
  },
  h("p", {}, t("enroll_help")),
  scan, video,
  field(t("code"), code), field(t("device_name"), name), field(t("pin"), pin), field(t("pin_repeat"), pin2),
  err, h("div", { class: "actions" }, submit));
  // A link such as /app/#enroll=ronda:enroll?... (from the QR opened as a URL) fills the code.
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("code");
  if (fromHash) code.value = fromHash;
  return screen("enroll", h("h1", {}, t("enroll_title")), form);
}
