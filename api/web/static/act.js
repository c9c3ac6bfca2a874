// Acting from a page with the key this browser keeps (key_store.js): each form with a
// `data-act` is shown once a key is here, signs its event in the page (keys.js
// signEnvelope, the seq from GET /actors/{actor}) and posts it to POST /events. The answer
// is shown beside the form: the position, or the API's typed sentence error[Code]: detail.
//
//   data-act="vote"  VoteCast {contribution, kind} in data-campaign

import { envelopeLine, signEnvelope } from "./keys.js";
import { storedKeys } from "./key_store.js";

const BUILDERS = {
  vote: (form) => ["VoteCast", { contribution: form.dataset.contribution, kind: form.elements.kind.value }],
};

async function refusal(response) {
  try {
    const answer = await response.json();
    return `error[${answer.error}]: ${answer.detail}`;
  } catch (error) {
    return `error[ServerError]: the server answered HTTP ${response.status}`;
  }
}

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
    for (const form of forms) {
      form.hidden = false;
      const status = form.querySelector(".status");
      status.textContent = `as ${record.actor.slice(0, 8)}…`;
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = form.querySelector("button");
        button.disabled = true;
        const [type, body] = BUILDERS[form.dataset.act](form);
        try {
          status.textContent = await act(record, type, body, form.dataset.campaign);
        } catch (error) {
          status.textContent = String(error);
        }
        button.disabled = false;
      });
    }
  }
}
