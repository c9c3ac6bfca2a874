"""Anchoring the ledger end to end: checkpoint, one transaction, receipt in the log, audit.

Runs on the in-process eth-tester chain and on a real anvil node (the ``chain``
fixture), with the same code path as a public testnet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.envelope import sign_envelope
from ledger.ledger import Ledger
from ledger.provenance.anchoring import AnchorReceipt
from ledger.provenance.audit import audit
from ledger.provenance.bundles import ANCHOR_RECORDED, ProofBundle, Provenance, verify_bundle
from ledger.provenance.checkpoints import CheckpointLog, LedgerIdentity
from ledger.provenance.tree import MerkleTree
from ledger.store import open_store
from ledger.store.engine import engine_for
from tests.support import registration, seeded_key

pytestmark = pytest.mark.chain
ANA = seeded_key(31)


@pytest.fixture
def prov(tmp_path: Path, anchor: Any) -> Provenance:
    url = f"sqlite:///{tmp_path}/l.sqlite"
    ledger = Ledger(open_store(url), verify_threads=1)
    engine = engine_for(url)
    identity = LedgerIdentity.load_or_create(tmp_path / "ledger.key")
    checkpoints = CheckpointLog(engine, MerkleTree(engine, ledger.store), identity)
    ledger.append(registration(ANA))
    ledger.append_batch([sign_envelope(ANA, "NoteShared", {"n": s}, seq=s) for s in range(2, 40)])
    return Provenance(ledger, checkpoints, anchor)


def test_anchor_now_writes_one_transaction_and_records_the_receipt(
    prov: Provenance, anchor: Any
) -> None:
    recorded = prov.anchor_now()
    receipt = recorded.receipt
    assert receipt.tree_size == 39 and receipt.root_hash == prov.checkpoints.latest().root
    assert 40_000 < receipt.gas_used < 100_000
    anchor.verify_receipt(receipt)
    stored = prov.ledger.store.get(recorded.position)
    assert stored.type == ANCHOR_RECORDED and stored.actor == prov.identity.key.actor
    assert prov.anchor_now() == recorded  # nothing new since: not anchored twice
    assert anchor.lookup(receipt.root_hash).tree_size == 39


def test_a_bundle_carries_the_anchor_of_its_checkpoint(prov: Provenance, anchor: Any) -> None:
    prov.anchor_now()
    bundle = ProofBundle.from_json(prov.bundle(5).to_json())
    assert bundle.anchor is not None and bundle.anchor.tree_size == 39
    verify_bundle(bundle, prov.identity.vkey)
    anchor.verify_receipt(bundle.anchor)


def test_the_audit_checks_every_anchor_on_chain(prov: Provenance, anchor: Any) -> None:
    prov.anchor_now()
    prov.ledger.append_batch(
        [sign_envelope(ANA, "NoteShared", {"n": s}, seq=s) for s in range(40, 60)]
    )
    prov.anchor_now()
    report = audit(
        prov.ledger.store, prov.checkpoints.all(), prov.identity.vkey, chain=anchor.verify_receipt
    )
    assert report.ok, report.failure
    assert (report.anchors, report.anchors_on_chain) == (2, 2)


def test_the_audit_names_a_recorded_root_that_is_not_the_one_anchored(
    prov: Provenance, anchor: Any
) -> None:
    real = prov.anchor_now().receipt
    # The operator records a receipt whose root differs from what the transaction anchored.
    fake = AnchorReceipt.from_json({**real.to_dict(), "root_hash": "0x" + "ab" * 32})
    key = prov.identity.key
    position = prov.ledger.append(
        sign_envelope(
            key, ANCHOR_RECORDED, {"receipt": fake.to_dict()}, seq=prov.ledger.next_seq(key.actor)
        )
    )
    report = audit(
        prov.ledger.store, prov.checkpoints.all(), prov.identity.vkey, chain=anchor.verify_receipt
    )
    assert (report.failure.position, report.failure.step) == (39, "equivocation")
    assert report.failure.detail.startswith("size 39 has two roots: checkpoint 39 says ")
    assert report.failure.detail.endswith(
        f"anchor recorded at position {position} says abababababababab…"
    )
