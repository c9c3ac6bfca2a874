"""A C2SP ``tlog-witness``: cosigns a log's checkpoints only if each is consistent with the last.

https://c2sp.org/tlog-witness. ``cocred witness serve`` runs one, so a brand, an auditor
or a community can watch a cocred log themselves (and tests run real, independent ones).

``Witness.add_checkpoint(body)`` is the protocol's one call, checked in the spec's order:
the request parses (else 400), the origin is a log this witness follows (404), one of
the log's trusted keys signed the checkpoint (403), the old size is at most the new one
(400) and is the size this witness last cosigned (409, answering its size), the
consistency proof from that size verifies (422), a same-size checkpoint has the same
root (409). Then the new size and root replace the old ones by a compare-and-swap in one
transaction (so two concurrent requests can never roll the state back), and only then is
the ``cosignature/v1`` line returned. A request whose signature verified but whose
history does not (422, or another root for the same size) is kept as evidence in
``cocred_witness_evidence``: it is a signed statement of a split view.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ledger.errors import LedgerError, MalformedError, NotFoundError, VerificationError
from ledger.provenance.cosignature import Cosigner
from ledger.provenance.merkle import HASH_SIZE
from ledger.provenance.note import (
    MalformedNoteError,
    SignedCheckpoint,
    VerifierKey,
    verify_checkpoint,
)
from ledger.provenance.proofs import ConsistencyProof, verify_consistency
from ledger.store.engine import create_tables

MAX_PROOF_LINES = 63
MAX_REQUEST = 1 << 16  # old line + 63 hashes + a checkpoint with up to 100 signature lines
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})", re.ASCII)

metadata = sa.MetaData()
witness_logs = sa.Table(
    "cocred_witness_logs",
    metadata,
    sa.Column("origin", sa.String(255), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(HASH_SIZE), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("cosigned_at", sa.BigInteger, nullable=False),
)
witness_evidence = sa.Table(
    "cocred_witness_evidence",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(255), nullable=False),
    sa.Column("received_at", sa.String(40), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("request", sa.Text, nullable=False),
)


class WitnessRequestError(MalformedError):
    """An add-checkpoint body that is not ``old N``, proof lines, a blank line, a checkpoint."""

    code = "InvalidWitnessRequest"
    status = 400


class UnknownLogError(NotFoundError):
    """A checkpoint of an origin this witness does not follow."""

    code = "UnknownLog"
    status = 404


class UntrustedCheckpointError(VerificationError):
    """No signature on the checkpoint verifies with a key the witness trusts for its origin."""

    code = "UntrustedCheckpoint"
    status = 403


class WitnessConflictError(LedgerError):
    """The old size is not the size the witness last cosigned, or a same-size root differs.

    ``size`` is the witness's size: the protocol answers it as ``text/x.tlog.size``."""

    code = "WitnessConflict"
    status = 409

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail, size=size)
        self.size = size


class InconsistentCheckpointError(VerificationError):
    """The consistency proof from the witness's size to the new checkpoint does not verify."""

    code = "InconsistentCheckpoint"
    status = 422


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: SignedCheckpoint
    text: str

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse a request body; ``WitnessRequestError`` names the bad line."""
        if len(body) > MAX_REQUEST:
            raise WitnessRequestError(f"add-checkpoint: body over {MAX_REQUEST} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessRequestError("add-checkpoint: body is not UTF-8") from None
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise WitnessRequestError(
                "add-checkpoint: no blank line between the proof and the checkpoint"
            )
        lines = head.split("\n")
        match = _OLD.fullmatch(lines[0])
        if match is None:
            raise WitnessRequestError(
                "add-checkpoint: the first line must be 'old <size>' (a decimal, no leading zero)"
            )
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise WitnessRequestError(
                f"add-checkpoint: {len(lines) - 1} proof lines, at most {MAX_PROOF_LINES}"
            )
        proof = []
        for number, line in enumerate(lines[1:], start=1):
            try:
                digest = base64.b64decode(line, validate=True)
            except (binascii.Error, ValueError):
                digest = b""
            if len(digest) != HASH_SIZE:
                raise WitnessRequestError(
                    f"add-checkpoint: proof line {number} is not base64 of a 32-byte hash"
                )
            proof.append(digest)
        try:
            checkpoint = SignedCheckpoint.from_text(note)
        except MalformedNoteError as exc:
            raise WitnessRequestError(f"add-checkpoint: {exc.detail}") from exc
        return cls(int(match.group(1)), tuple(proof), checkpoint, text)

    def to_body(self) -> bytes:
        """The request as sent (a client builds it with ``request_body``)."""
        return self.text.encode()


def request_body(old_size: int, proof: Iterable[bytes], checkpoint: SignedCheckpoint) -> bytes:
    """The add-checkpoint body: ``old N``, one base64 hash per line, a blank line, the note."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint.to_text()).encode()


@dataclass(frozen=True)
class WitnessedLog:
    """What this witness last cosigned for one origin."""

    origin: str
    size: int
    root: bytes
    note: str
    cosigned_at: int


