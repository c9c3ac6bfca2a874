// The proof-bundle verifier of /verify: a receipt checked in this browser, nothing sent anywhere.
//
// A second implementation of ledger.provenance.bundles.verify_bundle, with the same checks in
// the same order and the same sentences when one fails:
//   0. the inputs: a witness policy (as `cocred verify-proof` parses --witness/--quorum first)
//      and the bundle's shape (ProofBundle.from_json: "bundle: ...");
//   1. the event parses as an envelope and its bytes are exactly their RFC 8785 form
//      (npm `canonicalize`, vendored in ./vendor/);
//   2. its key id is the RFC 7638 thumbprint of the bundled key, its Ed25519 signature verifies
//      over the signing bytes (the stored bytes without the "sig" member, as
//      Envelope.signing_bytes cuts them);
//   3. the checkpoint (a C2SP signed note) is signed by the pinned ledger key;
//   4. with witness keys: k of them have a valid C2SP cosignature/v1 line on it (lines by other
//      keys are ignored; a bad line by a trusted witness fails);
//   5. the leaf SHA-256(0x00 || event) is included at the bundle's position (RFC 9162 §2.1.3.2);
//   6. an anchor receipt, if any, names that checkpoint's root and size (not checked on chain).
// Crypto is WebCrypto only (Ed25519 and SHA-256): no hand-written curve or hash, no fallback.
import canonicalize from "./vendor/canonicalize/canonicalize.js";

const encoder = new TextEncoder();
const EM_DASH = "\u2014";
const ED25519 = 0x01; // signed-note signature type of a note signer's key
const COSIGNATURE_V1 = 0x04; // C2SP tlog-cosignature: a witness's key type
const MAX_U64 = (1n << 64n) - 1n;
const MAX_TIMESTAMP = (1n << 63n) - 1n;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_ENVELOPE_BYTES = 0xffff;
const MAX_BODY_BYTES = 63 * 1024;
const MAX_DEPTH = 64;
const MAX_PATH = 64;
const MAX_SIGNATURES = 100;
const MAX_NOTE_CHARS = 1 << 20;
const FIELDS = ["v", "type", "actor", "key", "seq", "ts", "campaign", "body", "sig"];
const BUNDLE_FIELDS = ["anchor", "checkpoint", "event", "key", "path", "position", "v"];
const RECEIPT_FIELDS = ["chain_id", "contract", "tx_hash", "block_number", "root_hash", "tree_size", "gas_used"];
const SIG_MARK = encoder.encode(',"sig":"');
const SIG_LEN = 86;
const CAMPAIGN_MARK = encoder.encode(',"campaign":');
const BODY_START = '{"actor":"'.length + 43 + '","body":'.length;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const TYPE_PATTERN = /^[A-Z][A-Za-z0-9]{0,63}$/;
const CAMPAIGN_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
const TS_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?Z$/;
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
// RFC 8032's first test key: importing it tells whether WebCrypto has Ed25519 at all.
const PROBE_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

export const STEPS = [
  { id: "inputs", title: "The file is a proof bundle, the witness policy is well formed" },
  { id: "event", title: "The event is canonical JSON (RFC 8785)" },
  { id: "signature", title: "The event's key id and Ed25519 signature" },
  { id: "checkpoint", title: "The checkpoint is signed by the ledger key" },
  { id: "witnesses", title: "Witness cosignatures (k of n)" },
  { id: "inclusion", title: "The event is in the checkpoint's tree (RFC 9162)" },
  { id: "anchor", title: "The anchor receipt names that checkpoint" },
];

/** A failed check: its message is the sentence Python's verifier gives. */
export class Failure extends Error {}

function fail(sentence) {
  throw new Failure(sentence);
}

