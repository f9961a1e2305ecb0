// Evidence attachments in the officer's app (docs/attachments.md, "Client flow"): photos,
// audio and documents attached in the incident form, kept sealed on the phone until the
// server has them, uploaded with tus 1.0.0 after their record's push was acknowledged.
//
// At rest: the bytes sit in the `blobs` store of the app's IndexedDB in 256 KiB chunks, each
// sealed as every other record is (AES-GCM with the PIN key, a random IV per chunk, additional
// data "blobs:<sha256>:<i>"): a victim's photo is never plain on the phone. The queue items are
// vault values (`secure`, key `att:<record id>:<sha256>`), written in the SAME transaction as
// the outbox change that names them; the bytes are written (durably) just before.
//
// Upload: a small tus client of our own (no library: tus-js-client neither sends
// Upload-Checksum nor lets the upload URL live in our sealed store): POST (the Location is
// kept with the queue item at once), PATCH one stored chunk at a time with
// `Upload-Checksum: sha256 …`, HEAD and resume from the server's offset after any failure,
// drop the bytes after the last 204. A closed app, a cut network or a lock resumes later.

import { randomBytes } from "./crypto.js";
import * as idb from "./db.js";
import { getLang } from "./i18n.js";
import { h } from "./ui/dom.js";

export const CHUNK = 256 * 1024; // stored and sent per PATCH: a cut on 2G costs at most this
export const MAX_PER_RECORD = 20;
const TUS = { "Tus-Resumable": "1.0.0" };
const KEEP_SENT = 300; // finished items kept (without bytes) so the incident says "sent"
const PREFIX = "att:";

const TEXT = {
  es: {
    attachments: "Fotos, audio y documentos", photo: "Tomar o elegir foto", audio: "Audio (grabar o elegir)",
    document: "Documento (PDF o imagen)", remove: "Quitar", pii: "Contiene datos personales (víctima, testigo…)",
    none: "Sin adjuntos", refused_type: "{name}: tipo de archivo no admitido (fotos JPEG/PNG/WebP/HEIC, audio M4A/OGG/WAV, video MP4, PDF)",
    too_many: "Como máximo {n} adjuntos por incidente", twice: "{name} ya está adjunto", empty: "{name} está vacío",
    pending: "pendiente", uploading: "subiendo {pct} %", sent: "enviado", refused: "rechazado por el servidor ({code})",
    remote: "registrado en el servidor", photo_alt: "Foto {name}", new_one: "nuevo, se guarda con el incidente",
  },
  en: {
    attachments: "Photos, audio and documents", photo: "Take or choose a photo", audio: "Audio (record or choose)",
    document: "Document (PDF or image)", remove: "Remove", pii: "Holds personal data (victim, witness…)",
    none: "No attachments", refused_type: "{name}: file type not taken (JPEG/PNG/WebP/HEIC photos, M4A/OGG/WAV audio, MP4 video, PDF)",
    too_many: "At most {n} attachments per incident", twice: "{name} is attached already", empty: "{name} is empty",
    pending: "pending", uploading: "uploading {pct} %", sent: "sent", refused: "refused by the server ({code})",
    remote: "recorded on the server", photo_alt: "Photo {name}", new_one: "new, saved with the incident",
  },
};

export function tx(key, vars = {}) {
  const text = (TEXT[getLang()] || TEXT.es)[key] ?? TEXT.es[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

// --- pure helpers (the server's rules, sync/attachments/sniff.py) ---

const HEIC = ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"];
const AUDIO_MP4 = ["M4A ", "M4B ", "M4P "];

/** The media type of bytes starting with `b`, as the server names it; null if not taken. */
export function sniff(b) {
  const at = (i, s) => [...s].every((c, k) => b[i + k] === c.charCodeAt(0));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (at(0, "\x89PNG\r\n\x1a\n")) return "image/png";
  if (at(0, "RIFF") && at(8, "WEBP")) return "image/webp";
  if (at(0, "RIFF") && at(8, "WAVE")) return "audio/wav";
  if (at(0, "%PDF-")) return "application/pdf";
  if (at(0, "OggS")) return "audio/ogg";
  if (at(4, "ftyp")) {
    const brand = String.fromCharCode(...b.slice(8, 12));
    if (HEIC.includes(brand)) return "image/heic";
    if (AUDIO_MP4.includes(brand)) return "audio/mp4";
    return "video/mp4";
  }
  return null;
}

export function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (x) => x.toString(16).padStart(2, "0")).join("");
}

