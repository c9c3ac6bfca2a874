// /keys/import: a key's backup opened in the page (keys.js) and kept in this browser's
// IndexedDB ("cocred" / "keys", by actor) as a non-extractable key, as /c/{c}/join keeps
// a new one. The file and the passphrase never leave the page.

import { KeyBackupError, openBackup } from "./keys.js";
import { storeKey } from "./key_store.js";

const form = document.getElementById("import-form");

if (form) {
  form.hidden = false;
  document.querySelectorAll(".needs-script").forEach((el) => { el.hidden = true; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = document.getElementById("import-result");
    const file = document.getElementById("backup-file").files[0];
    if (!file) {
      result.textContent = "Choose your key backup file first.";
      return;
    }
    try {
      const { jwk, signingKey } = await openBackup(
        await file.text(), document.getElementById("import-passphrase").value,
      );
      await storeKey({ actor: jwk.actor, kid: jwk.kid, x: jwk.x, signingKey });
      result.textContent = `The key of ${jwk.actor} is now kept in this browser.`;
    } catch (error) {
      result.textContent = error instanceof KeyBackupError
        ? `error[${error.code}]: ${error.detail}`
        : String(error);
    }
  });
}