// ------------------------------------------------------------------ bytes and encodings

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function lastIndexOf(haystack, needle) {
  outer: for (let i = haystack.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function short(digest) {
  return hex(digest).slice(0, 16) + "…";
}

function b64encode(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function b64url(bytes) {
  return b64encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBinary(text) {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

// Standard base64 with padding, canonical (it re-encodes to the same text), as note.py reads it.
function b64decode(text) {
  if (typeof text !== "string" || text.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  let bytes;
  try {
    bytes = fromBinary(atob(text));
  } catch (err) {
    return null;
  }
  return b64encode(bytes) === text ? bytes : null;
}

// Unpadded base64url, strictly (ledger.keys.b64url_decode and its sentences).
function b64urlDecode(text, length, what) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) fail(`${what} must be unpadded base64url text`);
  if (text.length % 4 === 1) fail(`${what} is not valid base64url`);
  const standard = text.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = fromBinary(atob(standard + "=".repeat((4 - (standard.length % 4)) % 4)));
  if (b64url(bytes) !== text) fail(`${what} is not canonical base64url`);
  if (length !== undefined && bytes.length !== length) fail(`${what} must encode ${length} bytes, got ${bytes.length}`);
  return bytes;
}

// What Python's repr() prints for a JSON value, so that sentences read the same.
function pyRepr(value) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const escaped = value
      .replace(/\\/g, "\\\\")
      .replace(/\n/g, "\\n")
      .replace(/\r/g, "\\r")
      .replace(/\t/g, "\\t")
      .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0"));
    return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
  }
  if (Array.isArray(value)) return "[" + value.map(pyRepr).join(", ") + "]";
  return "{" + Object.keys(value).map((k) => pyRepr(k) + ": " + pyRepr(value[k])).join(", ") + "}";
}

function pyType(value) {
  if (value === null) return "NoneType";
  if (Array.isArray(value)) return "list";
  if (typeof value === "string") return "str";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  return "dict";
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isUint(value) {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

// ------------------------------------------------------------------ WebCrypto

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function ed25519Verify(publicKey, message, signature) {
  let key;
  try {
    key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (err) {
    if (err && err.name === "NotSupportedError") throw err;
    return false; // not a point on the curve: no signature by it verifies
  }
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/** Why this browser cannot verify (no WebCrypto, or no Ed25519 in it), or null when it can. */
export async function unsupported() {
  if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
    return "WebCrypto is only available on a secure page (https, or http on localhost): open this page over https, or verify with cocred verify-proof.";
  }
  try {
    const raw = Uint8Array.from(PROBE_KEY.match(/../g), (h) => parseInt(h, 16));
    await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  } catch (err) {
    return "This browser's WebCrypto has no Ed25519 (it needs Chromium 137+, Firefox 129+ or Safari 17+), so it cannot check the signatures; there is no fallback to a hand-written curve: verify with cocred verify-proof instead.";
  }
  return null;
}

// ------------------------------------------------------------------ C2SP keys and notes

function keyIdOf(name, publicKey, kind) {
  return sha256(concat(encoder.encode(name + "\n"), Uint8Array.of(kind), publicKey)).then((d) => d.slice(0, 4));
}

function checkKeyName(name, where) {
  if (typeof name !== "string" || !name) fail(`${where}: key name must be a non-empty string`);
  if (name.includes("+") || /\s/.test(name) || CONTROL.test(name)) {
    fail(`${where}: key name ${pyRepr(name)} contains a space, '+' or control character`);
  }
}

// VerifierKey.parse: <name>+<8 hex key id>+<base64(type || key)>.
async function parseVerifierKey(vkey, kind) {
  if (typeof vkey !== "string" || vkey.split("+").length - 1 < 2) {
    fail("verifier key: expected <name>+<key id>+<base64 key>");
  }
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  const name = vkey.slice(0, first);
  const hexId = vkey.slice(first + 1, second);
  const encoded = vkey.slice(second + 1);
  checkKeyName(name, "verifier key");
  if (!/^[0-9a-f]{8}$/.test(hexId)) fail(`verifier key: key id ${pyRepr(hexId)} is not 8 lowercase hex digits`);
  const raw = b64decode(encoded);
  if (raw === null || raw.length !== 33) fail("verifier key: key is not base64 of 33 bytes");
  if (raw[0] !== kind) {
    const wanted = kind === ED25519 ? "Ed25519" : "0x04 (an Ed25519 cosignature/v1 witness key)";
    fail(`verifier key: signature type 0x${raw[0].toString(16).padStart(2, "0")} is not ${wanted}`);
  }
  const publicKey = raw.slice(1);
  const computed = hex(await keyIdOf(name, publicKey, kind));
  if (computed !== hexId) fail(`verifier key: key id ${hexId} does not match the key (expected ${computed})`);
  return { name, keyId: hexId, publicKey, label: `${name}+${hexId}` };
}

// _parse_note: the text, the LAST blank line, then "— <name> <base64(key id || signature)>" lines.
function parseNote(text) {
  if (text.length > MAX_NOTE_CHARS) fail(`signed note: longer than ${MAX_NOTE_CHARS} characters`);
  if (CONTROL.test(text)) fail("signed note: contains a control character other than newline");
  const split = text.lastIndexOf("\n\n");
  if (split < 0) fail("signed note: no blank line between the text and the signatures");
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (!block) fail("signed note: no signature lines after the blank line");
  if (!block.endsWith("\n")) fail("signed note: the last signature line does not end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) fail(`signed note: ${lines.length} signatures, at most ${MAX_SIGNATURES}`);
  const signatures = lines.map((line, i) => {
    const number = i + 1;
    const parts = line.split(" ");
    if (parts.length !== 3 || parts[0] !== EM_DASH) {
      fail(`signed note: signature line ${number} is not '— <name> <base64>'`);
    }
    checkKeyName(parts[1], `signed note: signature line ${number}`);
    const raw = b64decode(parts[2]);
    if (raw === null || raw.length < 5) {
      fail(`signed note: signature line ${number} is not base64 of key id + signature`);
    }
    return { name: parts[1], keyId: hex(raw.slice(0, 4)), signature: raw.slice(4) };
  });
  return { body, signatures };
}

// Checkpoint.from_body: origin, size, base64 root hash, extension lines.
function parseCheckpointBody(text) {
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) {
    fail(`checkpoint: body has ${lines.length} lines, expected origin, size and root hash`);
  }
  const [origin, size, root, ...extensions] = lines;
  if (!/^(0|[1-9][0-9]{0,19})$/.test(size) || BigInt(size) > MAX_U64) {
    fail(`checkpoint: size ${pyRepr(size)} is not a canonical decimal from 0 to 2**64-1`);
  }
  const rootHash = b64decode(root);
  if (rootHash === null || rootHash.length !== 32) {
    fail(`checkpoint: root hash ${pyRepr(root)} is not canonical base64 of 32 bytes`);
  }
  if (!origin) fail("checkpoint: origin must be a non-empty string");
  extensions.forEach((line, i) => {
    if (!line) fail(`checkpoint: extension line ${i + 1} must be a non-empty string`);
  });
  // Checkpoint.body(): what the ledger and the witnesses signed.
  const signed = encoder.encode([origin, size, b64encode(rootHash), ...extensions].map((l) => l + "\n").join(""));
  return { origin, size: BigInt(size), rootHash, body: signed };
}

// ------------------------------------------------------------------ the bundle

function parseHex(name, value, length) {
  if (typeof value !== "string" || !value.startsWith("0x")) {
    fail(`${name}: expected 0x-prefixed hex, got ${pyRepr(value).slice(0, 80)}`);
  }
  const digits = value.slice(2);
  if (digits.length % 2 || !/^[0-9a-fA-F]*$/.test(digits)) fail(`${name}: not hex: ${pyRepr(value).slice(0, 80)}`);
  const bytes = Uint8Array.from(digits.match(/../g) || [], (h) => parseInt(h, 16));
  if (bytes.length !== length) fail(`${name}: expected ${length} bytes, got ${bytes.length}`);
  return bytes;
}

// AnchorReceipt.from_json: exactly its fields, hex bytes, integers in range, an address.
function parseReceipt(raw) {
  if (!isObject(raw)) fail(`AnchorReceipt: expected a JSON object, got ${pyType(raw)}`);
  const keys = Object.keys(raw);
  const missing = RECEIPT_FIELDS.filter((f) => !keys.includes(f)).sort();
  const extra = keys.filter((k) => !RECEIPT_FIELDS.includes(k)).sort();
  if (missing.length || extra.length) {
    fail(`AnchorReceipt: missing fields ${pyRepr(missing)}, unexpected fields ${pyRepr(extra)}`);
  }
  const txHash = parseHex("tx_hash", raw.tx_hash, 32);
  const rootHash = parseHex("root_hash", raw.root_hash, 32);
  const integer = (name, low) => {
    const value = raw[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < low || BigInt(value) > MAX_U64) {
      fail(`${name}: expected an integer in [${low}, ${MAX_U64}], got ${pyRepr(value)}`);
    }
  };
  integer("chain_id", 1);
  if (typeof raw.contract !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(raw.contract)) {
    fail(`contract: expected a 0x-prefixed 20-byte address, got ${pyRepr(raw.contract)}`);
  }
  integer("block_number", 0);
  integer("tree_size", 1);
  integer("gas_used", 0);
  return { ...raw, txHash, rootHash, treeSize: BigInt(raw.tree_size) };
}

function parsePath(items) {
  if (!Array.isArray(items)) fail("inclusion proof: path must be a list of base64 strings");
  if (items.length > MAX_PATH) fail(`inclusion proof: path has ${items.length} hashes, at most ${MAX_PATH}`);
  return items.map((item, i) => {
    const digest = typeof item === "string" && item.length === 44 ? b64decode(item) : null;
    if (digest === null || digest.length !== 32) fail(`inclusion proof: path[${i}] is not a base64-encoded 32-byte hash`);
    return digest;
  });
}

/** ProofBundle.from_json of a file's text; raises ``Failure`` with its sentence. */
export function parseBundle(text, fileName) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    fail(`${fileName || "the file"} is not JSON: ${err.message}`);
  }
  const keys = isObject(data) ? Object.keys(data).sort() : null;
  if (keys === null || keys.join(",") !== BUNDLE_FIELDS.join(",")) {
    fail(`bundle: must be an object with exactly ${BUNDLE_FIELDS.join(", ")}`);
  }
  if (data.v !== 1 || typeof data.v !== "number") fail(`bundle: unknown version ${pyRepr(data.v)}`);
  if (!isUint(data.position)) fail("bundle: position must be an integer ≥ 0");
  if (typeof data.event !== "string" || typeof data.checkpoint !== "string") {
    fail("bundle: event and checkpoint must be strings");
  }
  try {
    const publicKey = b64urlDecode(data.key, 32, "bundle: key");
    const note = parseNote(data.checkpoint);
    const checkpoint = parseCheckpointBody(note.body);
    const path = parsePath(data.path);
    const anchor = data.anchor === null ? null : parseReceipt(data.anchor);
    return {
      position: BigInt(data.position),
      eventText: data.event,
      event: encoder.encode(data.event),
      publicKey,
      path,
      checkpoint,
      signatures: note.signatures,
      anchor,
    };
  } catch (err) {
    if (err instanceof Failure) fail(`bundle: ${err.message}`);
    throw err;
  }
}

/** WitnessPolicy.parse of the pasted keys (one a line) and quorum (default: all of them). */
export async function parsePolicy(keysText, quorumText) {
  const lines = (keysText || "").split("\n").map((l) => l.trim()).filter(Boolean);
  const quorumGiven = (quorumText || "").trim();
  if (!lines.length) {
    if (quorumGiven) fail("witness policy: a quorum needs the witness keys it counts");
    return null;
  }
  const witnesses = [];
  for (const line of lines) {
    try {
      witnesses.push(await parseVerifierKey(line, COSIGNATURE_V1));
    } catch (err) {
      if (err instanceof Failure) fail(`witness policy: ${err.message}`);
      throw err;
    }
  }
  if (new Set(witnesses.map((w) => w.label)).size !== witnesses.length) {
    fail("witness policy: a witness key is named twice");
  }
  const quorum = quorumGiven === "" ? witnesses.length : /^-?\d+$/.test(quorumGiven) ? Number(quorumGiven) : quorumGiven;
  if (typeof quorum !== "number" || quorum < 1 || quorum > witnesses.length) {
    fail(`witness policy: quorum must be from 1 to ${witnesses.length} (the number of witnesses), got ${pyRepr(quorum)}`);
  }
  return { witnesses, quorum };
}

// ------------------------------------------------------------------ the steps

function checkNumbersAndDepth(value, depth) {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      fail(`envelope: numbers must be integers (money in minor units, shares as strings), got ${value}`);
    }
    if (Math.abs(value) > MAX_SAFE) fail(`envelope: integer ${value} is outside the safe range ±(2**53-1)`);
    return depth;
  }
  if (value === null || typeof value !== "object") return depth;
  let deepest = depth + 1;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    deepest = Math.max(deepest, checkNumbersAndDepth(item, depth + 1));
  }
  return deepest;
}

