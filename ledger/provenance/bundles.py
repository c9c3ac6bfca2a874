"""Provenance: checkpoints, anchoring, and offline proof bundles for one event.

``Provenance`` ties the persisted tree, the checkpoint log and an optional
``Anchor`` port together. Anchoring cuts a checkpoint (if the log grew), writes
its root on chain in one transaction, and records the receipt in the log as an
``AnchorRecorded`` event signed by the ledger's key.

A ``ProofBundle`` is a contributor's receipt: the signed event, the public key
whose thumbprint is the event's key id, an inclusion proof against a signed
checkpoint, and the anchor receipt of that checkpoint when there is one.
``verify_bundle`` checks it with no database, only the ledger's verifier key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.actors import KEY_REGISTERED
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import LedgerError, MalformedError, NotFoundError, VerificationError
from ledger.keys import b64url, b64url_decode, check_signature, key_id, public_jwk
from ledger.ledger import Ledger
from ledger.provenance.anchoring import Anchor, AnchorError, AnchorReceipt
from ledger.provenance.merkle import leaf_hash
from ledger.provenance.note import SignedCheckpoint, verify_checkpoint
from ledger.provenance.proofs import InclusionProof, verify_inclusion
from ledger.store import PAGE, StoredRecord

if TYPE_CHECKING:  # types only: verifying a bundle offline needs no database library
    from ledger.provenance.checkpoints import CheckpointLog, LedgerIdentity, StoredCheckpoint
    from ledger.provenance.cosignature import WitnessPolicy

ANCHOR_RECORDED = "AnchorRecorded"
BUNDLE_VERSION = 1


class MalformedBundleError(MalformedError):
    """A proof bundle is not the JSON shape ``ProofBundle.to_json`` writes."""

    code = "MalformedBundle"


@dataclass(frozen=True)
class RecordedAnchor:
    """An ``AnchorRecorded`` event: where it is in the log, and its receipt."""

    position: int
    receipt: AnchorReceipt


@dataclass(frozen=True)
class ProofBundle:
    """Everything needed to check one event's place in the log, offline."""

    position: int
    event: bytes
    public_key: bytes
    proof: InclusionProof
    checkpoint: SignedCheckpoint
    anchor: AnchorReceipt | None

    def to_json(self) -> dict[str, Any]:
        """The bundle as JSON; the proof's index and size are the position and checkpoint size."""
        return {
            "v": BUNDLE_VERSION,
            "position": self.position,
            "event": self.event.decode(),
            "key": b64url(self.public_key),
            "path": self.proof.to_json()["path"],
            "checkpoint": self.checkpoint.to_text(),
            "anchor": None if self.anchor is None else self.anchor.to_dict(),
        }

    @classmethod
    def from_json(cls, data: Any) -> ProofBundle:
        """Parse a bundle; raise ``MalformedBundleError`` naming the bad field."""
        fields = {"v", "position", "event", "key", "path", "checkpoint", "anchor"}
        if not isinstance(data, dict) or set(data) != fields:
            raise MalformedBundleError(
                f"bundle: must be an object with exactly {', '.join(sorted(fields))}"
            )
        if data["v"] != BUNDLE_VERSION:
            raise MalformedBundleError(f"bundle: unknown version {data['v']!r}")
        if type(data["position"]) is not int or data["position"] < 0:
            raise MalformedBundleError("bundle: position must be an integer ≥ 0")
        if not isinstance(data["event"], str) or not isinstance(data["checkpoint"], str):
            raise MalformedBundleError("bundle: event and checkpoint must be strings")
        try:
            public = b64url_decode(data["key"], length=32, what="bundle: key")
            signed = SignedCheckpoint.from_text(data["checkpoint"])
            proof = InclusionProof.from_json(
                {"index": data["position"], "size": signed.checkpoint.size, "path": data["path"]}
            )
            anchor = None if data["anchor"] is None else AnchorReceipt.from_json(data["anchor"])
        except MalformedError as exc:
            raise MalformedBundleError(f"bundle: {exc.detail}") from exc
        return cls(data["position"], data["event"].encode(), public, proof, signed, anchor)


def verify_bundle(
    bundle: ProofBundle, vkey: str, witnesses: WitnessPolicy | None = None
) -> Envelope:
    """Check a bundle against the ledger's verifier key; return the event.

    Checks, in order: the event parses and is canonical; its key id is the
    thumbprint of the bundled public key and its signature verifies; the
    checkpoint is signed by ``vkey`` (and, given a ``witnesses`` policy, cosigned by
    its quorum: ``WitnessQuorumError`` otherwise); the event's leaf is included at its position
    in that checkpoint's tree; an anchor receipt, if present, names that
    checkpoint's root and size. Raises ``VerificationError`` naming the step
    (``MalformedError`` for an unparseable part). The on-chain check of the
    receipt is the caller's (it needs an RPC node).
    """
    env = Envelope.from_bytes(bundle.event)
    if env.canonical_bytes() != bundle.event:
        raise VerificationError("bundle: event: the bytes are not in canonical form")
    if key_id(bundle.public_key) != env.key:
        raise VerificationError(
            f"bundle: event: key {env.key} is not the thumbprint of the "
            f"bundled public key {key_id(bundle.public_key)}"
        )
    check_signature(bundle.public_key, env.signing_bytes(), env.signature, "bundle: event")
    checkpoint = verify_checkpoint(bundle.checkpoint, vkey)
    if witnesses is not None:
        witnesses.check(bundle.checkpoint)
    verify_inclusion(leaf_hash(bundle.event), bundle.proof, checkpoint.root_hash)
    if bundle.anchor is not None and (bundle.anchor.root_hash, bundle.anchor.tree_size) != (
        checkpoint.root_hash,
        checkpoint.size,
    ):
        raise VerificationError(
            f"bundle: anchor: receipt is for size {bundle.anchor.tree_size} root "
            f"{bundle.anchor.root_hash.hex()}, the checkpoint is size {checkpoint.size} root "
            f"{checkpoint.root_hash.hex()}"
        )
    return env


