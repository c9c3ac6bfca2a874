"""Signed checkpoints: the C2SP formats, published vectors, forgeries and garbage."""

from __future__ import annotations

import base64
import hashlib

import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import SignatureError, VerificationError
from ledger.provenance.merkle import EMPTY_ROOT
from ledger.provenance.note import (
    Checkpoint,
    MalformedCheckpointError,
    MalformedKeyError,
    MalformedNoteError,
    NoteSignature,
    NoteSigner,
    SignedCheckpoint,
    VerifierKey,
    verify_checkpoint,
    verify_note,
)

SEED = bytes(range(32))
NAME = "log.example/cocred"
ROOT = hashlib.sha256(b"a root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()


def signer(name: str = NAME, seed: bytes = SEED) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(seed))


def checkpoint(size: int = 42) -> Checkpoint:
    return Checkpoint(NAME, size, ROOT)


def signed_text(size: int = 42) -> str:
    return signer().sign(checkpoint(size)).to_text()


def flip_byte(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def key_of(s: NoteSigner) -> str:
    return f"{s.name}+{s.key_id.hex()}"


# -- the body --------------------------------------------------------------------------


def test_a_checkpoint_body_is_origin_size_and_base64_root_on_their_own_lines() -> None:
    assert checkpoint().body() == f"{NAME}\n42\n{ROOT_B64}\n".encode()
    with_extensions = Checkpoint(NAME, 0, EMPTY_ROOT, ("epoch 7", "note"))
    assert with_extensions.body() == (
        f"{NAME}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nepoch 7\nnote\n".encode()
    )
    assert Checkpoint.from_body(with_extensions.body()) == with_extensions


def test_a_signed_checkpoint_renders_back_to_exactly_the_text_it_was_parsed_from() -> None:
    text = signed_text()
    parsed = SignedCheckpoint.from_text(text)
    assert parsed.checkpoint == checkpoint()
    assert parsed.to_text() == text
    assert SignedCheckpoint.from_text(text.encode()) == parsed


# -- signing and verifying -------------------------------------------------------------


def test_a_checkpoint_signed_by_the_log_verifies_with_its_verifier_key() -> None:
    log = signer()
    signed = log.sign(checkpoint())
    assert verify_checkpoint(signed.to_text(), log.vkey) == checkpoint()
    assert verify_checkpoint(signed.to_text().encode(), log.vkey) == checkpoint()
    assert verify_checkpoint(signed, log.vkey) == checkpoint()


def test_the_signature_line_and_verifier_key_match_ones_built_by_hand_from_the_spec() -> None:
    # Built from c2sp.org/signed-note with PyNaCl and hashlib only: the key id is
    # SHA-256(name || 0x0A || 0x01 || public key)[:4], the line is
    # "— <name> base64(key id || Ed25519 signature over the body)".
    signing_key = nacl.signing.SigningKey(SEED)
    public = bytes(signing_key.verify_key)
    key_id = hashlib.sha256(NAME.encode() + b"\n\x01" + public).digest()[:4]
    body = f"{NAME}\n42\n{ROOT_B64}\n".encode()
    signature = signing_key.sign(body).signature
    line = "\u2014 " + NAME + " " + base64.b64encode(key_id + signature).decode() + "\n"
    expected_text = body.decode() + "\n" + line
    expected_vkey = f"{NAME}+{key_id.hex()}+" + base64.b64encode(b"\x01" + public).decode()

    log = signer()
    assert log.sign(checkpoint()).to_text() == expected_text
    assert log.vkey == expected_vkey
    assert verify_checkpoint(expected_text, expected_vkey) == checkpoint()


# golang.org/x/mod sumdb/note/note_test.go (golang/mod, sumdb/note/note_test.go):
# TestSign / TestOpen, a key pair and signatures made by the Go implementation.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwn"
    "WLox33WWd1RvMc+QQ=\n"
)