function checkTime(ts) {
  const match = typeof ts === "string" ? TS_PATTERN.exec(ts) : null;
  if (!match) fail(`envelope: field 'ts' must be an RFC 3339 UTC time like 2026-11-22T10:00:00Z, got ${pyRepr(ts)}`);
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const real =
    year >= 1 && date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day && date.getUTCHours() === hour && date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  if (!real) fail(`envelope: field 'ts' is not a real time: ${pyRepr(ts)}`);
}

// Envelope.from_bytes: the strict parse and every field's rule ("envelope: ...").
function parseEnvelope(text, bytes) {
  if (bytes.length > MAX_ENVELOPE_BYTES) fail(`envelope: ${bytes.length} bytes is over the limit of ${MAX_ENVELOPE_BYTES}`);
  let obj;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    fail(`envelope: not valid JSON: ${err.message}`);
  }
  const depth = checkNumbersAndDepth(obj, 0);
  if (depth > MAX_DEPTH) fail(`envelope: JSON nested ${depth} levels deep, over the limit of ${MAX_DEPTH}`);
  if (!isObject(obj)) fail("envelope: must be a JSON object");
  const keys = Object.keys(obj);
  if (keys.length !== FIELDS.length || !FIELDS.every((f) => keys.includes(f))) {
    const missing = FIELDS.filter((f) => !keys.includes(f));
    if (missing.length) fail(`envelope: missing field(s): ${missing.join(", ")}`);
    fail(`envelope: unexpected field(s): ${keys.filter((k) => !FIELDS.includes(k)).sort().join(", ")}`);
  }
  if (typeof obj.v !== "number" || obj.v !== 1) fail(`envelope: field 'v' must be 1, got ${pyRepr(obj.v)}`);
  if (typeof obj.type !== "string" || !TYPE_PATTERN.test(obj.type)) {
    fail(`envelope: field 'type' must be a PascalCase name of 1-64 letters, got ${pyRepr(obj.type)}`);
  }
  for (const name of ["actor", "key"]) {
    if (typeof obj[name] !== "string" || !ID_PATTERN.test(obj[name])) {
      fail(`envelope: field '${name}' must be a 43-character base64url id, got ${pyRepr(obj[name])}`);
    }
  }
  if (typeof obj.seq !== "number" || !Number.isInteger(obj.seq) || obj.seq < 1 || obj.seq > MAX_SAFE) {
    fail(`envelope: field 'seq' must be an integer from 1, got ${pyRepr(obj.seq)}`);
  }
  checkTime(obj.ts);
  if (obj.campaign !== null && (typeof obj.campaign !== "string" || !CAMPAIGN_PATTERN.test(obj.campaign))) {
    fail(`envelope: field 'campaign' must be null or an id of 1-64 characters [A-Za-z0-9_.:-], got ${pyRepr(obj.campaign)}`);
  }
  if (!isObject(obj.body)) fail(`envelope: field 'body' must be a JSON object, got ${pyType(obj.body)}`);
  if (typeof obj.sig !== "string") fail("envelope: field 'sig' must be a base64url string");
  let signature;
  try {
    signature = b64urlDecode(obj.sig, 64, "field 'sig'");
  } catch (err) {
    if (err instanceof Failure) fail(`envelope: ${err.message}`);
    throw err;
  }
  const canonical = canonicalize(obj);
  const data = encoder.encode(canonical);
  const bodySize = lastIndexOf(data, CAMPAIGN_MARK) - BODY_START;
  if (bodySize > MAX_BODY_BYTES) fail(`envelope: field 'body' is ${bodySize} bytes, over the limit of ${MAX_BODY_BYTES}`);
  return { obj, canonical, signature };
}