function b64(bytes) {
  let s = "";
  const u = new Uint8Array(bytes);
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
  return btoa(s);
}

/** tus Upload-Metadata: `key base64(utf-8 value)` pairs. */
export function metadata(values) {
  return Object.entries(values).map(([k, v]) => `${k} ${b64(new TextEncoder().encode(v))}`).join(",");
}

/** RFC 3339 in Lima time with its offset (Peru has no daylight saving time). */
export function limaStamp(ms = Date.now()) {
  return new Date(ms - 5 * 3600000).toISOString().replace(/\.\d{3}Z$/, "-05:00");
}

const SHOWN_IMAGES = ["image/jpeg", "image/png", "image/webp"];

// --- the queue and the uploader ---

class UploadError extends Error {
  constructor(status, code, { wait = false, refused = false } = {}) {
    super(`${status} ${code}`);
    this.status = status;
    this.code = code;
    this.wait = wait; // not now (record not on the server yet, daily cap): the next run
    this.refused = refused; // never: the server will not take this file
  }
}

export class Attachments {
  constructor(app) {
    this.app = app;
    this.vault = app.vault;
    this.running = null;
    this.again = false;
    this.active = null; // key of the item being sent
    this.preparing = new Set(); // sha256s whose bytes are being stored by a save
    this.failures = 0;
    this.retryTimer = null;
    this.swept = false;
  }

  key(recordId, sha) {
    return `${PREFIX}${recordId}:${sha}`;
  }

  items() {
    const out = [];
    for (const [k, v] of this.vault.data.secure) if (String(k).startsWith(PREFIX)) out.push(v);
    return out.sort((a, b) => a.added_ms - b.added_ms || (a.sha256 < b.sha256 ? -1 : 1));
  }

  item(recordId, sha) {
    return this.vault.get(this.key(recordId, sha));
  }

  pendingCount() {
    return this.items().filter((i) => i.state === "queued").length;
  }

  /** What the incident shows of one of its attachments: {state, pct, code}. */
  stateOf(recordId, sha) {
    const item = this.item(recordId, sha);
    if (!item) return { state: "remote", pct: null };
    if (item.state === "sent") return { state: "sent", pct: 100 };
    if (item.state === "refused") return { state: "refused", pct: null, code: item.error };
    const pct = Math.floor((100 * (item.offset || 0)) / item.size);
    if (this.active === this.key(recordId, sha) || item.offset > 0) return { state: "uploading", pct };
    return { state: "pending", pct: 0 };
  }

  // --- saving ---
  /** Hash and look at a chosen file: {file, sha256, media_type, size} or {error}. */
  static async inspect(file) {
    if (!file.size) return { error: tx("empty", { name: file.name }) };
    const bytes = new Uint8Array(await file.arrayBuffer());
    const mediaType = sniff(bytes.subarray(0, 64));
    if (!mediaType) return { error: tx("refused_type", { name: file.name }) };
    const sha = hex(await crypto.subtle.digest("SHA-256", bytes));
    return { file, sha256: sha, media_type: mediaType, size: bytes.length, captured_at: limaStamp(file.lastModified || Date.now()) };
  }

