"""The auditor's end-to-end check of a ledger, without trusting its operator.

Steps, in order; the first failure ends the audit and is reported with its
position (or checkpoint size), step, and what was expected against what was found:

1. every signature against the key state at that point, and seq contiguity per
   actor (``check_log``, on worker processes: both cores; the workers also hash
   their ranges into the Merkle tree, so the log is read once); the events their
   actors disowned (``KeyCompromised``) are listed, not failed: they verified;
2. the Merkle root recomputed from the stored events equals every checkpoint's
   root at its size, and no size was ever given two roots (checkpoints and
   recorded anchors alike);
3. each checkpoint's signature by the ledger's verifier key, and consistency
   proofs between consecutive checkpoints;
4. each recorded anchor names a recomputed root, and (given a chain check) is on
   chain in the recorded transaction and block;
5. every settled payout export recomputes from the log to the recorded hash
   (given a settlement check; the projections provide it);
6. every recorded payment matches the settled lines: only payees, nobody paid more
   than owed (so nobody twice), totals reconcile, and (given a chain) every chain
   payment's ERC-20 ``Transfer`` logs pay the recorded recipients and amounts (given a
   payment check; the projections provide it);
7. (given a maximum lag) the latest checkpoint lags the log's head by at most
   that many events, and a log with events has at least one checkpoint: a
   checkpointer that stopped cutting is a failure, not a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ledger.errors import LedgerError
from ledger.provenance.anchoring import AnchorReceipt
from ledger.provenance.bundles import ANCHOR_RECORDED, RecordedAnchor, anchor_receipt
from ledger.provenance.checkpoints import StoredCheckpoint
from ledger.provenance.merkle import MemoryNodes, tree_root
from ledger.provenance.note import verify_checkpoint
from ledger.provenance.proofs import consistency_proof, verify_consistency
from ledger.recovery import Disowned
from ledger.store import LogStore
from ledger.verify import Failure, check_log

ChainCheck = Callable[[AnchorReceipt], None]
SettlementCheck = Callable[[LogStore], tuple[int, list[Failure]]]


@dataclass
class AuditReport:
    """What was checked, and the first failure (None when everything holds)."""

    events: int = 0
    actors: int = 0
    checkpoints: int = 0
    anchors: int = 0
    anchors_on_chain: int = 0
    settlements: int = 0
    payments: int = 0
    failure: Failure | None = None
    steps: list[str] = field(default_factory=list)
    disowned: list[Disowned] = field(default_factory=list)  # step 1: KeyCompromised

    @property
    def ok(self) -> bool:
        return self.failure is None


def _hex(b: bytes) -> str:
    return b.hex()[:16] + "…"


def audit(
    store: LogStore,
    checkpoints: Sequence[StoredCheckpoint],
    vkey: str,
    *,
    chain: ChainCheck | None = None,
    settlements: SettlementCheck | None = None,
    payments: SettlementCheck | None = None,
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
    max_checkpoint_lag: int | None = None,
) -> AuditReport:
    """Run the steps; never raises for bad data, reports the first failure.

    ``payments`` (store -> payments checked, failures) is step 6; ``max_checkpoint_lag``
    (events) turns on step 7; None leaves either out.
    """
    report = AuditReport(checkpoints=len(checkpoints))
    nodes = MemoryNodes()
    verified, kept = check_log(
        store,
        threads=threads,
        progress=progress,
        tree=nodes,
        keep=frozenset({ANCHOR_RECORDED}),
    )
    recorded: list[RecordedAnchor] = []
    for record in kept:  # before any failure of step 1, so first in log order
        try:
            recorded.append(RecordedAnchor(record.position, anchor_receipt(record)))
        except LedgerError as exc:  # a malformed AnchorRecorded receipt
            report.failure = Failure(record.position + 1, "anchor", exc.detail)
            return report
    report.events, report.actors, report.anchors = verified.events, verified.actors, len(recorded)
    report.steps.append(f"1 signatures: {verified.events} events from {verified.actors} actors")
    report.disowned = list(verified.disowned)
    if verified.disowned:
        report.steps.append(
            f"1 disowned: {len(verified.disowned)} events their actors disowned (KeyCompromised) "
            f"at positions {', '.join(str(d.position) for d in verified.disowned)}"
        )
    if verified.failure is not None:
        report.failure = verified.failure
        return report
    size = verified.events

    for failure in (
        _roots(checkpoints, recorded, nodes, size),
        _signatures(checkpoints, vkey, nodes),
        _anchors(recorded, nodes, size, chain, report),
    ):
        if failure is not None:
            report.failure = failure
            return report
    report.steps.append(f"2 roots: {len(checkpoints)} checkpoints match the recomputed tree")
    report.steps.append("3 checkpoints: signed by the ledger key, each consistent with the last")
    chained = f", {report.anchors_on_chain} found on chain" if chain is not None else ""
    report.steps.append(f"4 anchors: {len(recorded)} match recomputed roots{chained}")
    if settlements is not None:
        report.settlements, failures = settlements(store)
        if failures:
            report.failure = failures[0]
            return report
        report.steps.append(
            f"5 payouts: {report.settlements} settled exports recompute from the log"
        )
    if payments is not None:
        report.payments, failures = payments(store)
        if failures:
            report.failure = failures[0]
            return report
        report.steps.append(
            f"6 payments: {report.payments} recorded payments match the settled lines"
        )
    if max_checkpoint_lag is not None:
        lagging = _lag(checkpoints, size, max_checkpoint_lag)
        if lagging is not None:
            report.failure = lagging
            return report
        latest = max((c.size for c in checkpoints), default=0)
        report.steps.append(
            f"7 checkpoint lag: {size - latest} events beyond the latest checkpoint "
            f"(at most {max_checkpoint_lag} allowed)"
        )
    return report


def _lag(checkpoints: Sequence[StoredCheckpoint], size: int, allowed: int) -> Failure | None:
    """The latest checkpoint more than ``allowed`` events behind the head, or none at all."""
    if size and not checkpoints:
        return Failure(
            0,
            "checkpoint lag",
            f"the log holds {size} events but no checkpoint: none of them is under a "
            "signed checkpoint",
        )
    latest = max((c.size for c in checkpoints), default=0)
    if size - latest > allowed:
        return Failure(
            latest,
            "checkpoint lag",
            f"the latest checkpoint (size {latest}) lags the log's {size} events by "
            f"{size - latest}, more than the {allowed} allowed",
        )
    return None


def _roots(
    checkpoints: Sequence[StoredCheckpoint],
    recorded: list[RecordedAnchor],
    nodes: MemoryNodes,
    size: int,
) -> Failure | None:
    claims: dict[int, tuple[bytes, str]] = {}
    sources = [(c.size, c.root, f"checkpoint {c.size}") for c in checkpoints] + [
        (a.receipt.tree_size, a.receipt.root_hash, f"anchor recorded at position {a.position}")
        for a in recorded
    ]
    for tree_size, root, where in sources:
        seen = claims.setdefault(tree_size, (root, where))
        if seen[0] != root:
            return Failure(
                tree_size,
                "equivocation",
                f"size {tree_size} has two roots: {seen[1]} says {_hex(seen[0])}, "
                f"{where} says {_hex(root)}",
            )
    for checkpoint in checkpoints:
        failure = _check_claim(
            nodes, size, checkpoint.size, "root", checkpoint.size, checkpoint.root
        )
        if failure is not None:
            return failure
    return None


# How a root claimed for a tree size fails, by audit step: (the log is shorter than
# that size, the log's root at that size is another one). Checkpoints and anchor
# receipts are both such claims, checked by ``_check_claim``.
_CLAIM_FAILURES = {
    "root": (
        "checkpoint of size {claimed} but the log holds {size} events",
        "checkpoint {claimed}: root mismatch: recomputed {expected}, checkpoint says {root}",
    ),
    "anchor": (
        "receipt for size {claimed} beyond the log's {size}",
        "anchored root for size {claimed} is {root}, the log gives {expected}",
    ),
}


def _check_claim(
    nodes: MemoryNodes, size: int, at: int, step: str, claimed: int, root: bytes
) -> Failure | None:
    """Check ``root``, claimed for the tree of ``claimed`` leaves, against the log of ``size``.

    Return the failure at position ``at`` for ``step`` (see ``_CLAIM_FAILURES``), or None.
    """
    beyond, mismatch = _CLAIM_FAILURES[step]
    if claimed > size:
        return Failure(at, step, beyond.format(claimed=claimed, size=size))
    expected = tree_root(nodes, claimed)
    if expected != root:
        shown = {"expected": _hex(expected), "root": _hex(root)}
        return Failure(at, step, mismatch.format(claimed=claimed, **shown))
    return None


def _signatures(
    checkpoints: Sequence[StoredCheckpoint], vkey: str, nodes: MemoryNodes
) -> Failure | None:
    previous: StoredCheckpoint | None = None
    for checkpoint in checkpoints:
        try:
            verify_checkpoint(checkpoint.signed, vkey)
            if previous is not None:
                verify_consistency(
                    consistency_proof(nodes, previous.size, checkpoint.size),
                    previous.root,
                    checkpoint.root,
                )
        except LedgerError as exc:
            return Failure(checkpoint.size, "checkpoint", exc.detail)
        previous = checkpoint
    return None


def _anchors(
    recorded: list[RecordedAnchor],
    nodes: MemoryNodes,
    size: int,
    chain: ChainCheck | None,
    report: AuditReport,
) -> Failure | None:
    for anchor in recorded:
        receipt = anchor.receipt
        failure = _check_claim(
            nodes, size, anchor.position, "anchor", receipt.tree_size, receipt.root_hash
        )
        if failure is not None:
            return failure
        if chain is not None:
            try:
                chain(receipt)
            except LedgerError as exc:
                return Failure(anchor.position, "anchor on chain", exc.detail)
            report.anchors_on_chain += 1
    return None
