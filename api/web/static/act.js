// Acting from a page with the key this browser keeps (key_store.js): each form with a
// `data-act` is shown once a key is here, signs its event in the page (keys.js
// signEnvelope, the seq from GET /actors/{actor}) and posts it to POST /events. The answer
// is shown beside the form: the position, or the API's typed sentence error[Code]: detail.
//
//   data-act="vote"    VoteCast {contribution, kind} in data-campaign
//   data-act="submit"  the chosen file uploaded (PUT /content/{sha256}, a signed request),
//                      then ContributionSubmitted {content, kind, title, derived_from: []}

import {
  envelopeLine, refusalOf as refusal, signEnvelope, signedRequestHeaders,
} from "./keys.js";
import { storedKeys } from "./key_store.js";

const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

const BUILDERS = {
  vote: async (form) => [
    "VoteCast", { contribution: form.dataset.contribution, kind: form.elements.kind.value },
  ],
  submit: async (form, record) => {
    const file = form.elements.file.files[0];
    if (!file) throw new Error("choose the file of your piece first");
    const kind = form.elements.kind.value;
    const data = new Uint8Array(await file.arrayBuffer());
    const content = hex(await crypto.subtle.digest("SHA-256", data));
    const path = `/content/${content}`;
    const query = `campaign=${encodeURIComponent(form.dataset.campaign)}&kind=${kind}`;
    const jwk = { actor: record.actor, kid: record.kid };
    const headers = await signedRequestHeaders(record.signingKey, jwk, "PUT", path, query, data);
    const stored = await fetch(`${path}?${query}`, { method: "PUT", headers, body: data });
    if (!stored.ok) throw new Refused(await refusal(stored));
    return ["ContributionSubmitted", { content, kind, title: form.elements.title.value, derived_from: [] }];
  },
};

class Refused extends Error {}

/** Sign `type` with `body` as the member with `record`'s key, and post it. */
async function act(record, type, body, campaign) {
  const state = await fetch(`/actors/${record.actor}`);
  if (!state.ok) return await refusal(state);
  const { next_seq: seq } = await state.json();
  const jwk = { actor: record.actor, kid: record.kid };
  const envelope = await signEnvelope(record.signingKey, jwk, type, body, { seq, campaign });
  const response = await fetch("/events", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: envelopeLine(envelope),
  });
  if (!response.ok) return await refusal(response);
  const { position } = await response.json();
  return `Signed and recorded: ${type} at log position ${position}.`;
}

const forms = document.querySelectorAll("form[data-act]");
if (forms.length) {
  const records = await storedKeys().catch(() => []);
  const record = records[0];
  if (record) {
    document.querySelectorAll(".needs-key").forEach((el) => { el.hidden = true; });
    for (const form of forms) {
      form.hidden = false;
      const status = form.querySelector(".status");
      status.textContent = `as ${record.actor.slice(0, 8)}…`;
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = form.querySelector("button");
        button.disabled = true;
        status.textContent = "Signing…";
        try {
          const [type, body] = await BUILDERS[form.dataset.act](form, record);
          status.textContent = await act(record, type, body, form.dataset.campaign);
        } catch (error) {
          status.textContent = error instanceof Refused ? error.message : String(error);
        }
        button.disabled = false;
      });
    }
  }
}