// Envelope.signing_bytes: the stored bytes with the ',"sig":"<86 characters>"' member cut out.
function signingBytes(data) {
  const at = lastIndexOf(data, SIG_MARK);
  return concat(data.slice(0, at), data.slice(at + SIG_MARK.length + SIG_LEN + 1));
}

async function checkEvent(bundle, state) {
  const env = parseEnvelope(bundle.eventText, bundle.event);
  if (env.canonical !== bundle.eventText) fail("bundle: event: the bytes are not in canonical form");
  state.env = env.obj;
  state.signature = env.signature;
  return `${env.obj.type} by actor ${env.obj.actor}, seq ${env.obj.seq}, ${bundle.event.length} canonical bytes`;
}

async function checkSignature(bundle, state) {
  const members = `{"crv":"Ed25519","kty":"OKP","x":"${b64url(bundle.publicKey)}"}`;
  const thumbprint = b64url(await sha256(encoder.encode(members)));
  if (thumbprint !== state.env.key) {
    fail(`bundle: event: key ${state.env.key} is not the thumbprint of the bundled public key ${thumbprint}`);
  }
  if (!(await ed25519Verify(bundle.publicKey, signingBytes(bundle.event), state.signature))) {
    fail("bundle: event: signature does not verify");
  }
  return `key ${thumbprint} signed it`;
}

