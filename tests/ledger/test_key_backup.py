"""The key backup (``ledger/key_backup.py``): a key file sealed under a passphrase, opened
again only with it; every way a file can be out of shape or altered is refused by type and
sentence. The browser's half (``api/web/static/keys.js``) is checked against this one in
``tests/browser/test_keys_browser.py``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical
from ledger.key_backup import (
    MIN_ITERATIONS,
    KeyBackupError,
    WrongPassphraseError,
    open_backup,
    seal,
)
from ledger.keys import b64url_decode
from tests.support import seeded_key

KEY = seeded_key(4242)
FAST = MIN_ITERATIONS  # the least a reader opens: the tests' files, not a user's


def sealed(**kw: Any) -> dict[str, Any]:
    return json.loads(seal(KEY, "correct horse", iterations=FAST, **kw))


def test_a_backup_opens_with_its_passphrase_and_gives_the_same_key() -> None:
    data = seal(KEY, "correct horse", iterations=FAST)
    back = open_backup(data, "correct horse")
    assert (back.actor, back.key_id, back.public_bytes) == (KEY.actor, KEY.key_id, KEY.public_bytes)
    doc = json.loads(data)
    assert list(doc) == ["format", "actor", "kid", "kdf", "cipher", "ciphertext"]
    assert (doc["actor"], doc["kdf"]["iterations"]) == (KEY.actor, FAST)
    assert KEY.to_jwk()["d"] not in data.decode()  # the private part is only sealed


def test_the_default_is_owasps_pbkdf2_count_and_fresh_randomness_each_time() -> None:
    one, two = (json.loads(seal(KEY, "p")) for _ in range(2))
    assert one["kdf"]["iterations"] == 600_000
    assert one["kdf"]["salt"] != two["kdf"]["salt"] and one["cipher"]["iv"] != two["cipher"]["iv"]


def test_another_implementation_opens_it_from_the_specification() -> None:
    """hashlib's PBKDF2 and AES-GCM over the documented associated data, not this module."""
    doc = sealed()
    salt = b64url_decode(doc["kdf"]["salt"])
    key = hashlib.pbkdf2_hmac("sha256", b"correct horse", salt, FAST, 32)
    header = {k: v for k, v in doc.items() if k != "ciphertext"}
    plain = AESGCM(key).decrypt(
        b64url_decode(doc["cipher"]["iv"]), b64url_decode(doc["ciphertext"]), canonical(header)
    )
    assert plain == canonical(KEY.to_jwk())


def test_a_wrong_passphrase_is_refused_with_its_sentence() -> None:
    with pytest.raises(WrongPassphraseError) as refused:
        open_backup(seal(KEY, "correct horse", iterations=FAST), "Correct horse")
    assert refused.value.detail == (
        f"this passphrase does not open the key backup of {KEY.actor} (or the file was altered)"
    )
    assert refused.value.code == "WrongPassphrase"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["kdf"].update(iterations=FAST + 1),
        lambda d: d.update(actor=seeded_key(1).actor),
        lambda d: d["cipher"].update(iv="A" * 16),
    ],
    ids=["iterations", "actor", "iv"],
)
def test_an_altered_field_does_not_open_as_a_wrong_passphrase_does(change: Any) -> None:
    doc = sealed()
    change(doc)
    with pytest.raises(WrongPassphraseError):
        open_backup(json.dumps(doc).encode(), "correct horse")


def test_one_passphrase_typed_composed_or_decomposed_is_one_key() -> None:
    data = seal(KEY, "caf\u00e9", iterations=FAST)
    assert open_backup(data, "cafe\u0301").actor == KEY.actor


@pytest.mark.parametrize(
    "change, sentence",
    [
        (lambda d: d.update(format="cocred-key-backup/v9"),
         "not a key backup: its format must be 'cocred-key-backup/v1'"),
        (lambda d: d.update(extra=1),
         "a key backup has exactly the fields actor, cipher, ciphertext, format, kdf, kid"),
        (lambda d: d["kdf"].update(iterations=1000),
         "kdf iterations must be an integer 100,000-10,000,000, got 1000"),
        (lambda d: d["kdf"].update(iterations=10**9),
         "kdf iterations must be an integer 100,000-10,000,000, got 1000000000"),
        (lambda d: d["kdf"].update(hash="SHA-1"),
         "kdf must be {name: PBKDF2, hash: SHA-256, iterations, salt}"),
        (lambda d: d["cipher"].update(name="AES-CBC"), "cipher must be {name: AES-GCM, iv}"),
        (lambda d: d["kdf"].update(salt="AAAA"), "kdf salt must encode 16 bytes, got 3"),
        (lambda d: d.update(kid="short"), "kid must be a 43-character id"),
        (lambda d: d.update(ciphertext=7), "salt, iv and ciphertext are base64url strings"),
    ],
    ids=["format", "extra", "few-iterations", "many-iterations", "hash", "cipher", "salt",
         "kid", "ciphertext"],
)  # fmt: skip
def test_a_file_out_of_shape_is_refused_before_any_key_is_derived(
    change: Any, sentence: str
) -> None:
    doc = sealed()
    change(doc)
    with pytest.raises(KeyBackupError) as refused:
        open_backup(json.dumps(doc).encode(), "correct horse")
    assert refused.value.detail == sentence and refused.value.code == "BadKeyBackup"


def test_not_json_and_too_large_are_refused() -> None:
    with pytest.raises(KeyBackupError, match="^a key backup is JSON: "):
        open_backup(b"\x00not json", "p")
    with pytest.raises(KeyBackupError) as refused:
        open_backup(b" " * 20_000, "p")
    assert refused.value.detail == "a key backup is at most 16,384 bytes, not 20,000"
    with pytest.raises(KeyBackupError) as empty:
        open_backup(seal(KEY, "p", iterations=FAST), "")
    assert empty.value.detail == "the passphrase is empty"
    with pytest.raises(KeyBackupError) as weak:
        seal(KEY, "p", iterations=FAST - 1)
    assert weak.value.detail == "iterations must be 100,000-10,000,000, got 99,999"


@settings(max_examples=8, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_passphrase_round_trips(passphrase: str) -> None:
    assert open_backup(seal(KEY, passphrase, iterations=FAST), passphrase).actor == KEY.actor


def test_a_backup_of_a_rotated_key_keeps_its_actor(tmp_path: Path) -> None:
    rotated = seeded_key(99).for_actor(KEY.actor)
    back = open_backup(seal(rotated, "p", iterations=FAST), "p")
    assert (back.actor, back.key_id) == (KEY.actor, rotated.key_id)