  /** Store the chosen files' bytes sealed (durably, before the record is queued); the refs to
   * put in the record and the vault writes of their queue items (for the outbox's commit). */
  async prepare(recordId, chosen) {
    const refs = [];
    const writes = [];
    const blobWrites = [];
    for (const c of chosen) {
      this.preparing.add(c.sha256);
      const bytes = new Uint8Array(await c.file.arrayBuffer());
      for (let i = 0; i * CHUNK < bytes.length; i += 1) {
        const part = bytes.subarray(i * CHUNK, (i + 1) * CHUNK);
        blobWrites.push({ store: "blobs", key: `${c.sha256}:${i}`, value: await this.sealChunk(c.sha256, i, part) });
      }
      const ref = { sha256: c.sha256, media_type: c.media_type, size: c.size, captured_at: c.captured_at };
      if (c.pii) ref.pii = true;
      refs.push(ref);
      const item = {
        sha256: c.sha256, collection: "incidents", record_id: recordId, size: c.size, media_type: c.media_type,
        name: c.file.name || "", chunks: Math.ceil(c.size / CHUNK), location: null, offset: 0, state: "queued",
        added_ms: Date.now(),
      };
      writes.push({ store: "secure", key: this.key(recordId, c.sha256), value: item });
    }
    if (blobWrites.length) await idb.commit(this.vault.db, blobWrites);
    return { refs, writes, shas: chosen.map((c) => c.sha256) };
  }

  /** The save failed after `prepare`: its bytes go (unless another item needs them). */
  async forget(prepared) {
    for (const sha of prepared.shas) this.preparing.delete(sha);
    await this.dropBytes(prepared.shas).catch(() => {});
  }

  /** The save went through: its items are queued; upload once the record is acknowledged. */
  saved(prepared) {
    for (const sha of prepared.shas) this.preparing.delete(sha);
  }

