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

// Positions taken while the app is locked: the PIN key is gone, so they are sealed to a
// public key (RSA-OAEP, made at enrollment) whose private half is itself sealed with the PIN
// key. They stay confidential and survive the app being closed before the next unlock.
const OAEP = { name: "RSA-OAEP", hash: "SHA-256" };

export async function newFixKeys() {
  const pair = await subtle().generateKey(
    { ...OAEP, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["encrypt", "decrypt"],
  );
  return {
    publicJwk: await subtle().exportKey("jwk", pair.publicKey),
    privateJwk: await subtle().exportKey("jwk", pair.privateKey),
  };
}

/** Seal a small value (under 190 bytes of JSON) to a public key. */
export async function sealTo(publicJwk, value) {
  const key = await subtle().importKey("jwk", publicJwk, OAEP, false, ["encrypt"]);
  const data = new TextEncoder().encode(JSON.stringify(value));
  return new Uint8Array(await subtle().encrypt(OAEP, key, data));
}

export async function openWith(privateJwk, ct) {
  const key = await subtle().importKey("jwk", privateJwk, OAEP, false, ["decrypt"]);
  return JSON.parse(new TextDecoder().decode(await subtle().decrypt(OAEP, key, ct)));
}