def test_signing_reproduces_the_go_sumdb_note_vector_byte_for_byte() -> None:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]  # 0x01 || 32-byte seed
    peter = signer("PeterNeumann", seed)
    assert peter.vkey == PETER_VKEY
    assert peter.sign_note(GO_TEXT) == GO_TEXT + "\n" + PETER_SIG


def test_a_go_signed_note_verifies_for_each_of_its_signers_and_ignores_the_other() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(note, PETER_VKEY) == GO_TEXT
    assert verify_note(note, ENOCH_VKEY) == GO_TEXT


# transparency-dev/formats, log/note_test.go (TestSumDBNoteParsing): a real
# checkpoint of the Go checksum database and that log's published verifier key.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "6476701\n"
    "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n"
    "\n"
    "\u2014 sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4n"
    "PRYfvimWEPWL+o3GeoWwOoAw=\n"
)


def test_a_real_go_checksum_database_checkpoint_verifies() -> None:
    verified = verify_checkpoint(SUMDB_CHECKPOINT, SUMDB_VKEY)
    assert verified.origin == "go.sum database tree"
    assert verified.size == 6476701
    assert base64.b64encode(verified.root_hash) == b"mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk="
    assert SignedCheckpoint.from_text(SUMDB_CHECKPOINT).to_text() == SUMDB_CHECKPOINT


# -- forgeries -------------------------------------------------------------------------


def test_a_changed_tree_size_breaks_the_signature() -> None:
    forged = signed_text().replace("\n42\n", "\n43\n", 1)
    with pytest.raises(SignatureError) as refused:
        verify_checkpoint(forged, signer().vkey)
    assert isinstance(refused.value, VerificationError)
    body_length = len(checkpoint(43).body())
    assert refused.value.detail == (
        f"checkpoint: bad signature by key {key_of(signer())} over the {body_length}-byte note text"
    )


def test_a_changed_root_hash_breaks_the_signature() -> None:
    other_root = base64.b64encode(bytes([ROOT[0] ^ 1]) + ROOT[1:]).decode()
    forged = signed_text().replace(ROOT_B64, other_root)
    with pytest.raises(SignatureError, match=r"^checkpoint: bad signature by key log\.example/"):
        verify_checkpoint(forged, signer().vkey)


def test_a_flipped_byte_in_the_signature_breaks_it() -> None:
    signed = signer().sign(checkpoint())
    (good,) = signed.signatures
    broken = NoteSignature(good.name, good.key_id, flip_byte(good.signature, 10))
    forged = SignedCheckpoint(signed.checkpoint, (broken,)).to_text()
    with pytest.raises(SignatureError) as refused:
        verify_checkpoint(forged, signer().vkey)
    assert refused.value.detail.startswith(f"checkpoint: bad signature by key {key_of(signer())}")


def test_a_truncated_signature_from_the_known_key_is_refused() -> None:
    signed = signer().sign(checkpoint())
    (good,) = signed.signatures
    short = NoteSignature(good.name, good.key_id, good.signature[:63])
    with pytest.raises(SignatureError) as refused:
        verify_checkpoint(SignedCheckpoint(signed.checkpoint, (short,)), signer().vkey)
    assert refused.value.detail == (
        f"checkpoint: signature by key {key_of(signer())} is 63 bytes, expected 64"
    )


def test_a_checkpoint_is_refused_under_a_key_name_that_did_not_sign_it() -> None:
    other = signer("other.example/log")
    with pytest.raises(VerificationError) as refused:
        verify_checkpoint(signed_text(), other.vkey)
    assert refused.value.detail == (
        f"checkpoint: no signature by key {key_of(other)} (signed by: {key_of(signer())})"
    )


def test_a_checkpoint_is_refused_under_another_key_with_the_same_name() -> None:
    impostor = signer(NAME, bytes(32))
    with pytest.raises(VerificationError, match=r"^checkpoint: no signature by key log\.example/"):
        verify_checkpoint(signed_text(), impostor.vkey)