  async sealChunk(sha, i, bytes) {
    const iv = randomBytes(12);
    const ad = new TextEncoder().encode(`blobs:${sha}:${i}`);
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: ad }, this.vault.key, bytes);
    return { iv, ct: new Uint8Array(ct) };
  }

  async openChunk(sha, i) {
    const sealed = await idb.get(this.vault.db, "blobs", `${sha}:${i}`);
    if (!sealed) throw new UploadError(0, "bytes_missing", { refused: true });
    const ad = new TextEncoder().encode(`blobs:${sha}:${i}`);
    return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv, additionalData: ad }, this.vault.key, sealed.ct));
  }

  /** The whole file (for a thumbnail on the phone), or null if its bytes are gone. */
  async blob(item) {
    try {
      const parts = [];
      for (let i = 0; i < item.chunks; i += 1) parts.push(await this.openChunk(item.sha256, i));
      return new Blob(parts, { type: item.media_type });
    } catch {
      return null;
    }
  }

  /** Delete the stored bytes of `shas` that no unsent item (nor a save under way) needs. */
  async dropBytes(shas) {
    const needed = new Set([...this.preparing, ...this.items().filter((i) => i.state === "queued").map((i) => i.sha256)]);
    const drop = new Set(shas.filter((s) => !needed.has(s)));
    if (!drop.size) return;
    const keys = (await blobKeys(this.vault.db)).filter((k) => drop.has(String(k).split(":")[0]));
    if (keys.length) await idb.commit(this.vault.db, keys.map((key) => ({ store: "blobs", key, del: true })));
  }

  /** Bytes left behind by a save that never reached the outbox (the app closed between). */
  async sweep() {
    const keys = await blobKeys(this.vault.db);
    await this.dropBytes([...new Set(keys.map((k) => String(k).split(":")[0]))]);
  }

  // --- uploading ---
  /** Items whose record the server has acknowledged: no change to it is left in the outbox. */
  eligible(skip) {
    const waiting = new Set(this.app.outbox.pending().filter((r) => r.change.collection === "incidents").map((r) => r.change.id));
    return this.items().filter((i) => i.state === "queued" && !waiting.has(i.record_id) && !skip.has(this.key(i.record_id, i.sha256)));
  }

  /** Upload what can go now; one run at a time (a call during a run makes it look again). */
  upload() {
    // Offline, a request can only fail: the `online` event syncs, and the sync calls this.
    if (!this.vault.unlocked || !navigator.onLine) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    clearTimeout(this.retryTimer);
    this.running = this._run().finally(() => {
      this.running = null;
      this.active = null;
      this.show();
      if (this.again) {
        this.again = false;
        this.upload();
      }
    });
    return this.running;
  }

  async _run() {
    if (!this.swept) {
      this.swept = true;
      await this.sweep().catch(() => {});
    }
    const skip = new Set();
    for (;;) {
      if (!this.vault.unlocked) return;
      const [item] = this.eligible(skip);
      if (!item) return;
      const key = this.key(item.record_id, item.sha256);
      this.active = key;
      this.show();
      try {
        await this.send(item);
        this.failures = 0;
      } catch (err) {
        this.lastError = String(err?.message || err); // for the sync screen and debugging
        if (!(err instanceof UploadError)) {
          // Storage or crypto failed (a lock mid-upload closes the key): later, from the offset.
          this.retryLater();
          return;
        }
        if (err.refused) {
          await this.put({ ...this.vault.get(key), state: "refused", error: err.code });
        } else if (err.wait) {
          skip.add(key);
        } else {
          // The network or the server failed: try again later, from the server's offset.
          this.retryLater();
          return;
        }
      }
    }
  }

  retryLater() {
    this.again = false; // a call during the failed run would only fail the same way now
    if (!this.vault.unlocked) return;
    this.failures += 1;
    clearTimeout(this.retryTimer);
    // Offline: the app's `online` handler syncs, and a sync starts the uploads again.
    if (!navigator.onLine) return;
    const wait = Math.min(60000, 1000 * 2 ** Math.min(this.failures, 6));
    // Gone offline meanwhile: the `online` event will start it (a request now would only fail).
    this.retryTimer = setTimeout(() => navigator.onLine && this.upload(), wait);
  }

  async put(item) {
    if (!this.vault.unlocked) throw new UploadError(0, "locked");
    await this.vault.commit([{ store: "secure", key: this.key(item.record_id, item.sha256), value: item }]);
  }

  async call(method, url, headers = {}, body = undefined) {
    const token = this.vault.get("token");
    if (!this.vault.unlocked || !token) throw new UploadError(0, "locked");
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 120000);
    try {
      const answer = await fetch(url, {
        method, body, signal: controller.signal, cache: "no-store",
        headers: { ...TUS, Authorization: `Bearer ${token}`, ...headers },
      });
      // Read to its end: a body left unread is cancelled later (a failed request in the log).
      if (answer.ok) await answer.arrayBuffer();
      return answer;
    } catch {
      throw new UploadError(0, "offline");
    } finally {
      clearTimeout(timer);
    }
  }

  static async failure(answer) {
    let code = "http_error";
    try {
      code = (await answer.json()).error?.code || code;
    } catch {
      code = answer.status === 429 ? "quota_exceeded" : code;
    }
    const s = answer.status;
    if (s === 404 || s === 429 || s === 401) return new UploadError(s, code, { wait: true });
    if (s === 403 || s === 413 || s === 415 || s === 400 || s === 422) return new UploadError(s, code, { refused: true });
    return new UploadError(s, code);
  }

  /** Where the server's copy ends: HEAD on the kept upload, else a new upload (POST). */
  async offset(item) {
    if (item.location) {
      const head = await this.call("HEAD", item.location);
      if (head.status === 200) return { item, offset: Number(head.headers.get("Upload-Offset")) };
      if (head.status !== 404 && head.status !== 410) throw await Attachments.failure(head);
      item = { ...item, location: null, offset: 0 }; // expired or removed: start again
      await this.put(item);
    }
    const created = await this.call("POST", "/v1/uploads", {
      "Upload-Length": String(item.size),
      "Upload-Metadata": metadata({ sha256: item.sha256, collection: item.collection, record_id: item.record_id, filename: item.name || item.sha256 }),
    });
    if (created.status !== 201) throw await Attachments.failure(created);
    // Kept durably before any byte goes: a restart resumes this upload, not a new one.
    item = { ...item, location: created.headers.get("Location"), offset: 0 };
    await this.put(item);
    return { item, offset: Number(created.headers.get("Upload-Offset") || 0) };
  }

  async send(start) {
    let { item, offset } = await this.offset(start);
    while (offset < item.size) {
      const i = Math.floor(offset / CHUNK);
      const part = (await this.openChunk(item.sha256, i)).subarray(offset - i * CHUNK);
      const sum = b64(await crypto.subtle.digest("SHA-256", part));
      const answer = await this.call("PATCH", item.location, {
        "Upload-Offset": String(offset),
        "Content-Type": "application/offset+octet-stream",
        "Upload-Checksum": `sha256 ${sum}`,
      }, part);
      if (answer.status === 204) {
        offset = Number(answer.headers.get("Upload-Offset"));
        item = { ...item, offset };
        await this.put(item); // the progress the incident shows, also after a restart
        this.show();
      } else if ([409, 423, 460].includes(answer.status)) {
        ({ item, offset } = await this.offset(item)); // ask the server where it is
      } else if (answer.status === 404 || answer.status === 410) {
        ({ item, offset } = await this.offset({ ...item, location: null }));
      } else {
        throw await Attachments.failure(answer);
      }
    }
    // Complete: the bytes leave the phone; the item stays (small) so the incident says so.
    await this.put({ ...item, offset: item.size, state: "sent", sent_ms: Date.now() });
    await this.dropBytes([item.sha256]);
    await this.trimSent();
  }

  async trimSent() {
    const sent = this.items().filter((i) => i.state === "sent").sort((a, b) => a.sent_ms - b.sent_ms);
    const old = sent.slice(0, Math.max(0, sent.length - KEEP_SENT));
    if (old.length) await this.vault.commit(old.map((i) => ({ store: "secure", key: this.key(i.record_id, i.sha256), del: true })));
  }

  /** Update the states shown on the screen (no redraw: the officer may be typing). */
  show() {
    for (const el of document.querySelectorAll('[data-testid="att-item"]')) {
      const s = this.stateOf(el.dataset.record, el.dataset.sha);
      el.dataset.state = s.state;
      el.dataset.pct = s.pct ?? "";
      const label = el.querySelector('[data-testid="att-state"]');
      if (label) label.textContent = stateText(s);
    }
  }
}

