// HTTP to the Ronda server (same origin: the page's CSP allows no other). Every answer that
// is not 2xx becomes an ApiError carrying the protocol's error code; a network failure is
// an ApiError with status 0.

export class ApiError extends Error {
  constructor(status, code, message, details = {}, retryAfter = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** A device whose token the server no longer takes: revoked (or unknown to it). */
export function isRevocation(err) {
  return err instanceof ApiError && err.status === 401 && ["token_revoked", "unauthorized"].includes(err.code);
}

const GZIP_ABOVE = 8192;

async function gzip(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function request(method, path, { token = null, json = undefined, body = undefined, timeoutMs = 30000 } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload = body;
  if (json !== undefined) payload = JSON.stringify(json);
  if (payload !== undefined) {
    headers["Content-Type"] = "application/json";
    if (payload.length > GZIP_ABOVE && globalThis.CompressionStream) {
      payload = await gzip(payload);
      headers["Content-Encoding"] = "gzip";
    }
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, signal: controller.signal, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "offline", String(e?.message || e));
  } finally {
    clearTimeout(timer);
  }
  if (response.ok) {
    return { status: response.status, headers: response.headers, data: await response.json() };
  }
  let err = {};
  try {
    err = (await response.json()).error || {};
  } catch {
    err = {};
  }
  throw new ApiError(
    response.status,
    err.code || (response.status === 429 ? "too_many_requests" : "http_error"),
    err.message || response.statusText,
    err.details || {},
    response.headers.get("Retry-After"),
  );
}