def test_a_checkpoint_signed_only_by_others_is_missing_the_logs_signature() -> None:
    witness = signer("witness.example/w1", bytes([7]) * 32)
    text = witness.sign(checkpoint()).to_text()
    with pytest.raises(VerificationError) as refused:
        verify_checkpoint(text, signer().vkey)
    assert refused.value.detail == (
        f"checkpoint: no signature by key {key_of(signer())} (signed by: {key_of(witness)})"
    )


def test_other_signers_lines_are_ignored_even_when_they_are_garbage() -> None:
    log, witness = signer(), signer("witness.example/w1", bytes([7]) * 32)
    cosigned = witness.sign(log.sign(checkpoint()))
    junk = NoteSignature("stranger.example", b"\x00\x01\x02\x03", b"not a signature")
    text = SignedCheckpoint(cosigned.checkpoint, (*cosigned.signatures, junk)).to_text()
    assert verify_checkpoint(text, log.vkey) == checkpoint()
    assert verify_checkpoint(text, witness.vkey) == checkpoint()


def test_one_bad_line_from_the_known_key_spoils_a_good_one() -> None:
    signed = signer().sign(checkpoint())
    (good,) = signed.signatures
    bad = NoteSignature(good.name, good.key_id, bytes(64))
    with pytest.raises(SignatureError, match=r"^checkpoint: bad signature by key "):
        verify_checkpoint(SignedCheckpoint(signed.checkpoint, (good, bad)), signer().vkey)


def test_signing_again_replaces_the_signers_own_line_and_keeps_the_others() -> None:
    log, witness = signer(), signer("witness.example/w1", bytes([7]) * 32)
    cosigned = log.sign(witness.sign(log.sign(checkpoint())))
    assert [s.name for s in cosigned.signatures] == ["witness.example/w1", NAME]


# -- malformed input -------------------------------------------------------------------

