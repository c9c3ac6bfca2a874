// Payout exports signed in the browser: the brand's private key never leaves this page.
//
// The brand picks the key file `cocred keys new` wrote (a private Ed25519 JWK with `actor`);
// WebCrypto imports it as a non-extractable key. Each export button then fetches
// GET /campaigns/{campaign}/payouts/export?format=F as a request signed with cocred's
// RFC 9421 profile (api/http/auth.py): Content-Digest of the empty body, and an Ed25519
// signature over the signature base of "@method" "@path" "@query" "content-digest"
// with created, a fresh nonce and keyid "<actor>/<key id>". The file is then saved.
"use strict";

(function () {
  const COMPONENTS = '("@method" "@path" "@query" "content-digest")';
  const EXTENSIONS = { csv: "csv", json: "json", "safe-csv": "csv", "paypal-csv": "csv", canonical: "json" };
  const encoder = new TextEncoder();

  function b64(bytes) {
    let text = "";
    for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
    return btoa(text);
  }

  function b64url(bytes) {
    return b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function sha256(data) {
    return crypto.subtle.digest("SHA-256", typeof data === "string" ? encoder.encode(data) : data);
  }

  // RFC 7638 thumbprint of the public key: the key id cocred uses.
  async function keyId(x) {
    return b64url(await sha256('{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}'));
  }

  async function loadKey(text) {
    let jwk;
    try {
      jwk = JSON.parse(text);
    } catch (err) {
      throw new Error("this file is not JSON: choose the key file `cocred keys new` wrote");
    }
    const fields = jwk && typeof jwk === "object" ? jwk : {};
    if (fields.kty !== "OKP" || fields.crv !== "Ed25519" || !fields.x || !fields.d) {
      throw new Error("this file is not a private Ed25519 key (kty OKP, crv Ed25519, x and d)");
    }
    if (typeof fields.actor !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(fields.actor)) {
      throw new Error("the key file does not say which actor it signs for (its `actor` member)");
    }
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      throw new Error("signing needs a secure page (https, or http on localhost): open this page over https");
    }
    let key;
    try {
      key = await crypto.subtle.importKey(
        "jwk",
        { kty: "OKP", crv: "Ed25519", x: fields.x, d: fields.d },
        { name: "Ed25519" },
        false,
        ["sign"]
      );
    } catch (err) {
      throw new Error("this browser cannot use the key (Ed25519 in WebCrypto needs Chromium 137+, Firefox 129+ or Safari 17+): " + err.message);
    }
    return { key: key, actor: fields.actor, kid: await keyId(fields.x) };
  }

  // The signature base of api/http/auth.py's signature_base(), byte for byte.
  function signatureBase(method, path, query, digest, params) {
    return [
      '"@method": ' + method.toUpperCase(),
      '"@path": ' + path,
      '"@query": ?' + query,
      '"content-digest": ' + digest,
      '"@signature-params": ' + params,
    ].join("\n");
  }

  async function signedHeaders(signer, method, path, query) {
    const digest = "sha-256=:" + b64(await sha256(new Uint8Array(0))) + ":";
    const created = Math.floor(Date.now() / 1000);
    const nonce = b64url(crypto.getRandomValues(new Uint8Array(18)));
    const params = COMPONENTS + ";created=" + created + ';nonce="' + nonce + '";keyid="' +
      signer.actor + "/" + signer.kid + '";alg="ed25519"';
    const base = signatureBase(method, path, query, digest, params);
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, signer.key, encoder.encode(base));
    return {
      "Content-Digest": digest,
      "Signature-Input": "sig1=" + params,
      "Signature": "sig1=:" + b64(signature) + ":",
    };
  }

  function fileName(response, campaign, format) {
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="?([^";]+)"?/.exec(disposition);
    return match ? match[1] : campaign + "-payouts-" + format + "." + (EXTENSIONS[format] || "txt");
  }

  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  async function refusal(response) {
    try {
      const body = await response.json();
      if (body && body.error) return "error[" + body.error + "]: " + body.detail;
    } catch (err) {
      // not a cocred error body: fall through to the status line
    }
    return "the server answered " + response.status + " " + response.statusText;
  }

  function setup(form) {
    const campaign = form.dataset.campaign;
    const input = form.querySelector("#key-file");
    const status = form.querySelector("#export-status");
    const buttons = Array.from(form.querySelectorAll(".export-button"));
    let signer = null;
    form.addEventListener("submit", function (event) { event.preventDefault(); });

    function say(text, kind) {
      status.textContent = text;
      status.className = "status" + (kind ? " " + kind : "");
    }

    input.addEventListener("change", async function () {
      signer = null;
      buttons.forEach(function (b) { b.disabled = true; });
      const file = input.files && input.files[0];
      if (!file) return say("Choose the key file to enable the buttons.");
      try {
        signer = await loadKey(await file.text());
      } catch (err) {
        return say(err.message, "bad");
      }
      buttons.forEach(function (b) { b.disabled = false; });
      say("Key loaded for actor " + signer.actor.slice(0, 12) + "… (it stays in this page). Pick a format.", "ok");
    });

    buttons.forEach(function (button) {
      button.addEventListener("click", async function () {
        if (!signer) return say("Choose the key file first.", "bad");
        const format = button.dataset.format;
        const path = "/campaigns/" + encodeURIComponent(campaign) + "/payouts/export";
        const query = new URLSearchParams({ format: format }).toString();
        say("Signing and fetching the " + format + " export…");
        try {
          const headers = await signedHeaders(signer, "GET", path, query);
          const response = await fetch(path + "?" + query, { headers: headers, cache: "no-store" });
          if (!response.ok) return say(await refusal(response), "bad");
          const blob = await response.blob();
          const name = fileName(response, campaign, format);
          save(blob, name);
          say("Saved " + name + " (" + blob.size + " bytes).", "ok");
        } catch (err) {
          say("The export failed: " + err.message, "bad");
        }
      });
    });
  }

  document.querySelectorAll("form.export").forEach(setup);
})();