class Provenance:
    """Checkpoints, anchors and bundles over one ledger."""

    def __init__(
        self,
        ledger: Ledger,
        checkpoints: CheckpointLog,
        anchor: Anchor | None = None,
        witnesses: WitnessPolicy | None = None,
    ) -> None:
        self.ledger = ledger
        self.checkpoints = checkpoints
        self.tree = checkpoints.tree
        self.anchor_port = anchor
        # With witnesses configured, a bundle proves against a checkpoint their quorum cosigned
        self.witnesses = witnesses

    @property
    def identity(self) -> LedgerIdentity:
        """The ledger's key (loaded on first use, see ``CheckpointLog.identity``)."""
        return self.checkpoints.identity

    def close(self) -> None:
        """Release the provenance tables' connections (the log store closes on its own)."""
        self.checkpoints.engine.dispose()

    def anchors(self) -> list[RecordedAnchor]:
        """Every ``AnchorRecorded`` event in log order."""
        return [RecordedAnchor(r.position, anchor_receipt(r)) for r in self._records()]

    def _records(self) -> Iterator[StoredRecord]:
        position = 0
        while True:
            page = self.ledger.store.read(position, PAGE, types=[ANCHOR_RECORDED])
            if not page:
                return
            yield from page
            position = page[-1].position + 1

    def anchor_now(self) -> RecordedAnchor:
        """Cut a checkpoint if the log grew, anchor it, and record the receipt in the log.

        Returns the latest record when nothing but the ledger's own provenance
        events arrived since it was anchored. Raises ``AnchorError`` (anchoring
        off, or the chain refused) and ``NotFoundError`` while the log is empty.
        """
        if self.anchor_port is None:
            raise AnchorError(
                "anchoring is off: set COCRED_ANCHOR_RPC_URL, "
                "COCRED_ANCHOR_CONTRACT and COCRED_ANCHOR_PRIVATE_KEY"
            )
        anchors = self.anchors()
        if anchors and self._only_own_events_since(anchors[-1].receipt.tree_size):
            return anchors[-1]  # anchoring our own receipts would never end
        stored = self.checkpoints.cut()
        if stored is None:
            raise NotFoundError("the log is empty: there is nothing to anchor")
        for recorded in anchors:
            if recorded.receipt.tree_size == stored.size:
                return recorded
        receipt = self.anchor_port.anchor(stored.signed.checkpoint)
        key = self.identity.key
        if self.ledger.actor_state(key.actor) is None:
            self.ledger.append(
                sign_envelope(key, KEY_REGISTERED, {"jwk": public_jwk(key.public_bytes)}, seq=1)
            )
        env = sign_envelope(
            key,
            ANCHOR_RECORDED,
            {"receipt": receipt.to_dict()},
            seq=self.ledger.next_seq(key.actor),
        )
        return RecordedAnchor(self.ledger.append(env), receipt)

    def _cosigned(self, stored: StoredCheckpoint | None) -> bool:
        if stored is None or self.witnesses is None:
            return False
        try:
            self.witnesses.check(stored.signed)
        except VerificationError:
            return False
        return True

    def _only_own_events_since(self, size: int) -> bool:
        own = self.identity.key.actor
        return all(r.actor == own for r in self.ledger.store.iterate(size))

    def bundle(self, position: int) -> ProofBundle:
        """The offline proof bundle of the event at ``position``.

        Proves against the latest anchored checkpoint that covers the event when
        there is one, else the latest checkpoint (cutting one if none covers it). With a
        witness policy, a checkpoint its quorum cosigned comes first: the anchored one if it
        was cosigned, else the latest cosigned one that covers the event; only when none is
        cosigned yet does the bundle fall back as above (its verifier then says so).
        Raises ``NotFoundError`` for a position not in the log.
        """
        record = self.ledger.store.get(position)
        if record is None:
            raise NotFoundError(f"no event at position {position}", position=position)
        anchored = [a for a in self.anchors() if a.receipt.tree_size > position]
        stored: StoredCheckpoint | None = None
        receipt = None
        if anchored:
            receipt = anchored[-1].receipt
            stored = self.checkpoints.get(receipt.tree_size)
        if self.witnesses is not None and not self._cosigned(stored):
            witnessed = self.checkpoints.latest_meeting(self.witnesses, position)
            if witnessed is not None:
                stored = witnessed
                receipt = (
                    receipt if receipt is not None and receipt.tree_size == stored.size else None
                )
        if stored is None:
            receipt = None
            stored = self.checkpoints.covering(position) or self.checkpoints.cut()
        assert stored is not None and stored.size > position
        env = Envelope.from_bytes(record.data)
        state = self.ledger.actor_state(env.actor)
        span = state.span_of(env.key) if state is not None else None
        if span is None:
            raise LedgerError(f"position {position}: key {env.key} is not a key of its actor")
        return ProofBundle(
            position,
            record.data,
            span.public,
            self.tree.inclusion(position, stored.size),
            stored.signed,
            receipt,
        )


def anchor_receipt(record: StoredRecord) -> AnchorReceipt:
    """The receipt inside a stored ``AnchorRecorded`` event (``MalformedError`` if bad)."""
    env = Envelope.from_bytes(record.data)
    try:
        return AnchorReceipt.from_json(env.body["receipt"])
    except (KeyError, AnchorError) as exc:
        raise MalformedBundleError(
            f"position {record.position}: AnchorRecorded has no valid receipt"
        ) from exc