async function checkCheckpoint(bundle, state) {
  const key = await parseVerifierKey(state.vkey, ED25519);
  const mine = bundle.signatures.filter((s) => s.name === key.name && s.keyId === key.keyId);
  if (!mine.length) {
    const seen = bundle.signatures.map((s) => `${s.name}+${s.keyId}`).join(", ");
    fail(`checkpoint: no signature by key ${key.label} (signed by: ${seen})`);
  }
  const body = bundle.checkpoint.body;
  for (const line of mine) {
    if (line.signature.length !== 64) {
      fail(`checkpoint: signature by key ${key.label} is ${line.signature.length} bytes, expected 64`);
    }
    if (!(await ed25519Verify(key.publicKey, body, line.signature))) {
      fail(`checkpoint: bad signature by key ${key.label} over the ${body.length}-byte note text`);
    }
  }
  return `tree size ${bundle.checkpoint.size}, root ${hex(bundle.checkpoint.rootHash)}, signed by ${key.label}`;
}

// cosignature.verify_cosignature: 8-byte big-endian time || Ed25519 signature over
// "cosignature/v1\ntime <t>\n" + the checkpoint body.
async function verifyCosignature(body, line, witness, size) {
  if (line.signature.length !== 72) {
    fail(`cosignature by witness ${witness.label} is ${line.signature.length} bytes, expected 72 (timestamp and Ed25519 signature)`);
  }
  let time = 0n;
  for (const byte of line.signature.slice(0, 8)) time = (time << 8n) | BigInt(byte);
  if (time > MAX_TIMESTAMP) fail(`cosignature by witness ${witness.label}: timestamp above 2**63-1`);
  const message = concat(encoder.encode(`cosignature/v1\ntime ${time}\n`), body);
  if (!(await ed25519Verify(witness.publicKey, message, line.signature.slice(8)))) {
    fail(`cosignature by witness ${witness.label} (time ${time}) does not verify over the checkpoint of size ${size}`);
  }
  return time;
}

