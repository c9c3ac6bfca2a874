"""C2SP tlog-cosignature v1 and the tlog-witness core: every check in the spec's order, each
refusal typed, the state changed only by a compare-and-swap, evidence kept of a split view."""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import MalformedError, SignatureError
from ledger.provenance.cosignature import (
    Cosigner,
    WitnessPolicy,
    WitnessPolicyError,
    WitnessQuorumError,
    cosigned_message,
    merge_cosignatures,
    parse_witness_key,
    verify_cosignature,
)
from ledger.provenance.merkle import Frontier, MemoryNodes, leaf_hash, root_from_leaf_hashes
from ledger.provenance.note import (
    Checkpoint,
    MalformedKeyError,
    NoteSignature,
    NoteSigner,
    SignedCheckpoint,
    VerifierKey,
)
from ledger.provenance.proofs import consistency_proof
from ledger.provenance.witness import (
    InconsistentCheckpointError,
    UnknownLogError,
    UntrustedCheckpointError,
    Witness,
    WitnessConflictError,
    WitnessRequestError,
    request_body,
)
from ledger.store.engine import engine_for
from tests.support import seeded_key

ORIGIN = "cocred.test/log"
LOG = NoteSigner(ORIGIN, seeded_key(9001).private)
W1 = Cosigner("witness.test/w1", seeded_key(9002).private)
W2 = Cosigner("witness.test/w2", seeded_key(9003).private)


