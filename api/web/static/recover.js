// /keys/recover: a lost key replaced with the recovery code written down at sign-up.
//
// The code is read in this page (keys.js recoveryKeyFromCode) into the recovery key; a new
// key is made here (WebCrypto Ed25519) and signs its proof of possession; the recovery key
// signs RecoveryRequested {jwk, proof}, posted to POST /events. The ledger lets the new key
// sign 72 hours after the request (ledger/actors.py RECOVERY_DELAY) unless the current key
// cancels meanwhile. The new key is kept in IndexedDB, non-extractable, for this actor; the
// code and the recovery key are dropped. The request carries the signed envelope only.

import {
  KeyBackupError, b64url, envelopeLine, newKey, recoveryKeyFromCode, recoveryStatement,
  refusalOf, sign,
  signEnvelope,
} from "./keys.js";
import { storeKey } from "./key_store.js";

const form = document.getElementById("recover-form");
const DELAY_HOURS = 72;

function say(text) {
  document.getElementById("recover-result").textContent = text;
}

if (form) {
  form.hidden = false;
  document.querySelectorAll(".needs-script").forEach((el) => { el.hidden = true; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("recover-button");
    button.disabled = true;
    try {
      const actor = document.getElementById("recover-actor").value.trim();
      const recovery = await recoveryKeyFromCode(document.getElementById("recover-code").value);
      const state = await fetch(`/actors/${encodeURIComponent(actor)}`);
      if (!state.ok) {
        say(await refusalOf(state));
        button.disabled = false;
        return;
      }
      const { next_seq: seq } = await state.json();
      const made = await newKey();
      const { crv, kty, x, d } = made;
      const signingKey = await crypto.subtle.importKey(
        "jwk", { crv, kty, x, d }, { name: "Ed25519" }, false, ["sign"],
      );
      const proof = await sign(signingKey, recoveryStatement(actor, seq, made.kid));
      const envelope = await signEnvelope(
        recovery.signingKey, { actor, kid: recovery.kid }, "RecoveryRequested",
        { jwk: { crv, kty, x }, proof: b64url(proof) }, { seq },
      );
      const response = await fetch("/events", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: envelopeLine(envelope),
      });
      if (!response.ok) {
        say(await refusalOf(response));
        button.disabled = false;
        return;
      }
      await storeKey({ actor, kid: made.kid, x, signingKey });
      document.getElementById("recover-code").value = "";
      const effective = new Date(Date.parse(envelope.ts) + DELAY_HOURS * 3600 * 1000);
      say(`Recovery requested for ${actor} (seq ${seq}). Your new key ${made.kid} is kept in ` +
        `this browser and signs for you from ${effective.toISOString().replace(/\.\d{3}Z$/, "Z")}, ` +
        "unless your current key cancels the request before then.");
    } catch (error) {
      say(error instanceof KeyBackupError ? `error[${error.code}]: ${error.detail}` : String(error));
      button.disabled = false;
    }
  });
}