SIG_LINE = signed_text().split("\n\n")[1]
SIG_B64 = SIG_LINE.split(" ")[2].strip()
BODY = f"{NAME}\n42\n{ROOT_B64}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "signed note: no blank line between the text and the signatures"),
        (BODY, "signed note: no blank line between the text and the signatures"),
        (BODY + "\n", "signed note: no signature lines after the blank line"),
        (
            BODY + "\n" + SIG_LINE[:-1],
            "signed note: the last signature line does not end with a newline",
        ),
        (
            BODY + "\n" + SIG_LINE + "Unexpected line.\n",
            "signed note: signature line 2 is not '— <name> <base64>'",
        ),
        (
            BODY + "\n" + f"- {NAME} {SIG_B64}\n",
            "signed note: signature line 1 is not '— <name> <base64>'",
        ),
        (
            BODY + "\n" + f"\u2014 {NAME}  {SIG_B64}\n",
            "signed note: signature line 1 is not '— <name> <base64>'",
        ),
        (
            BODY + "\n" + f"\u2014 a+b {SIG_B64}\n",
            "signed note: signature line 1: key name 'a+b'"
            " contains a space, '+' or control character",
        ),
        (
            BODY + "\n" + f"\u2014 a\u00a0b {SIG_B64}\n",
            "signed note: signature line 1: key name 'a\\xa0b'"
            " contains a space, '+' or control character",
        ),
        (
            BODY + "\n" + f"\u2014 {NAME} AAAA\n",
            "signed note: signature line 1 is not base64 of key id + signature",
        ),
        (
            BODY + "\n" + f"\u2014 {NAME} {SIG_B64[:-2]}\n",
            "signed note: signature line 1 is not base64 of key id + signature",
        ),
        (
            BODY + "\n" + f"\u2014 {NAME} {SIG_B64[:-1]}\n",
            "signed note: signature line 1 is not base64 of key id + signature",
        ),
        (BODY + "\n" + SIG_LINE * 101, "signed note: 101 signatures, at most 100"),
        (
            BODY.replace("\n42", "\t\n42") + "\n" + SIG_LINE,
            "signed note: contains a control character other than newline",
        ),
        (BODY + "\r\n" + SIG_LINE, "signed note: contains a control character other than newline"),
        ("\ud800" + BODY + "\n" + SIG_LINE, "signed note: not valid UTF-8"),
        (b"\xff" + BODY.encode() + b"\n" + SIG_LINE.encode(), "signed note: not valid UTF-8"),
        ("x" * (1 << 20) + "\n\n" + SIG_LINE, "signed note: longer than 1048576 characters"),
        (
            f"{NAME}\n42\n\n" + SIG_LINE,
            "checkpoint: body has 2 lines, expected origin, size and root hash",
        ),
        (f"\n42\n{ROOT_B64}\n\n" + SIG_LINE, "checkpoint: origin must be a non-empty string"),
        (
            BODY.replace("\n42\n", "\n042\n") + "\n" + SIG_LINE,
            "checkpoint: size '042' is not a canonical decimal from 0 to 2**64-1",
        ),
        (
            BODY.replace("\n42\n", "\n+42\n") + "\n" + SIG_LINE,
            "checkpoint: size '+42' is not a canonical decimal from 0 to 2**64-1",
        ),
        (
            BODY.replace("\n42\n", "\n-1\n") + "\n" + SIG_LINE,
            "checkpoint: size '-1' is not a canonical decimal from 0 to 2**64-1",
        ),
        (
            BODY.replace("\n42\n", "\n 42\n") + "\n" + SIG_LINE,
            "checkpoint: size ' 42' is not a canonical decimal from 0 to 2**64-1",
        ),
        (
            BODY.replace("\n42\n", "\n\u0664\u0662\n") + "\n" + SIG_LINE,
            "checkpoint: size '٤٢' is not a canonical decimal from 0 to 2**64-1",
        ),
        (
            BODY.replace("\n42\n", "\n18446744073709551616\n") + "\n" + SIG_LINE,
            "checkpoint: size '18446744073709551616' is not a canonical decimal from 0 to 2**64-1",
        ),
        (
            BODY.replace(ROOT_B64, "bm90IGEgaGFzaA==") + "\n" + SIG_LINE,
            "checkpoint: root hash 'bm90IGEgaGFzaA==' is not canonical base64 of 32 bytes",
        ),
        (
            BODY.replace(ROOT_B64, "root!") + "\n" + SIG_LINE,
            "checkpoint: root hash 'root!' is not canonical base64 of 32 bytes",
        ),
        (
            BODY.replace(ROOT_B64, "A" * 43 + "B") + "\n" + SIG_LINE,
            f"checkpoint: root hash '{'A' * 43 + 'B'}' is not canonical base64 of 32 bytes",
        ),
        (
            BODY + "\nextension\n\n" + SIG_LINE,
            "checkpoint: extension line 1 must be a non-empty string",
        ),
    ],
)
def test_a_malformed_signed_checkpoint_is_refused_naming_the_problem(
    text: str | bytes, message: str
) -> None:
    with pytest.raises(MalformedCheckpointError) as refused:
        verify_checkpoint(text, signer().vkey)
    assert refused.value.detail == message


