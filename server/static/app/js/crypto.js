// Data at rest: a key derived from the officer's PIN (PBKDF2-SHA256), AES-GCM with a random
// 96-bit IV per record. The key is never extractable and lives in memory only while unlocked.

export const KDF_ITERATIONS = 310000; // OWASP 2023 floor for PBKDF2-HMAC-SHA256
const subtle = () => globalThis.crypto.subtle;

export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** A random id for records, entries and batches: 32 hex characters (matches the protocol's id). */
export function randomId() {
  return Array.from(randomBytes(16), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function deriveKey(pin, salt, iterations = KDF_ITERATIONS) {
  const base = await subtle().importKey("raw", new TextEncoder().encode(pin), "PBKDF2", false, [
    "deriveKey",
  ]);
  return subtle().deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** {iv, ct}: the JSON of `value`, sealed. `aad` binds a record to its place (store/key). */
export async function seal(key, value, aad = "") {
  const iv = randomBytes(12);
  const data = new TextEncoder().encode(JSON.stringify(value));
  const ct = await subtle().encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(aad) },
    key,
    data,
  );
  return { iv, ct: new Uint8Array(ct) };
}

/** The value of a sealed record; throws (OperationError) when the key or record is wrong. */
export async function open(key, sealed, aad = "") {
  const plain = await subtle().decrypt(
    { name: "AES-GCM", iv: sealed.iv, additionalData: new TextEncoder().encode(aad) },
    key,
    sealed.ct,
  );
  return JSON.parse(new TextDecoder().decode(plain));
}