class Tree:
    """A log of n leaves whose proofs come from cocred's own node reader, in memory."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.hashes = [leaf_hash(x) for x in leaves]

    def root(self, size: int) -> bytes:
        return root_from_leaf_hashes(self.hashes[:size])

    def checkpoint(self, size: int, signer: NoteSigner = LOG) -> SignedCheckpoint:
        return signer.sign(Checkpoint(signer.name, size, self.root(size)))

    def proof(self, old: int, new: int) -> tuple[bytes, ...]:
        nodes, frontier = MemoryNodes(), Frontier()
        for digest in self.hashes[:new]:
            nodes.add(frontier.append(digest))
        return consistency_proof(nodes, old, new).path


LEAVES = [f"entry {i}".encode() for i in range(300)]
TREE = Tree(LEAVES)


@pytest.fixture
def witness(store, store_url: str) -> Witness:  # ``store`` makes the PostgreSQL schema
    return Witness(engine_for(store_url), W1, [LOG.vkey], clock=lambda: 1_700_000_000)


def add(witness: Witness, old: int, size: int, tree: Tree = TREE, **kw) -> str:
    proof = tree.proof(old, size) if 0 < old < size else ()
    return witness.add_checkpoint(request_body(old, proof, tree.checkpoint(size, **kw)))


# -- cosignature/v1 ----------------------------------------------------------------------------


def test_a_cosignature_is_over_the_spec_message_and_another_ed25519_library_verifies_it() -> None:
    checkpoint = TREE.checkpoint(5).checkpoint
    line = W1.cosign(checkpoint.body(), 1679315147)
    # The spec's message, built by hand: header line, time line, the checkpoint body.
    message = b"cosignature/v1\ntime 1679315147\n" + checkpoint.body()
    assert cosigned_message(checkpoint.body(), 1679315147) == message
    assert line.signature[:8] == struct.pack(">Q", 1679315147)
    Ed25519PublicKey.from_public_bytes(W1.public_key).verify(line.signature[8:], message)
    # key id: SHA-256(name || 0x0A || 0x04 || key)[:4]
    expected_id = hashlib.sha256(b"witness.test/w1\n\x04" + W1.public_key).digest()[:4]
    assert line.key_id == expected_id
    encoded = base64.b64encode(bytes([4]) + W1.public_key).decode()
    assert W1.vkey == f"witness.test/w1+{expected_id.hex()}+{encoded}"
    assert verify_cosignature(checkpoint.body(), line, parse_witness_key(W1.vkey)).timestamp == (
        1679315147
    )


def test_a_cosignature_over_another_checkpoint_or_time_does_not_verify() -> None:
    body = TREE.checkpoint(5).checkpoint.body()
    line = W1.cosign(body, 1000)
    key = parse_witness_key(W1.vkey)
    other = TREE.checkpoint(6).checkpoint.body()
    with pytest.raises(SignatureError) as caught:
        verify_cosignature(other, line, key)
    assert caught.value.detail == (
        f"cosignature by witness witness.test/w1+{W1.key_id.hex()} (time 1000) does not "
        f"verify over the checkpoint of size 6"
    )
    moved = NoteSignature(line.name, line.key_id, struct.pack(">Q", 1001) + line.signature[8:])
    with pytest.raises(SignatureError, match=r"\(time 1001\) does not verify"):
        verify_cosignature(body, moved, key)
    short = NoteSignature(line.name, line.key_id, line.signature[8:])
    with pytest.raises(SignatureError) as caught:
        verify_cosignature(body, short, key)
    assert caught.value.detail.endswith(
        "is 64 bytes, expected 72 (timestamp and Ed25519 signature)"
    )


def test_a_witness_key_is_type_0x04_and_a_note_key_is_refused_for_it() -> None:
    with pytest.raises(MalformedKeyError) as caught:
        parse_witness_key(LOG.vkey)
    assert caught.value.detail == (
        "verifier key: signature type 0x01 is not 0x04 (an Ed25519 cosignature/v1 witness key)"
    )
    with pytest.raises(MalformedKeyError) as caught:
        VerifierKey.parse(W1.vkey)
    assert caught.value.detail == "verifier key: signature type 0x04 is not Ed25519"


def test_the_policy_counts_trusted_witnesses_and_ignores_everyone_else() -> None:
    signed = TREE.checkpoint(7)
    body = signed.checkpoint.body()
    stranger = Cosigner("witness.test/stranger", seeded_key(9004).private)
    cosigned = merge_cosignatures(signed, [W1.cosign(body, 10), stranger.cosign(body, 11)])
    one_of_two = WitnessPolicy.parse([W1.vkey, W2.vkey], 1)
    assert [c.witness for c in one_of_two.check(cosigned)] == [f"witness.test/w1+{W1.key_id.hex()}"]
    both = WitnessPolicy.parse([W1.vkey, W2.vkey])
    with pytest.raises(WitnessQuorumError) as caught:
        both.check(cosigned)
    assert caught.value.detail == (
        f"checkpoint of size 7: 1 of the 2 trusted witnesses cosigned it, the policy needs 2 "
        f"(missing: witness.test/w2+{W2.key_id.hex()})"
    )
    full = merge_cosignatures(cosigned, [W2.cosign(body, 12)])
    assert len(both.check(full)) == 2
    # a witness's newer line replaces its older one: one line per witness
    again = merge_cosignatures(full, [W1.cosign(body, 20)])
    assert len(again.signatures) == len(full.signatures)
    assert SignedCheckpoint.from_text(again.to_text()) == again


def test_a_bad_line_by_a_trusted_witness_fails_the_policy() -> None:
    signed = TREE.checkpoint(7)
    forged = NoteSignature(W1.name, W1.key_id, struct.pack(">Q", 5) + bytes(64))
    with pytest.raises(SignatureError, match="does not verify over the checkpoint of size 7"):
        WitnessPolicy.parse([W1.vkey]).check(merge_cosignatures(signed, [forged]))


@pytest.mark.parametrize(
    ("vkeys", "quorum", "message"),
    [
        ([], None, "witness policy: name at least one witness key"),
        ([W1.vkey, W1.vkey], None, "witness policy: a witness key is named twice"),
        (
            [W1.vkey],
            2,
            "witness policy: quorum must be from 1 to 1 (the number of witnesses), got 2",
        ),
        (
            [W1.vkey],
            0,
            "witness policy: quorum must be from 1 to 1 (the number of witnesses), got 0",
        ),
        (
            ["nope"],
            None,
            "witness policy: verifier key: expected <name>+<key id>+<base64 key>",
        ),
    ],
)
def test_a_policy_that_cannot_be_met_is_refused(vkeys, quorum, message) -> None:
    with pytest.raises(WitnessPolicyError) as caught:
        WitnessPolicy.parse(vkeys, quorum)
    assert caught.value.code == "InvalidWitnessPolicy" and caught.value.detail == message


# -- the witness -------------------------------------------------------------------------------


def test_a_witness_cosigns_a_first_checkpoint_then_only_consistent_growth(witness) -> None:
    line = add(witness, 0, 10)
    key = parse_witness_key(W1.vkey)
    parsed = SignedCheckpoint.from_text(TREE.checkpoint(10).to_text() + line)
    assert WitnessPolicy((key,), 1).check(parsed)[0].timestamp == 1_700_000_000
    assert witness.state(ORIGIN).size == 10
    add(witness, 10, 37)
    add(witness, 37, 256)
    add(witness, 256, 256)  # the same checkpoint again: cosigned again
    assert witness.state(ORIGIN).size == 256 and witness.evidence() == []


def test_an_unknown_origin_is_404_and_a_stranger_key_is_403(witness) -> None:
    other = NoteSigner("cocred.test/other", seeded_key(9010).private)
    with pytest.raises(UnknownLogError) as caught:
        add(witness, 0, 3, signer=other)
    assert caught.value.status == 404
    assert caught.value.detail == "this witness does not follow the log 'cocred.test/other'"
    impostor = NoteSigner(ORIGIN, seeded_key(9011).private)  # the origin's name, not its key
    with pytest.raises(UntrustedCheckpointError) as caught:
        add(witness, 0, 3, signer=impostor)
    assert caught.value.status == 403
    assert caught.value.detail == (
        "no signature on the checkpoint of 'cocred.test/log' verifies with a key this witness "
        "trusts for it"
    )
    assert witness.state(ORIGIN) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"old 01\n\n",
            "add-checkpoint: the first line must be 'old <size>' (a decimal, no leading zero)",
        ),
        (b"old 0\n", "add-checkpoint: no blank line between the proof and the checkpoint"),
        (b"old 3\nnot-base64\n\n", "add-checkpoint: proof line 1 is not base64 of a 32-byte hash"),
        (b"\xff\xfe", "add-checkpoint: body is not UTF-8"),
    ],
)
def test_a_malformed_request_is_400(witness, body: bytes, message: str) -> None:
    note = TREE.checkpoint(3).to_text().encode()
    with pytest.raises(WitnessRequestError) as caught:
        witness.add_checkpoint(body + note if body.endswith(b"\n\n") else body)
    assert caught.value.status == 400 and caught.value.detail == message


def test_an_old_size_above_the_checkpoint_is_400(witness) -> None:
    with pytest.raises(WitnessRequestError) as caught:
        witness.add_checkpoint(request_body(9, (), TREE.checkpoint(5)))
    assert (
        caught.value.detail == "add-checkpoint: old size 9 is larger than the checkpoint's size 5"
    )


def test_an_old_size_the_witness_did_not_cosign_is_409_with_its_size(witness) -> None:
    add(witness, 0, 20)
    with pytest.raises(WitnessConflictError) as caught:
        add(witness, 0, 30)
    assert (caught.value.status, caught.value.size) == (409, 20)
    assert caught.value.detail == (
        "old size 0 is not the size this witness last cosigned for 'cocred.test/log' (20)"
    )
    with pytest.raises(WitnessConflictError) as caught:
        add(witness, 25, 30)
    assert caught.value.size == 20
    add(witness, 20, 30)  # resent from the witness's size, as a client does


def test_an_inconsistent_checkpoint_is_422_and_kept_as_evidence(witness) -> None:
    add(witness, 0, 20)
    forked = Tree([*LEAVES[:10], b"rewritten", *LEAVES[11:]])
    # a proof from the forked tree to its own root: valid for it, not for what was cosigned
    with pytest.raises(InconsistentCheckpointError) as caught:
        add(witness, 20, 40, tree=forked)
    assert caught.value.status == 422
    assert caught.value.detail.startswith(
        "the checkpoint of size 40 is not consistent with size 20 this witness cosigned: "
    )
    [kept] = witness.evidence()
    assert kept["status"] == 422 and kept["origin"] == ORIGIN
    assert TREE.root(20) != forked.root(20) and witness.state(ORIGIN).size == 20


def test_another_root_for_the_cosigned_size_is_409_and_evidence_of_a_split_view(witness) -> None:
    add(witness, 0, 20)
    forked = Tree([b"other history", *LEAVES[1:]])
    with pytest.raises(WitnessConflictError) as caught:
        add(witness, 20, 20, tree=forked)
    assert caught.value.size == 20
    assert caught.value.detail == (
        "this witness cosigned size 20 of 'cocred.test/log' with another root: the log shows "
        "two versions of its history"
    )
    assert [e["status"] for e in witness.evidence()] == [409]


def test_a_proof_where_none_belongs_is_422(witness) -> None:
    body = request_body(0, (bytes(32),), TREE.checkpoint(5))
    with pytest.raises(InconsistentCheckpointError) as caught:
        witness.add_checkpoint(body)
    assert caught.value.detail == "the consistency proof must be empty when the old size is 0"


def test_concurrent_requests_never_roll_the_witness_back(tmp_path: Path) -> None:
    witness = Witness(engine_for(f"sqlite:///{tmp_path}/w.sqlite"), W1, [LOG.vkey])
    add(witness, 0, 10)
    sizes = list(range(11, 60))
    outcomes: list[int] = []

    def submit(size: int) -> None:
        # every request claims the witness is at 10: one wins, the rest get 409
        try:
            add(witness, 10, size)
            outcomes.append(size)
        except WitnessConflictError:
            pass

    threads = [threading.Thread(target=submit, args=(s,)) for s in sizes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 1 and witness.state(ORIGIN).size == outcomes[0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=12))
def test_whatever_is_submitted_the_witness_only_ever_grows(tmp_path_factory, sizes) -> None:
    path = tmp_path_factory.mktemp("w") / "w.sqlite"
    witness = Witness(engine_for(f"sqlite:///{path}"), W1, [LOG.vkey])
    seen = 0
    for size in sizes:
        known = witness.state(ORIGIN)
        old = 0 if known is None else known.size
        try:
            add(witness, min(old, size), size)
        except WitnessConflictError as exc:
            assert size < old and exc.size == old
        except WitnessRequestError:
            pytest.fail("a well-formed request was refused as malformed")
        now = witness.state(ORIGIN).size
        assert now >= seen
        seen = now
    assert seen == max(sizes)


def test_a_witness_needs_a_log_to_follow(tmp_path: Path) -> None:
    with pytest.raises(MalformedError, match="name at least one log verifier key"):
        Witness(engine_for(f"sqlite:///{tmp_path}/w.sqlite"), W1, [])


def test_a_cosigner_refuses_a_timestamp_outside_u63() -> None:
    with pytest.raises(MalformedError, match=r"timestamp -1 is not 0 to 2\*\*63-1"):
        W1.cosign(b"x\n1\n" + b"A" * 44 + b"\n", -1)
