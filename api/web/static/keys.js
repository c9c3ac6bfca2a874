// A member's key in the browser, and its passphrase-sealed backup.
//
// The format is `ledger/key_backup.py`'s (its docstring is the specification): the key file
// `cocred keys new` writes (the private Ed25519 JWK with `kid` and `actor`), as RFC 8785
// canonical JSON, sealed with AES-256-GCM under PBKDF2-HMAC-SHA-256 of the NFC passphrase,
// the associated data being the canonical document without `ciphertext`. Everything is
// WebCrypto; nothing here is hand-written cryptography, and nothing leaves the page.
//
//   newKey()                     a fresh Ed25519 key, extractable once: its key file (JWK)
//   sealBackup(jwk, passphrase)  the backup text to download, before the key is stored
//   openBackup(text, passphrase) {jwk, signingKey}: the key again, now non-extractable
//   keyId(x)                     RFC 7638 thumbprint of the public key: the actor id

import canonicalize from "./vendor/canonicalize/canonicalize.js";

export const FORMAT = "cocred-key-backup/v1";
export const ITERATIONS = 600000;
const MIN_ITERATIONS = 100000;
const MAX_ITERATIONS = 10000000;
const ID = /^[A-Za-z0-9_-]{43}$/;

export class KeyBackupError extends Error {
  constructor(code, detail) {
    super(detail);
    this.code = code; // BadKeyBackup | WrongPassphrase | NoEd25519, as cocred says it
    this.detail = detail;
  }
}

