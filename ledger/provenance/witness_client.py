"""Getting the ledger's checkpoints cosigned by C2SP ``tlog-witness`` witnesses.

``WitnessClient`` speaks the protocol to one witness: it sends ``old <size>``, the
consistency proof from that size and the signed checkpoint; on ``409`` it resends from
the size the witness answers (once the witness is ahead of this checkpoint, or answers
its own size for a same-size request, there is nothing to resend: typed errors); it
checks the returned ``cosignature/v1`` line with the witness's key before keeping it.
``Witnessing`` does that for every configured witness and adds the lines to the stored
checkpoint note, so ``GET /checkpoint``, the tiles and every proof bundle carry them.
It remembers each witness's size (``cocred_witness_sizes``) so a round costs one request
per witness, and backs off a witness that fails (capped, doubling).
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from ledger.errors import LedgerError, MalformedError, VerificationError
from ledger.provenance.checkpoints import CheckpointLog, StoredCheckpoint
from ledger.provenance.cosignature import (
    Cosignature,
    WitnessPolicy,
    cosignatures_by,
    parse_witness_key,
    verify_cosignature,
)
from ledger.provenance.note import (
    EM_DASH,
    MalformedKeyError,
    MalformedNoteError,
    NoteSignature,
    SignedCheckpoint,
    VerifierKey,
    _parse_note,
)
from ledger.provenance.witness import request_body
from ledger.store.engine import create_tables

logger = logging.getLogger("cocred.witnessing")
SIZE_TYPE = "text/x.tlog.size"
MAX_RESPONSE = 1 << 16
ATTEMPTS = 3  # the first request, a resend from the witness's size, one more if it moved

metadata = sa.MetaData()
witness_sizes = sa.Table(
    "cocred_witness_sizes",
    metadata,
    sa.Column("witness", sa.String(300), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
)


class WitnessConfigError(MalformedError):
    """A witness setting that is not ``URL VKEY`` (an http(s) URL and a 0x04 vkey)."""

    code = "InvalidWitness"


class WitnessUnavailableError(LedgerError):
    """The witness could not be reached, failed (5xx), or answered something not in the spec."""

    code = "WitnessUnavailable"


class WitnessRefusedError(VerificationError):
    """The witness refused the checkpoint (400, 403, 404 or 422); ``status`` says which."""

    code = "WitnessRefused"

    def __init__(self, detail: str, *, status: int) -> None:
        super().__init__(detail, status=status)
        self.status = status


class WitnessForkError(VerificationError):
    """The witness cosigned another root for this size, or a larger tree than the log has:
    somebody showed it another history of this log."""

    code = "WitnessSawAnotherHistory"


_REFUSALS = {
    400: "says the request is malformed",
    403: "does not trust the key that signed the checkpoint",
    404: "does not follow this log's origin",
    422: "says the checkpoint is not consistent with what it cosigned before",
}


@dataclass(frozen=True)
class WitnessEndpoint:
    """One witness: its submission prefix and its cosignature verifier key."""

    url: str
    key: VerifierKey

    @property
    def name(self) -> str:
        return f"{self.key.name}+{self.key.key_id.hex()}"

    @classmethod
    def parse(cls, spec: str) -> WitnessEndpoint:
        """``"<http(s) URL> <witness vkey>"``; ``WitnessConfigError`` says what is wrong."""
        parts = spec.split() if isinstance(spec, str) else []
        if len(parts) != 2:
            raise WitnessConfigError(
                f"witness {spec!r}: expected '<submission URL> <witness verifier key>'"
            )
        url, vkey = parts
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise WitnessConfigError(f"witness {spec!r}: {url!r} is not an http(s) URL")
        try:
            key = parse_witness_key(vkey)
        except MalformedKeyError as exc:
            raise WitnessConfigError(f"witness {spec!r}: {exc.detail}") from exc
        return cls(url.rstrip("/"), key)


class WitnessClient:
    """The ``add-checkpoint`` call to one witness, over one kept-alive connection."""

    def __init__(self, endpoint: WitnessEndpoint, *, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._parts = urllib.parse.urlsplit(endpoint.url)
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = (
                http.client.HTTPSConnection
                if self._parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = kind(self._parts.hostname or "", self._parts.port, timeout=self.timeout)
        return self._conn

    def _post(self, body: bytes) -> tuple[int, str, bytes]:
        path = (self._parts.path or "") + "/add-checkpoint"
        with self._lock:
            for attempt in (1, 2):  # a kept-alive connection the witness closed: reopen once
                conn = self._connection()
                try:
                    conn.request("POST", path, body, {"Content-Type": "text/plain"})
                    response = conn.getresponse()
                    data = response.read(MAX_RESPONSE + 1)
                    return response.status, response.getheader("Content-Type") or "", data
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise WitnessUnavailableError(
                            f"witness {self.endpoint.name} at {self.endpoint.url} closed the "
                            f"connection"
                        ) from None
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    self._conn = None
                    raise WitnessUnavailableError(
                        f"witness {self.endpoint.name} at {self.endpoint.url} is unreachable: {exc}"
                    ) from exc
        raise AssertionError("unreachable")

    def add_checkpoint(
        self,
        signed: SignedCheckpoint,
        proof: Callable[[int], Sequence[bytes]],
        old_size: int = 0,
    ) -> tuple[NoteSignature, Cosignature]:
        """Get ``signed`` cosigned; ``proof(old)`` gives the consistency proof from ``old``.

        Returns the verified cosignature line and what it states. Raises
        ``WitnessRefusedError`` (400/403/404/422), ``WitnessForkError`` (the witness
        holds another history), ``WitnessUnavailableError`` (network, 5xx, a reply
        outside the protocol, a cosignature that does not verify).
        """
        size = signed.checkpoint.size
        name = self.endpoint.name
        old = min(old_size, size)
        for _ in range(ATTEMPTS):
            body = request_body(old, proof(old) if 0 < old < size else (), signed)
            status, kind, data = self._post(body)
            if status == 200:
                return self._cosignature(signed, data)
            if status == 409:
                theirs = self._size(kind, data)
                if theirs > size:
                    raise WitnessForkError(
                        f"witness {name} has cosigned size {theirs} of "
                        f"{signed.checkpoint.origin!r}, larger than this log's checkpoint of "
                        f"size {size}"
                    )
                if theirs == old:
                    raise WitnessForkError(
                        f"witness {name} cosigned size {theirs} of {signed.checkpoint.origin!r} "
                        f"with another root than this log's"
                    )
                old = theirs
                continue
            if status in _REFUSALS:
                text = data[:300].decode("utf-8", "replace").strip()
                raise WitnessRefusedError(
                    f"witness {name} {_REFUSALS[status]} (HTTP {status}): {text}", status=status
                )
            raise WitnessUnavailableError(
                f"witness {name} answered HTTP {status} to add-checkpoint for size {size}"
            )
        raise WitnessUnavailableError(
            f"witness {name} kept answering 409 with a moving size; try again later"
        )

    def _size(self, kind: str, data: bytes) -> int:
        text = data.decode("ascii", "replace")
        if kind.split(";")[0].strip() != SIZE_TYPE or not text.endswith("\n"):
            raise WitnessUnavailableError(
                f"witness {self.endpoint.name} answered 409 without a {SIZE_TYPE} size"
            )
        value = text[:-1]
        if not value.isdigit() or (value != "0" and value.startswith("0")):
            raise WitnessUnavailableError(
                f"witness {self.endpoint.name} answered 409 with the size {value[:40]!r}"
            )
        return int(value)

    def _cosignature(
        self, signed: SignedCheckpoint, data: bytes
    ) -> tuple[NoteSignature, Cosignature]:
        name = self.endpoint.name
        if len(data) > MAX_RESPONSE:
            raise WitnessUnavailableError(f"witness {name} answered more than {MAX_RESPONSE} bytes")
        # The spec's way to read the answer: append it to the note and parse that.
        try:
            text = data.decode("utf-8")
            if not text.startswith(EM_DASH):
                raise MalformedNoteError("the answer does not start with a signature line")
            _, lines = _parse_note(signed.to_text() + text, MalformedNoteError)
        except (UnicodeDecodeError, MalformedNoteError) as exc:
            raise WitnessUnavailableError(
                f"witness {name} answered signature lines that do not parse: {exc}"
            ) from None
        answer = SignedCheckpoint(signed.checkpoint, lines[len(signed.signatures) :])
        mine = cosignatures_by(answer, self.endpoint.key)
        if not mine:
            raise WitnessUnavailableError(
                f"witness {name} answered no cosignature by its key (it may have a new key)"
            )
        body = signed.checkpoint.body()
        try:
            checked = [(line, verify_cosignature(body, line, self.endpoint.key)) for line in mine]
        except VerificationError as exc:
            raise WitnessUnavailableError(
                f"witness {name} answered a bad cosignature: {exc.detail}"
            ) from exc
        return max(checked, key=lambda pair: pair[1].timestamp)


@dataclass
class WitnessHealth:
    """One witness as the server last saw it (what ``GET /readyz`` shows)."""

    witness: str
    url: str
    cosigned_size: int | None = None
    failures: int = 0
    last_error_code: str | None = None
    last_error: str | None = None
    retry_at: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "witness": self.witness,
            "url": self.url,
            "cosigned_size": self.cosigned_size,
            "consecutive_failures": self.failures,
            "last_error_code": self.last_error_code,
            "last_error": self.last_error,
        }


@dataclass
class WitnessRound:
    """What one round of submissions did: the checkpoint, and per witness ok or why not."""

    size: int
    cosigned: list[str] = field(default_factory=list)
    failed: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> code, detail


class Witnessing:
    """Submits the ledger's latest checkpoint to every configured witness and keeps the lines."""

    def __init__(
        self,
        checkpoints: CheckpointLog,
        endpoints: Sequence[WitnessEndpoint],
        *,
        quorum: int | None = None,
        timeout: float = 10.0,
        retry_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checkpoints = checkpoints
        self.clients = [WitnessClient(e, timeout=timeout) for e in endpoints]
        self.policy = WitnessPolicy(tuple(e.key for e in endpoints), quorum or len(endpoints))
        self.retry_max = retry_max
        self.clock = clock
        self.health = {
            c.endpoint.name: WitnessHealth(c.endpoint.name, c.endpoint.url) for c in self.clients
        }
        self._lock = threading.Lock()
        create_tables(metadata, checkpoints.engine, "the witness sizes table")

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def _known(self, name: str) -> int:
        with self.checkpoints.engine.connect() as conn:
            size = conn.execute(
                sa.select(witness_sizes.c.size).where(witness_sizes.c.witness == name)
            ).scalar()
        return int(size or 0)

    def _remember(self, name: str, size: int) -> None:
        with self.checkpoints.engine.begin() as conn:
            done = conn.execute(
                sa.update(witness_sizes)
                .where(witness_sizes.c.witness == name)
                .where(witness_sizes.c.size < size)
                .values(size=size)
            ).rowcount
            if (
                not done
                and conn.execute(
                    sa.select(witness_sizes.c.size).where(witness_sizes.c.witness == name)
                ).first()
                is None
            ):
                conn.execute(sa.insert(witness_sizes), {"witness": name, "size": size})

    def cosign(
        self, stored: StoredCheckpoint | None = None, *, wait: bool = False
    ) -> WitnessRound | None:
        """Submit ``stored`` (default: the latest checkpoint) to each witness that has not
        cosigned it; add their lines to the stored note; return what happened (None before
        the first checkpoint). A witness that failed is skipped until its backoff ends,
        unless ``wait`` (the CLI's one-off round) asks for every witness now."""
        with self._lock:
            stored = stored or self.checkpoints.latest()
            if stored is None:
                return None
            signed = stored.signed
            size = stored.size
            result = WitnessRound(size)
            lines: list[NoteSignature] = []
            tree = self.checkpoints.tree
            for client in self.clients:
                name = client.endpoint.name
                health = self.health[name]
                if cosignatures_by(signed, client.endpoint.key):
                    health.cosigned_size = max(health.cosigned_size or 0, size)
                    result.cosigned.append(name)
                    continue
                if not wait and self.clock() < health.retry_at:
                    result.failed[name] = {
                        "code": health.last_error_code or "WitnessUnavailable",
                        "detail": f"backing off after: {health.last_error}",
                    }
                    continue
                try:
                    line, _ = client.add_checkpoint(
                        signed,
                        lambda old: tree.consistency(old, size).path,
                        self._known(name),
                    )
                except LedgerError as exc:
                    self._failed(health, exc)
                    result.failed[name] = {"code": exc.code, "detail": exc.detail}
                    continue
                lines.append(line)
                self._remember(name, size)
                health.cosigned_size = size
                health.failures = 0
                health.last_error_code = health.last_error = None
                health.retry_at = 0.0
                result.cosigned.append(name)
            if lines:
                self.checkpoints.add_cosignatures(size, lines)
            return result

    def _failed(self, health: WitnessHealth, exc: LedgerError) -> None:
        health.failures += 1
        first = health.last_error_code != exc.code
        health.last_error_code, health.last_error = exc.code, exc.detail
        delay = min(self.retry_max, 2.0 ** min(health.failures - 1, 30))
        health.retry_at = self.clock() + delay
        if first:  # once per kind of failure, not once per retry
            logger.warning("witness %s: %s: %s", health.witness, exc.code, exc.detail)

    def snapshot(self) -> list[dict[str, object]]:
        """Every witness's health, for ``GET /readyz``."""
        return [h.to_json() for h in self.health.values()]