class Witness:
    """One witness: its cosigning key, the logs it follows (origin -> trusted keys), its state."""

    def __init__(
        self,
        engine: sa.Engine,
        cosigner: Cosigner,
        logs: Iterable[str | VerifierKey],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.cosigner = cosigner
        self.clock = clock
        self.logs: dict[str, list[VerifierKey]] = {}
        for vkey in logs:
            key = vkey if isinstance(vkey, VerifierKey) else VerifierKey.parse(vkey)
            self.logs.setdefault(key.name, []).append(key)
        if not self.logs:
            raise MalformedError("witness: name at least one log verifier key to follow")
        create_tables(metadata, engine, "the witness tables")

    def state(self, origin: str) -> WitnessedLog | None:
        """The latest checkpoint cosigned for ``origin``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(witness_logs).where(witness_logs.c.origin == origin)
            ).first()
        return None if row is None else WitnessedLog(*row)

    def states(self) -> list[WitnessedLog]:
        """Every log's latest cosigned checkpoint, by origin."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(witness_logs).order_by(witness_logs.c.origin))
            return [WitnessedLog(*row) for row in rows]

    def evidence(self) -> list[dict[str, object]]:
        """Requests kept as evidence: signed checkpoints whose history did not check out."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(witness_evidence).order_by(witness_evidence.c.id))
            return [dict(row._mapping) for row in rows]

    def add_checkpoint(self, body: bytes) -> str:
        """Check and cosign; return the response body (one ``—`` cosignature line).

        Raises, in the spec's order: ``WitnessRequestError`` (400), ``UnknownLogError``
        (404), ``UntrustedCheckpointError`` (403), ``WitnessRequestError`` for an old size
        above the new one (400), ``WitnessConflictError`` (409, with the witness's size),
        ``InconsistentCheckpointError`` (422).
        """
        request = AddCheckpoint.parse(body)
        checkpoint = request.checkpoint.checkpoint
        keys = self.logs.get(checkpoint.origin)
        if keys is None:
            raise UnknownLogError(f"this witness does not follow the log {checkpoint.origin!r}")
        if not any(self._signed_by(request.checkpoint, key) for key in keys):
            raise UntrustedCheckpointError(
                f"no signature on the checkpoint of {checkpoint.origin!r} verifies with a key "
                f"this witness trusts for it"
            )
        if request.old_size > checkpoint.size:
            raise WitnessRequestError(
                f"add-checkpoint: old size {request.old_size} is larger than the checkpoint's "
                f"size {checkpoint.size}"
            )
        known = self.state(checkpoint.origin)
        known_size = 0 if known is None else known.size
        if request.old_size != known_size:
            raise WitnessConflictError(
                f"old size {request.old_size} is not the size this witness last cosigned for "
                f"{checkpoint.origin!r} ({known_size})",
                size=known_size,
            )
        self._check_history(request, known)
        timestamp = int(self.clock())
        line = self.cosigner.cosign(checkpoint.body(), timestamp).line()
        self._store(request, known, timestamp)
        return line

    @staticmethod
    def _signed_by(signed: SignedCheckpoint, key: VerifierKey) -> bool:
        try:
            verify_checkpoint(signed, str(key))
        except VerificationError:
            return False
        return True

    def _check_history(self, request: AddCheckpoint, known: WitnessedLog | None) -> None:
        checkpoint = request.checkpoint.checkpoint
        if known is None or request.old_size == 0:
            if request.proof:
                raise self._evidence(
                    request,
                    InconsistentCheckpointError(
                        "the consistency proof must be empty when the old size is 0"
                    ),
                )
            return
        if request.old_size == checkpoint.size:
            if request.proof:
                raise self._evidence(
                    request,
                    InconsistentCheckpointError(
                        "the consistency proof must be empty when the old size is the new size"
                    ),
                )
            if checkpoint.root_hash != known.root:
                raise self._evidence(
                    request,
                    WitnessConflictError(
                        f"this witness cosigned size {known.size} of {checkpoint.origin!r} with "
                        f"another root: the log shows two versions of its history",
                        size=known.size,
                    ),
                )
            return
        proof = ConsistencyProof(request.old_size, checkpoint.size, request.proof)
        try:
            verify_consistency(proof, known.root, checkpoint.root_hash)
        except VerificationError as exc:
            raise self._evidence(
                request,
                InconsistentCheckpointError(
                    f"the checkpoint of size {checkpoint.size} is not consistent with size "
                    f"{known.size} this witness cosigned: {exc.detail}"
                ),
            ) from exc

    def _evidence(self, request: AddCheckpoint, error: LedgerError) -> LedgerError:
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(witness_evidence),
                {
                    "origin": request.checkpoint.checkpoint.origin,
                    "received_at": datetime.now(UTC).isoformat(),
                    "status": getattr(error, "status", 400),
                    "reason": error.detail,
                    "request": request.text,
                },
            )
        return error

    def _store(self, request: AddCheckpoint, known: WitnessedLog | None, timestamp: int) -> None:
        checkpoint = request.checkpoint.checkpoint
        values = {
            "size": checkpoint.size,
            "root": checkpoint.root_hash,
            "note": request.checkpoint.to_text(),
            "cosigned_at": timestamp,
        }
        # Compare-and-swap: the row changes only if it is still the one checked above, so a
        # concurrent request that won meanwhile makes this one a 409, never a rollback.
        try:
            with self.engine.begin() as conn:
                if known is None:
                    conn.execute(sa.insert(witness_logs), {"origin": checkpoint.origin, **values})
                    return
                result = conn.execute(
                    sa.update(witness_logs)
                    .where(witness_logs.c.origin == checkpoint.origin)
                    .where(witness_logs.c.size == known.size)
                    .where(witness_logs.c.root == known.root)
                    .values(**values)
                )
                if result.rowcount == 1:
                    return
        except sa.exc.IntegrityError:  # inserted first by a concurrent request
            pass
        now = self.state(checkpoint.origin)
        size = 0 if now is None else now.size
        raise WitnessConflictError(
            f"another request for {checkpoint.origin!r} was cosigned first (size {size})",
            size=size,
        )