def test_a_malformed_generic_note_is_a_malformed_note_error() -> None:
    with pytest.raises(MalformedNoteError) as refused:
        verify_note(GO_TEXT, PETER_VKEY)
    assert not isinstance(refused.value, MalformedCheckpointError)
    assert refused.value.detail == "signed note: no blank line between the text and the signatures"
    with pytest.raises(MalformedNoteError) as refused:
        signer().sign_note("no final newline")
    assert refused.value.detail == (
        "signed note: text must end with a newline and have no control characters"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("", 1, ROOT, ()), "checkpoint: origin must be a non-empty string"),
        (("a\nb", 1, ROOT, ()), "checkpoint: origin contains a newline or control character"),
        ((NAME, -1, ROOT, ()), "checkpoint: size must be an integer from 0 to 2**64-1, got -1"),
        (
            (NAME, 2**64, ROOT, ()),
            f"checkpoint: size must be an integer from 0 to 2**64-1, got {2**64}",
        ),
        ((NAME, True, ROOT, ()), "checkpoint: size must be an integer from 0 to 2**64-1, got True"),
        ((NAME, 1, ROOT[:31], ()), "checkpoint: root hash must be 32 bytes"),
        ((NAME, 1, ROOT.hex(), ()), "checkpoint: root hash must be 32 bytes"),
        ((NAME, 1, ROOT, ("",)), "checkpoint: extension line 1 must be a non-empty string"),
        (
            (NAME, 1, ROOT, ("ok", "a\nb")),
            "checkpoint: extension line 2 contains a newline or control character",
        ),
        ((NAME, 1, ROOT, "text"), "checkpoint: extensions must be a sequence of lines"),
    ],
)
def test_a_checkpoint_with_a_bad_field_cannot_be_built(fields: tuple, message: str) -> None:
    with pytest.raises(MalformedCheckpointError) as refused:
        Checkpoint(*fields)
    assert refused.value.detail == message


PUBLIC_B64 = signer().vkey.split("+", 2)[2]
KEY_ID_HEX = signer().key_id.hex()


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("nope", "verifier key: expected <name>+<key id>+<base64 key>"),
        (f"+{KEY_ID_HEX}+{PUBLIC_B64}", "verifier key: key name must be a non-empty string"),
        (
            f"a b+{KEY_ID_HEX}+{PUBLIC_B64}",
            "verifier key: key name 'a b' contains a space, '+' or control character",
        ),
        (
            f"{NAME}+{KEY_ID_HEX.upper()}+{PUBLIC_B64}",
            f"verifier key: key id '{KEY_ID_HEX.upper()}' is not 8 lowercase hex digits",
        ),
        (
            f"{NAME}+{KEY_ID_HEX[:7]}+{PUBLIC_B64}",
            f"verifier key: key id '{KEY_ID_HEX[:7]}' is not 8 lowercase hex digits",
        ),
        (f"{NAME}+{KEY_ID_HEX}+{PUBLIC_B64[:-4]}", "verifier key: key is not base64 of 33 bytes"),
        (f"{NAME}+{KEY_ID_HEX}+not-base64", "verifier key: key is not base64 of 33 bytes"),
        (
            f"{NAME}+{KEY_ID_HEX}+" + base64.b64encode(b"\x02" + bytes(32)).decode(),
            "verifier key: signature type 0x02 is not Ed25519",
        ),
        (
            f"{NAME}+00000000+{PUBLIC_B64}",
            f"verifier key: key id 00000000 does not match the key (expected {KEY_ID_HEX})",
        ),
        (f"other+{KEY_ID_HEX}+{PUBLIC_B64}", "verifier key: key id"),
    ],
)
def test_a_malformed_verifier_key_is_refused_naming_the_part(vkey: str, message: str) -> None:
    with pytest.raises(MalformedKeyError) as refused:
        verify_checkpoint(signed_text(), vkey)
    assert refused.value.detail.startswith(message)


def test_a_verifier_key_round_trips_through_its_string_form() -> None:
    key = VerifierKey.parse(SUMDB_VKEY)
    assert (key.name, key.key_id.hex()) == ("sum.golang.org", "033de0ae")
    assert str(key) == SUMDB_VKEY


@pytest.mark.parametrize("name", ["", "has space", "a+b", "tab\there"])
def test_a_signer_needs_a_key_name_without_spaces_or_plus(name: str) -> None:
    with pytest.raises(MalformedKeyError, match=r"^signer: key name "):
        signer(name)