async function checkWitnesses(bundle, state) {
  const policy = state.policy;
  if (policy === null) return null; // skipped
  const size = bundle.checkpoint.size;
  const good = [];
  for (const witness of policy.witnesses) {
    const lines = bundle.signatures.filter((s) => s.name === witness.name && s.keyId === witness.keyId);
    const times = [];
    for (const line of lines) times.push(await verifyCosignature(bundle.checkpoint.body, line, witness, size));
    if (times.length) good.push({ witness: witness.label, time: times.reduce((a, b) => (b > a ? b : a)) });
  }
  if (good.length < policy.quorum) {
    const cosigned = new Set(good.map((c) => c.witness));
    const missing = policy.witnesses.map((w) => w.label).filter((l) => !cosigned.has(l));
    fail(
      `checkpoint of size ${size}: ${good.length} of the ${policy.witnesses.length} trusted witnesses ` +
        `cosigned it, the policy needs ${policy.quorum} (missing: ${missing.join(", ")})`
    );
  }
  const when = good.map((c) => `${c.witness} at ${new Date(Number(c.time) * 1000).toISOString()}`);
  return `${good.length} of ${policy.witnesses.length} trusted witnesses cosigned it (the policy needs ${policy.quorum}): ${when.join("; ")}`;
}

function bitLength(n) {
  return n === 0n ? 0 : n.toString(2).length;
}

