// /c/{campaign}/join: join a campaign from the browser, with a key made and kept here.
//
// 1. "Make my key": an Ed25519 key (WebCrypto), sealed at once under the passphrase
//    (keys.js, ledger/key_backup.py's format) and offered as a download.
//    A recovery key is made too (keys.js newRecoveryKey): its code is shown once, to be
//    written down; only its public key goes into KeyRegistered (`recovery`), and the page
//    keeps no copy. With the code, /keys/recover gets a new key if key and backup are lost.
// 2. Once the person says the backup is saved and the code written down, the backup is opened again (which proves it
//    opens) into a non-extractable key, stored in IndexedDB ("cocred" / "keys", by actor);
//    KeyRegistered (seq 1) and MemberJoined (seq 2: the guidelines' hash, the invitation code)
//    are signed here and posted as one batch to POST /events/batch, which admits a new
//    actor only together with such a first act.
// The request carries the two signed envelopes and nothing else: no private key, no
// passphrase. A refusal is shown as the API's own typed sentence, error[Code]: detail.

import {
  envelopeLine, newKey, newRecoveryKey, openBackup, refusalOf, sealBackup, signEnvelope,
  KeyBackupError,
} from "./keys.js";
import { storeKey } from "./key_store.js";

const form = document.getElementById("join-form");

function say(id, text) {
  document.getElementById(id).textContent = text;
}

if (form) {
  form.hidden = false;
  document.querySelectorAll(".needs-script").forEach((el) => { el.hidden = true; });
  const { campaign, guidelines, membership } = form.dataset;
  let made = null; // {jwk, text, passphrase, recovery}

  /** What joining signs: the two events' types and bodies, shown before anything is signed. */
  function events(jwk, recovery) {
    const body = { guidelines };
    if (membership === "invite-only") {
      body.code = document.getElementById("invite-code").value
        .replace(/[-\s]/g, "").toUpperCase().replace(/(.{5})(?=.)/g, "$1-");
    }
    return [
      ["KeyRegistered", { jwk: { crv: jwk.crv, kty: jwk.kty, x: jwk.x }, recovery }, { seq: 1 }],
      ["MemberJoined", body, { seq: 2, campaign }],
    ];
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const passphrase = document.getElementById("passphrase").value;
    if (passphrase.length < 10) {
      say("join-status", "The passphrase must have at least 10 characters.");
      return;
    }
    if (passphrase !== document.getElementById("passphrase-again").value) {
      say("join-status", "The two passphrases differ: type the same one twice.");
      return;
    }
    try {
      say("join-status", "Making your key and sealing its backup…");
      const jwk = await newKey();
      const text = await sealBackup(jwk, passphrase);
      const recovery = await newRecoveryKey();
      made = { jwk, text, passphrase, recovery: recovery.jwk };
      document.getElementById("recovery-code").textContent = recovery.code;
      const link = document.getElementById("backup-link");
      link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      link.download = `cocred-key-${jwk.actor.slice(0, 8)}.backup.json`;
      document.getElementById("to-sign").textContent = events(jwk, made.recovery)
        .map(([type, body, where]) => `${type} (seq ${where.seq}${where.campaign ? `, campaign ${where.campaign}` : ""})\n${JSON.stringify(body, null, 2)}`)
        .join("\n\n");
      document.getElementById("backup-step").hidden = false;
      say("join-status", `Your key is made: you are ${jwk.actor}. Download its backup next.`);
      form.querySelectorAll("input, button").forEach((el) => { el.disabled = true; });
    } catch (error) {
      say("join-status", error instanceof KeyBackupError ? error.detail : String(error));
    }
  });

  const ready = () => {
    document.getElementById("join-button").disabled = !(
      document.getElementById("backup-saved").checked &&
      document.getElementById("recovery-written").checked
    );
  };
  document.getElementById("backup-saved").addEventListener("change", ready);
  document.getElementById("recovery-written").addEventListener("change", ready);

  document.getElementById("join-button").addEventListener("click", async () => {
    if (made === null) return;
    const button = document.getElementById("join-button");
    button.disabled = true;
    try {
      const { jwk, signingKey } = await openBackup(made.text, made.passphrase);
      const [registered, joined] = await Promise.all(
        events(jwk, made.recovery).map(([type, body, where]) => signEnvelope(signingKey, jwk, type, body, where)),
      );
      const response = await fetch("/events/batch", {
        method: "POST",
        headers: { "Content-Type": "application/x-ndjson" },
        body: `${envelopeLine(registered)}\n${envelopeLine(joined)}\n`,
      });
      if (!response.ok) {
        say("join-result", await refusalOf(response));
        button.disabled = false;
        return;
      }
      await storeKey({ actor: jwk.actor, kid: jwk.kid, x: jwk.x, signingKey });
      made = null; // the extractable copy and the passphrase are dropped
      document.getElementById("recovery-code").textContent = ""; // shown once: gone now
      say("join-result", `You joined as ${jwk.actor}. Your key is kept in this browser; your ` +
        "backup file and its passphrase bring it to another device.");
      const page = document.createElement("a");
      page.href = `/people/${jwk.actor}?campaign=${encodeURIComponent(campaign)}`;
      page.textContent = "Your page in this campaign";
      const submit = document.createElement("a");
      submit.href = `/c/${encodeURIComponent(campaign)}/submit`;
      submit.textContent = "Submit a piece";
      document.getElementById("join-result").append(" ", page, " · ", submit);
    } catch (error) {
      say("join-result", error instanceof KeyBackupError ? `error[${error.code}]: ${error.detail}` : String(error));
      button.disabled = false;
    }
  });
}
