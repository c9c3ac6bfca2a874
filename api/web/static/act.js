// Acting from a page with the key this browser keeps (key_store.js): each form with a
// `data-act` is shown once a key is here (and, with `data-for="ACTOR …"`, only to those
// actors), and its `.needs-script` notice hidden. Sending the form first shows what is
// to be signed — the event type and its body as canonical JSON (RFC 8785) — with a
// "Sign and send" button; that button stores any text or file in the content store
// (PUT /content/{sha256}, a signed request), signs the event in the page (keys.js
// signEnvelope, the seq from GET /actors/{actor}) and posts it to POST /events. The answer
// is shown beside the form: the position, or the API's typed sentence error[Code]: detail.
//
//   data-act="vote"    VoteCast {contribution, kind} in data-campaign
//   data-act="submit"  ContributionSubmitted {content, kind, title, derived_from: []}, the
//                      chosen file stored first
//   data-act="event"   any event: type in data-type; each input named `body.<field>` is a
//                      body field (a string; with `data-json` its value parsed as JSON, a
//                      checkbox true/false; `data-content="<field>"` on a textarea: its UTF-8
//                      text stored as kind=text and its SHA-256 the field, null when empty;
//                      `data-list`: the value's words (split on spaces and commas) as a
//                      list; `data-optional`: the field left out when its value is empty)

import canonicalize from "./vendor/canonicalize/canonicalize.js";
import {
  envelopeLine, refusalOf as refusal, signEnvelope, signedRequestHeaders,
} from "./keys.js";
import { storedKeys } from "./key_store.js";

const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (data) => hex(await crypto.subtle.digest("SHA-256", data));

/** Each builder: the form -> { type, body, uploads: [{ data, kind }] to store first }. */
const BUILDERS = {
  vote: async (form) => ({
    type: "VoteCast",
    body: { contribution: form.dataset.contribution, kind: form.elements.kind.value },
    uploads: [],
  }),
  submit: async (form) => {
    const file = form.elements.file.files[0];
    if (!file) throw new Refused("choose the file of your piece first");
    const kind = form.elements.kind.value;
    const data = new Uint8Array(await file.arrayBuffer());
    const content = await sha256(data);
    const body = { content, kind, title: form.elements.title.value, derived_from: [] };
    return { type: "ContributionSubmitted", body, uploads: [{ data, kind }] };
  },
  event: async (form) => {
    const body = {};
    const uploads = [];
    for (const el of form.elements) {
      const field = el.dataset.content ?? (el.name?.startsWith("body.") ? el.name.slice(5) : null);
      if (field === null || ((el.type === "radio" || el.type === "checkbox") && !el.checked
          && !("json" in el.dataset))) continue;
      if ("optional" in el.dataset && !el.value.trim()) continue;
      if ("content" in el.dataset) {
        const data = new TextEncoder().encode(el.value);
        if (data.length) uploads.push({ data, kind: "text" });
        body[field] = data.length ? await sha256(data) : null;
      } else if (el.type === "checkbox" && "json" in el.dataset) {
        body[field] = el.checked;
      } else if ("list" in el.dataset) {
        body[field] = el.value.split(/[\s,]+/).filter(Boolean);
      } else if ("json" in el.dataset) {
        try { body[field] = JSON.parse(el.value); } catch {
          throw new Refused(`${field} is not JSON: ${el.value}`);
        }
      } else {
        body[field] = el.value;
      }
    }
    return { type: form.dataset.type, body, uploads };
  },
};

class Refused extends Error {}

/** Store `data` in the content store for `campaign`, as a request signed with `record`. */
async function upload(record, campaign, { data, kind }) {
  const path = `/content/${await sha256(data)}`;
  const query = `campaign=${encodeURIComponent(campaign)}&kind=${kind}`;
  const jwk = { actor: record.actor, kid: record.kid };
  const headers = await signedRequestHeaders(record.signingKey, jwk, "PUT", path, query, data);
  const stored = await fetch(`${path}?${query}`, { method: "PUT", headers, body: data });
  if (!stored.ok) throw new Refused(await refusal(stored));
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

/** The part of `form` that shows what is to be signed, with its "Sign and send" button. */
function previewOf(form) {
  const box = document.createElement("div");
  box.className = "to-sign";
  box.hidden = true;
  const said = document.createElement("p");
  said.className = "small";
  said.textContent = "You are about to sign, with the key kept in this browser:";
  const shown = document.createElement("pre");
  shown.className = "mono small signed-event";
  shown.tabIndex = 0;
  shown.setAttribute("aria-label", "The event you will sign");
  const send = document.createElement("button");
  send.type = "button";
  send.className = "sign-and-send";
  send.textContent = "Sign and send";
  box.append(said, shown, send);
  form.querySelector(".status").before(box);
  return { box, shown, send };
}

function enable(form, record) {
  form.hidden = false;
  const status = form.querySelector(".status");
  status.textContent = `as ${record.actor.slice(0, 8)}…`;
  const preview = previewOf(form);
  let pending = null;
  form.addEventListener("input", () => { preview.box.hidden = true; pending = null; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      pending = await BUILDERS[form.dataset.act](form);
      preview.shown.textContent = `${pending.type}\n${canonicalize(pending.body)}`;
      preview.box.hidden = false;
      status.textContent = "Check what you sign, then press Sign and send.";
      preview.send.focus();
    } catch (error) {
      status.textContent = error instanceof Refused ? error.message : String(error);
    }
  });
  preview.send.addEventListener("click", async () => {
    if (!pending) return;
    const { type, body, uploads } = pending;
    preview.send.disabled = true;
    status.textContent = "Signing…";
    try {
      for (const stored of uploads) await upload(record, form.dataset.campaign, stored);
      status.textContent = await act(record, type, body, form.dataset.campaign);
    } catch (error) {
      status.textContent = error instanceof Refused ? error.message : String(error);
    }
    preview.send.disabled = false;
  });
}

const forms = document.querySelectorAll("form[data-act]");
if (forms.length) {
  const records = await storedKeys().catch(() => []);
  const record = records[0];
  if (record) {
    document.querySelectorAll(".needs-key").forEach((el) => { el.hidden = true; });
    for (const form of forms) {
      const only = form.dataset.for?.split(" ");
      if (only && !only.includes(record.actor)) continue;
      form.closest(".act-block")?.querySelector(".needs-script")?.setAttribute("hidden", "");
      enable(form, record);
    }
  }
}