function pathLength(index, last) {
  const inner = bitLength(index ^ last);
  const above = (index >> BigInt(inner)).toString(2);
  return inner + (above.match(/1/g) || []).length;
}

async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

// proofs.verify_inclusion, RFC 9162 §2.1.3.2.
async function checkInclusion(bundle) {
  const index = bundle.position;
  const size = bundle.checkpoint.size;
  const path = bundle.path;
  const root = bundle.checkpoint.rootHash;
  const leaf = await sha256(concat(Uint8Array.of(0), bundle.event));
  if (index >= size) fail(`inclusion: index ${index} is not below tree size ${size}`);
  const expected = pathLength(index, size - 1n);
  if (path.length !== expected) {
    fail(`inclusion: proof for index ${index} at size ${size} has ${path.length} hashes, expected ${expected}`);
  }
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of path) {
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      while (fn && !(fn & 1n)) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail(`inclusion: proof too short for size ${size}`);
  if (!equalBytes(root, r)) fail(`inclusion: root mismatch at size ${size}: expected ${short(root)}, got ${short(r)}`);
  return `leaf ${hex(leaf)} at position ${index} of ${size}, with ${path.length} hashes up to the root`;
}

async function checkAnchor(bundle) {
  const anchor = bundle.anchor;
  if (anchor === null) return null; // skipped
  const checkpoint = bundle.checkpoint;
  if (anchor.treeSize !== checkpoint.size || !equalBytes(anchor.rootHash, checkpoint.rootHash)) {
    fail(
      `bundle: anchor: receipt is for size ${anchor.treeSize} root ${hex(anchor.rootHash)}, ` +
        `the checkpoint is size ${checkpoint.size} root ${hex(checkpoint.rootHash)}`
    );
  }
  return `chain ${anchor.chain_id}, contract ${anchor.contract}, transaction 0x${hex(anchor.txHash)}, block ${anchor.block_number}: not checked on chain (that needs an Ethereum node: cocred verify-proof --rpc URL)`;
}

const CHECKS = {
  event: checkEvent,
  signature: checkSignature,
  checkpoint: checkCheckpoint,
  witnesses: checkWitnesses,
  inclusion: checkInclusion,
  anchor: checkAnchor,
};

const SKIPPED = {
  witnesses: "skipped: no witness keys given (the checkpoint is trusted on the ledger's signature alone)",
  anchor: "skipped: the bundle has no anchor receipt",
};

/**
 * Verify a bundle file's text against a ledger verifier key and optional witness keys.
 * Returns {ok, steps: [{id, title, status: "pass"|"fail"|"skip"|"not run", detail}], failure}.
 * ``onStep`` (optional) sees each step as it finishes.
 */
export async function verify({ text, fileName, vkey, witnessKeys, quorum }, onStep) {
  const steps = STEPS.map((s) => ({ ...s, status: "not run", detail: "" }));
  const state = { vkey: (vkey || "").trim(), policy: null };
  let bundle = null;
  let failure = null;
  for (const step of steps) {
    try {
      if (step.id === "inputs") {
        state.policy = await parsePolicy(witnessKeys, quorum);
        bundle = parseBundle(text, fileName);
        step.detail = `event at position ${bundle.position}, checkpoint of size ${bundle.checkpoint.size}` +
          (state.policy ? `, ${state.policy.quorum} of ${state.policy.witnesses.length} witnesses required` : "");
      } else {
        const detail = await CHECKS[step.id](bundle, state);
        step.detail = detail === null ? SKIPPED[step.id] : detail;
        if (detail === null) step.status = "skip";
      }
      if (step.status !== "skip") step.status = "pass";
    } catch (err) {
      step.status = "fail";
      step.detail = err instanceof Failure ? err.message : `this browser could not run the check: ${err && err.message ? err.message : err}`;
      failure = step;
    }
    if (onStep) onStep(step);
    if (failure) break;
  }
  return { ok: failure === null, steps, failure, env: state.env || null, bundle, policy: state.policy };
}

// ------------------------------------------------------------------ the page

