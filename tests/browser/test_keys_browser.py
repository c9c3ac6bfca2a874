"""The browser's key backup (``api/web/static/keys.js``) against the Python one
(``ledger/key_backup.py``), in Debian's Chromium: each opens what the other sealed, the same
key with the same salt and IV seals to the same bytes on both sides, a key opened in the
browser is non-extractable and its signatures verify in Python, and a wrong passphrase is
the same typed sentence on both sides."""

from __future__ import annotations

import json
from typing import Any

from ledger.key_backup import MIN_ITERATIONS, open_backup, seal
from ledger.keys import b64url_decode, verify_signature
from tests.support import seeded_key

MODULE = "/static/keys.js"
SALT, IV = bytes(range(16)), bytes(range(100, 112))


def run(page: Any, script: str, arg: Any = None) -> Any:
    """``script`` (the body of an async function of ``keys`` and ``arg``) in the page."""
    page.goto("/verify")
    return page.evaluate(
        f"async (arg) => {{ const keys = await import('{MODULE}'); {script} }}", arg
    )


def test_a_key_made_and_sealed_in_the_browser_opens_in_python(page: Any) -> None:
    made = run(
        page,
        """
        const jwk = await keys.newKey();
        const text = await keys.sealBackup(jwk, "correct horse", {iterations: arg});
        return {jwk, text};
        """,
        MIN_ITERATIONS,
    )
    key = open_backup(made["text"].encode(), "correct horse")
    assert key.actor == made["jwk"]["actor"] == key.key_id  # the actor id is the key's id
    assert key.to_jwk() == made["jwk"]


def test_both_sides_seal_one_key_to_the_same_bytes(page: Any) -> None:
    key = seeded_key(808)
    text = run(
        page,
        """
        const [jwk, salt, iv] = arg;
        return keys.sealBackup(jwk, "caf\\u00e9", {iterations: 100000,
          salt: Uint8Array.from(salt), iv: Uint8Array.from(iv)});
        """,
        [key.to_jwk(), list(SALT), list(IV)],
    )
    assert text.encode() == seal(key, "caf\u00e9", iterations=MIN_ITERATIONS, salt=SALT, iv=IV)


def test_a_python_backup_opens_in_the_browser_non_extractable_and_signs(page: Any) -> None:
    key = seeded_key(909)
    message = b"cocred: signed in the browser"
    opened = run(
        page,
        """
        const [text, message] = arg;
        const {jwk, signingKey} = await keys.openBackup(text, "cafe\\u0301");
        const signature = await keys.sign(signingKey, new TextEncoder().encode(message));
        return {actor: jwk.actor, extractable: signingKey.extractable,
                usages: signingKey.usages, signature: keys.b64url(signature)};
        """,
        [seal(key, "caf\u00e9", iterations=MIN_ITERATIONS).decode(), message.decode()],
    )
    assert (opened["actor"], opened["extractable"], opened["usages"]) == (
        key.actor,
        False,
        ["sign"],
    )
    signature = b64url_decode(opened["signature"], length=64)
    assert verify_signature(key.public_bytes, message, signature)
    assert signature == key.sign(message)  # Ed25519 is deterministic: the very same bytes


def test_a_wrong_passphrase_or_an_altered_file_is_the_same_sentence_as_in_python(
    page: Any,
) -> None:
    key = seeded_key(1001)
    text = seal(key, "right", iterations=MIN_ITERATIONS).decode()
    altered = json.loads(text)
    altered["kdf"]["iterations"] = 5
    refusals = run(
        page,
        """
        const out = [];
        for (const [text, passphrase] of arg) {
          try { await keys.openBackup(text, passphrase); out.push(null); }
          catch (error) { out.push([error.code, error.detail]); }
        }
        return out;
        """,
        [[text, "wrong"], [json.dumps(altered), "right"], ["{}", "right"]],
    )
    assert refusals == [
        ["WrongPassphrase", f"this passphrase does not open the key backup of {key.actor} (or "
                            f"the file was altered)"],
        ["BadKeyBackup", "kdf iterations must be an integer 100,000-10,000,000, got 5"],
        ["BadKeyBackup", "not a key backup: its format must be 'cocred-key-backup/v1'"],
    ]  # fmt: skip