export function b64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(text, length, what) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new KeyBackupError("BadKeyBackup", `${what} must be base64url`);
  }
  const bytes = Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) =>
    c.charCodeAt(0),
  );
  if (length !== undefined && bytes.length !== length) {
    throw new KeyBackupError("BadKeyBackup", `${what} must be ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

const utf8 = (text) => new TextEncoder().encode(text);

/** The RFC 7638 thumbprint of an Ed25519 public key (`x`, base64url): its key id. */
export async function keyId(x) {
  const members = `{"crv":"Ed25519","kty":"OKP","x":"${x}"}`;
  return b64url(await crypto.subtle.digest("SHA-256", utf8(members)));
}

/** A fresh Ed25519 key as the key file a new actor has (its actor id is its key id). */
export async function newKey() {
  let pair;
  try {
    pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  } catch (error) {
    throw new KeyBackupError(
      "NoEd25519",
      "this browser cannot make Ed25519 keys with WebCrypto (Chromium, Firefox 129 or " +
        "later and Safari 17 or later can): use one of those, or the cocred CLI",
    );
  }
  const { crv, kty, x, d } = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const kid = await keyId(x);
  return { crv, kty, x, d, kid, actor: kid };
}

async function aesKey(passphrase, salt, iterations, usage) {
  if (!passphrase) throw new KeyBackupError("BadKeyBackup", "the passphrase is empty");
  const base = await crypto.subtle.importKey(
    "raw", utf8(passphrase.normalize("NFC")), "PBKDF2", false, ["deriveKey"],
  );
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    [usage],
  );
}

/** The backup text of key file `jwk` under `passphrase` (`salt`, `iv` random unless given). */
export async function sealBackup(jwk, passphrase, options = {}) {
  const iterations = options.iterations ?? ITERATIONS;
  const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(16));
  const iv = options.iv ?? crypto.getRandomValues(new Uint8Array(12));
  const header = {
    format: FORMAT,
    actor: jwk.actor,
    kid: jwk.kid,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations, salt: b64url(salt) },
    cipher: { name: "AES-GCM", iv: b64url(iv) },
  };
  const file = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, d: jwk.d, kid: jwk.kid, actor: jwk.actor };
  const key = await aesKey(passphrase, salt, iterations, "encrypt");
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(canonicalize(header)) },
    key,
    utf8(canonicalize(file)),
  );
  return JSON.stringify({ ...header, ciphertext: b64url(sealed) }, null, 2) + "\n";
}

function shape(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new KeyBackupError("BadKeyBackup", `a key backup is JSON: ${error.message}`);
  }
  if (doc === null || typeof doc !== "object" || doc.format !== FORMAT) {
    throw new KeyBackupError("BadKeyBackup", `not a key backup: its format must be '${FORMAT}'`);
  }
  const fields = ["actor", "cipher", "ciphertext", "format", "kdf", "kid"];
  if (Object.keys(doc).sort().join() !== fields.join()) {
    throw new KeyBackupError("BadKeyBackup", `a key backup has exactly the fields ${fields.join(", ")}`);
  }
  const { kdf, cipher } = doc;
  if (!kdf || kdf.name !== "PBKDF2" || kdf.hash !== "SHA-256" || Object.keys(kdf).length !== 4) {
    throw new KeyBackupError("BadKeyBackup", "kdf must be {name: PBKDF2, hash: SHA-256, iterations, salt}");
  }
  if (!cipher || cipher.name !== "AES-GCM" || Object.keys(cipher).length !== 2) {
    throw new KeyBackupError("BadKeyBackup", "cipher must be {name: AES-GCM, iv}");
  }
  const n = kdf.iterations;
  if (!Number.isInteger(n) || n < MIN_ITERATIONS || n > MAX_ITERATIONS) {
    throw new KeyBackupError(
      "BadKeyBackup",
      `kdf iterations must be an integer 100,000-10,000,000, got ${JSON.stringify(n)}`,
    );
  }
  for (const name of ["actor", "kid"]) {
    if (typeof doc[name] !== "string" || !ID.test(doc[name])) {
      throw new KeyBackupError("BadKeyBackup", `${name} must be a 43-character id`);
    }
  }
  return doc;
}

/** The key `text` seals: {jwk, signingKey}, the CryptoKey non-extractable (sign only). */
export async function openBackup(text, passphrase) {
  const doc = shape(text);
  const { ciphertext, ...header } = doc;
  const salt = fromB64url(doc.kdf.salt, 16, "kdf salt");
  const iv = fromB64url(doc.cipher.iv, 12, "cipher iv");
  const sealed = fromB64url(ciphertext, undefined, "ciphertext");
  const key = await aesKey(passphrase, salt, doc.kdf.iterations, "decrypt");
  let plain;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: utf8(canonicalize(header)) },
      key,
      sealed,
    );
  } catch (error) {
    throw new KeyBackupError(
      "WrongPassphrase",
      `this passphrase does not open the key backup of ${doc.actor} (or the file was altered)`,
    );
  }
  const jwk = JSON.parse(new TextDecoder().decode(plain));
  const kid = await keyId(jwk.x);
  if (kid !== doc.kid || jwk.kid !== doc.kid || jwk.actor !== doc.actor) {
    throw new KeyBackupError(
      "BadKeyBackup",
      `the sealed key is ${kid} of ${jwk.actor}, not the ${doc.kid} of ${doc.actor} the backup names`,
    );
  }
  const signingKey = await crypto.subtle.importKey(
    "jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, { name: "Ed25519" }, false, ["sign"],
  );
  return { jwk, signingKey };
}

/** An Ed25519 signature of `bytes` with a (non-extractable) signing key. */
export async function sign(signingKey, bytes) {
  return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, signingKey, bytes));
}

/** The time as envelopes carry it: RFC 3339, UTC, whole seconds. */
export function envelopeTime(date = new Date()) {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A signed envelope (`ledger/envelope.py`'s sign_envelope): the RFC 8785 canonical JSON of
 * every field but `sig`, signed with the member's non-extractable key. */
export async function signEnvelope(signingKey, jwk, type, body, { seq, ts, campaign = null }) {
  const draft = {
    v: 1, type, actor: jwk.actor, key: jwk.kid, seq, ts: ts ?? envelopeTime(), campaign, body,
  };
  const signature = await sign(signingKey, utf8(canonicalize(draft)));
  return { ...draft, sig: b64url(signature) };
}

/** The API's typed sentence of a refused response, error[Code]: detail, as the CLI says it. */
export async function refusalOf(response) {
  try {
    const answer = await response.json();
    return `error[${answer.error}]: ${answer.detail}`;
  } catch (error) {
    return `error[ServerError]: the server answered HTTP ${response.status}`;
  }
}

/** The bytes an envelope is posted as: its canonical JSON (one line of `POST /events/batch`). */
export function envelopeLine(envelope) {
  return canonicalize(envelope);
}

const standardB64 = (bytes) => b64url(bytes).replace(/-/g, "+").replace(/_/g, "/")
  .padEnd(Math.ceil(new Uint8Array(bytes).length / 3) * 4, "=");

/** The headers of a request signed with cocred's RFC 9421 profile (`api/http/auth.py`:
 * Content-Digest of the body; "@method" "@path" "@query" "content-digest"; created, a fresh
 * nonce, keyid "<actor>/<key id>"), signed with the member's non-extractable key. */
export async function signedRequestHeaders(signingKey, jwk, method, path, query, body = new Uint8Array(0)) {
  const digest = `sha-256=:${standardB64(await crypto.subtle.digest("SHA-256", body))}:`;
  const created = Math.floor(Date.now() / 1000);
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(18)));
  const params = '("@method" "@path" "@query" "content-digest")' +
    `;created=${created};nonce="${nonce}";keyid="${jwk.actor}/${jwk.kid}";alg="ed25519"`;
  const base = [
    `"@method": ${method.toUpperCase()}`,
    `"@path": ${path}`,
    `"@query": ?${query}`,
    `"content-digest": ${digest}`,
    `"@signature-params": ${params}`,
  ].join("\n");
  const signature = await sign(signingKey, utf8(base));
  return {
    "Content-Digest": digest,
    "Signature-Input": `sig1=${params}`,
    Signature: `sig1=:${standardB64(signature)}:`,
  };
}

// -- recovery of a lost key (ledger/actors.py, ledger/recovery.py) ---------------------------
//
//   newRecoveryKey()             a fresh recovery key: its public JWK and its printable code;
//                                the private part exists only inside the code, shown once
//   recoveryKeyFromCode(code)    {signingKey, x, kid}: the key a printed code holds
//   recoveryStatement(...)       what a new key signs to prove possession in RecoveryRequested

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// PKCS #8 of an Ed25519 private key is this prefix and the 32-byte seed (RFC 8410).
const PKCS8_ED25519 = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
  0x04, 0x22, 0x04, 0x20];

function base32(bytes) {
  let bits = 0, value = 0, text = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) text += B32[(value << (5 - bits)) & 31];
  return text;
}

async function codeChecksum(seed) {
  const label = utf8("cocred recovery code\n");
  const data = new Uint8Array(label.length + seed.length);
  data.set(label);
  data.set(seed, label.length);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data)).slice(0, 2);
}

/** A fresh recovery key: {jwk (public), kid, code}. Its seed leaves this function only
 * inside the code, which the page shows once; nothing keeps the private key. */
export async function newRecoveryKey() {
  const { crv, kty, x, d } = await newKey();
  const seed = fromB64url(d, 32, "d");
  const raw = new Uint8Array(34);
  raw.set(seed);
  raw.set(await codeChecksum(seed), 32);
  const code = base32(raw).match(/.{1,4}/g).join("-");
  return { jwk: { crv, kty, x }, kid: await keyId(x), code };
}

/** The recovery key a printed code holds, {signingKey, x, kid}; KeyBackupError
 * (BadRecoveryCode) with cocred's sentence when the code does not read back. */
export async function recoveryKeyFromCode(code) {
  const text = code.replace(/[-\s]/g, "").toUpperCase();
  if (text.length !== 55) {
    throw new KeyBackupError("BadRecoveryCode", `the recovery code must have 55 letters, got ${text.length}`);
  }
  if (![...text].every((c) => B32.includes(c))) {
    throw new KeyBackupError("BadRecoveryCode", "the recovery code holds a character that is not a base32 letter (A-Z, 2-7)");
  }
  const raw = new Uint8Array(34);
  let bits = 0, value = 0, at = 0;
  for (const c of text) {
    value = (value << 5) | B32.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      raw[at++] = (value >>> (bits - 8)) & 255;
      bits -= 8;
    }
  }
  const seed = raw.slice(0, 32);
  const check = await codeChecksum(seed);
  if (check[0] !== raw[32] || check[1] !== raw[33]) {
    throw new KeyBackupError("BadRecoveryCode", "the recovery code's checksum does not match: a group was mistyped");
  }
  const pkcs8 = new Uint8Array([...PKCS8_ED25519, ...seed]);
  const signingKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const { x } = await crypto.subtle.exportKey("jwk", signingKey);
  return { signingKey, x, kid: await keyId(x) };
}

/** The bytes a new key signs in a RecoveryRequested (ledger.actors.recovery_statement). */
export function recoveryStatement(actor, seq, newKid) {
  return utf8(`cocred key recovery\nactor ${actor}\nseq ${seq}\nnew key ${newKid}\n`);
}