const MARKS = { pass: "✓", fail: "✗", skip: "–", "not run": "·" };
const OUTCOMES = { pass: "passed", fail: "failed", skip: "skipped", "not run": "not run" };

function renderSteps(list, steps) {
  list.replaceChildren(
    ...steps.map((step, i) => {
      const item = document.createElement("li");
      item.className = "step " + step.status.replace(" ", "-");
      item.dataset.step = step.id;
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = MARKS[step.status];
      const title = document.createElement("strong");
      title.textContent = `${i}. ${step.title}`;
      const outcome = document.createElement("span");
      outcome.className = "outcome";
      outcome.textContent = OUTCOMES[step.status];
      item.append(mark, " ", title, " ", outcome);
      if (step.detail) {
        const detail = document.createElement("span");
        detail.className = "detail";
        detail.textContent = step.detail;
        item.append(detail);
      }
      return item;
    })
  );
}

function setup(form) {
  const fileInput = form.querySelector("#bundle-file");
  const drop = form.querySelector("#bundle-drop");
  const chosen = form.querySelector("#bundle-chosen");
  const vkeyInput = form.querySelector("#ledger-key");
  const keySource = form.querySelector("#ledger-key-source");
  const witnessInput = form.querySelector("#witness-keys");
  const quorumInput = form.querySelector("#quorum");
  const button = form.querySelector("#verify-button");
  const verdict = document.getElementById("verify-verdict");
  const list = document.getElementById("verify-steps");
  let file = null;

  form.hidden = false;
  document.querySelectorAll(".needs-script").forEach((el) => { el.hidden = true; });

  function say(text, kind) {
    verdict.textContent = text;
    verdict.className = kind ? "verdict " + kind : "status";
  }

  async function take(picked) {
    if (!picked) return;
    file = { name: picked.name, text: await picked.text() };
    chosen.textContent = `Chosen: ${picked.name} (${picked.size.toLocaleString("en")} bytes). Press Verify.`;
  }

  fileInput.addEventListener("change", () => take(fileInput.files && fileInput.files[0]));
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    take(event.dataTransfer && event.dataTransfer.files[0]);
  });

  // The only request this page makes, before any verification: the server's own key, as a
  // starting point. A key the server hands out proves nothing against that server.
  if (!vkeyInput.value.trim()) {
    fetch("/ledger-key", { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`the server answered ${r.status}`))))
      .then((key) => {
        if (vkeyInput.value.trim()) return;
        vkeyInput.value = key.vkey;
        keySource.textContent = `Filled in from this server's GET /ledger-key (origin ${key.origin}). Replace it with the key you pinned yourself.`;
      })
      .catch((err) => {
        keySource.textContent = `Could not fetch this server's key (${err.message}): paste the ledger's verifier key.`;
      });
  }
  vkeyInput.addEventListener("input", () => {
    keySource.textContent = "Your own key: the check below is against it.";
  });

  unsupported().then((why) => {
    if (why) {
      button.disabled = true;
      say(why, "bad");
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file) return say("Choose or drop a proof-bundle file first.", "bad");
    const why = await unsupported();
    if (why) return say(why, "bad");
    button.disabled = true;
    say("Verifying in this browser…");
    try {
      const result = await verify(
        { text: file.text, fileName: file.name, vkey: vkeyInput.value, witnessKeys: witnessInput.value, quorum: quorumInput.value },
        null
      );
      renderSteps(list, result.steps);
      list.hidden = false;
      if (result.ok) {
        const env = result.env;
        const policy = result.policy;
        const cosigned = policy ? `, cosigned by at least ${policy.quorum} of the ${policy.witnesses.length} witnesses you named` : "";
        say(`✓ The receipt checks out: ${env.type} (seq ${env.seq}) is at position ${result.bundle.position} of the log, in a checkpoint of size ${result.bundle.checkpoint.size} signed by the ledger key${cosigned}.`, "ok");
      } else {
        const at = STEPS.findIndex((s) => s.id === result.failure.id);
        say(`✗ Failed at step ${at} (${result.failure.title}): ${result.failure.detail}`, "bad");
      }
    } finally {
      button.disabled = false;
    }
  });
}

const form = typeof document !== "undefined" ? document.getElementById("verify-form") : null;
if (form) setup(form);