function stateText(s) {
  if (s.state === "uploading") return tx("uploading", { pct: s.pct });
  if (s.state === "refused") return tx("refused", { code: s.code || "?" });
  return tx(s.state);
}

function blobKeys(db) {
  return new Promise((resolve, reject) => {
    const r = db.transaction("blobs").objectStore("blobs").getAllKeys();
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

// --- the form's control ---

function sizeText(n) {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} kB`;
}

/** The incident form's attachments: the record's (with their upload state) and new files,
 * shown (thumbnails) and removable until the form is saved. `el.read()` gives the refs the
 * record keeps; `el.chosen()` the new files; `el.files` survives a redraw through the draft. */
export function attachmentsField(app, recordId, refs = [], chosen = []) {
  const att = app.attachments;
  const err = h("p", { class: "error", testid: "att-error", role: "alert" });
  const kept = h("ul", { class: "att-list", testid: "att-list" });
  const fresh = h("ul", { class: "att-list", testid: "att-new-list" });
  let files = [...chosen];
  const urls = [];

  const thumb = (blob, name) => {
    const url = URL.createObjectURL(blob);
    urls.push(url);
    return h("img", { class: "att-thumb", src: url, alt: tx("photo_alt", { name }), width: 72, height: 72 });
  };

  for (const ref of refs) {
    const item = recordId ? att.item(recordId, ref.sha256) : null;
    const s = recordId ? att.stateOf(recordId, ref.sha256) : { state: "remote" };
    const name = item?.name || `${ref.sha256.slice(0, 12)}…`;
    const box = h("span", { class: "att-thumb-box" });
    const li = h("li", { class: "att card", testid: "att-item", dataset: { sha: ref.sha256, record: recordId || "", state: s.state, pct: s.pct ?? "" } },
      box,
      h("span", { class: "att-text" }, h("b", {}, name), h("span", { class: "sub" }, `${ref.media_type} · ${sizeText(ref.size)}${ref.pii ? " · pii" : ""}`),
        h("span", { testid: "att-state", class: "att-state" }, stateText(s))));
    // A queued photo is shown from its sealed bytes (opened in memory only).
    if (item && item.state === "queued" && SHOWN_IMAGES.includes(item.media_type)) {
      att.blob(item).then((blob) => blob && box.append(thumb(blob, name)));
    }
    kept.append(li);
  }

  const draw = () => {
    fresh.replaceChildren(...files.map((c) => {
      const pii = h("input", { type: "checkbox", testid: "att-pii", checked: c.pii, onchange: () => (c.pii = pii.checked) });
      return h("li", { class: "att card", testid: "att-new", dataset: { sha: c.sha256, type: c.media_type } },
        SHOWN_IMAGES.includes(c.media_type) ? thumb(c.file, c.file.name) : h("span", { class: "att-thumb-box" }),
        h("span", { class: "att-text" }, h("b", {}, c.file.name || c.media_type),
          h("span", { class: "sub" }, `${c.media_type} · ${sizeText(c.size)} · ${tx("new_one")}`),
          h("label", { class: "check" }, pii, h("span", {}, tx("pii")))),
        h("button", {
          type: "button", class: "secondary", testid: "att-remove", "aria-label": `${tx("remove")} ${c.file.name || c.media_type}`,
          onclick: () => { files = files.filter((x) => x !== c); el.files = files; draw(); },
        }, tx("remove")));
    }));
    el.files = files;
  };

  const add = async (input) => {
    err.textContent = "";
    const problems = [];
    for (const file of [...input.files]) {
      const seen = new Set([...refs.map((r) => r.sha256), ...files.map((c) => c.sha256)]);
      if (seen.size >= MAX_PER_RECORD) { problems.push(tx("too_many", { n: MAX_PER_RECORD })); break; }
      const got = await Attachments.inspect(file);
      if (got.error) problems.push(got.error);
      else if (seen.has(got.sha256)) problems.push(tx("twice", { name: file.name }));
      else files.push({ ...got, pii: true }); // personal data unless the officer says not
    }
    input.value = "";
    err.textContent = problems.join(" · ");
    draw();
  };
  const picker = (testid, label, accept, capture) => {
    const input = h("input", { type: "file", testid, accept, capture, multiple: capture ? null : true, onchange: () => add(input) });
    return h("label", { class: "field" }, h("span", {}, label), input);
  };

  const el = h("fieldset", { class: "attachments", testid: "inc-attachments" },
    h("legend", {}, tx("attachments")),
    refs.length ? kept : h("p", { class: "muted", testid: "att-none" }, tx("none")),
    fresh, err,
    picker("att-photo", tx("photo"), "image/*", "environment"),
    picker("att-audio", tx("audio"), "audio/*", null),
    picker("att-document", tx("document"), "application/pdf,image/*", null));
  el.read = () => refs;
  el.chosen = () => files;
  el.release = () => urls.forEach((u) => URL.revokeObjectURL(u));
  draw();
  return el;
}
