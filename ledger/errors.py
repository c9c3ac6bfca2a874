"""The ledger's errors: one root, malformed input apart from failed checks.

``MalformedError`` means the input could not be parsed into the expected shape;
``VerificationError`` means it parsed but a check failed. Every message names the
step and the mismatch, so an auditor can act on it without a debugger.
"""

from __future__ import annotations


class CocredError(Exception):
    """Root of every error cocred raises on purpose, in every package.

    ``code`` is the machine-readable name, ``detail`` the sentence a person reads,
    ``ids`` the ids involved (actor, seq, position, campaign …) that a caller or
    the HTTP layer can report without parsing the sentence. Each package has its
    own root under this one (``LedgerError``, ``DomainError``, ``ProjectionError``,
    ``ApiError``); the CLI and the HTTP layer catch this one type. It lives here
    because ``ledger`` is the package every other one may import.
    """

    code = "CocredError"

    def __init__(self, detail: str, **ids: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.ids = ids


class LedgerError(CocredError):
    """Root of every error the ledger raises on purpose."""

    code = "LedgerError"


class MalformedError(LedgerError):
    """Input (an envelope, a proof, a checkpoint, a key file) could not be parsed."""

    code = "Malformed"


class VerificationError(LedgerError):
    """Input parsed but did not verify (signature, proof, checkpoint, anchor)."""

    code = "VerificationFailed"


class MalformedEventError(MalformedError):
    """An envelope is not valid JSON, has missing/extra fields, wrong types, or is too big."""

    code = "MalformedEvent"


class UnknownKeyError(VerificationError):
    """The envelope names an actor or key the ledger has never registered."""

    code = "UnknownKey"


class RevokedKeyError(VerificationError):
    """The envelope's key was revoked, or rotated away, before this event."""

    code = "RevokedKey"


class SignatureError(VerificationError):
    """The Ed25519 signature does not verify over the canonical bytes."""

    code = "BadSignature"


class KeyEventError(VerificationError):
    """A key registration or rotation breaks the key rules (wrong id, no proof of possession)."""

    code = "BadKeyEvent"


class SequenceError(LedgerError):
    """The envelope's ``seq`` does not follow the actor's last one."""

    code = "SequenceError"


class ReplayError(SequenceError):
    """The actor already used this ``seq``: a replay or a lost race, refused."""

    code = "Replay"


class SequenceGapError(SequenceError):
    """The ``seq`` skips numbers; it must be exactly the actor's last ``seq`` + 1."""

    code = "SequenceGap"


class NotFoundError(LedgerError):
    """No event at that position, or no such actor."""

    code = "NotFound"


class StorageError(LedgerError):
    """The database could not be reached or refused the operation for a non-input reason."""

    code = "StorageUnavailable"


class OutcomeUnknownError(StorageError):
    """The connection was lost while an append committed, and reading it back failed too.

    The events may or may not be stored. Sending the same bytes again is safe:
    stored, they are answered with their position; not stored, they are appended.
    """

    code = "OutcomeUnknown"


# -- recovery of a lost key (ledger/actors.py: RecoveryRequested, RecoveryCancelled, KeyCompromised)


class NoRecoveryKeyError(KeyEventError):
    """A ``RecoveryRequested`` for an actor that never registered a recovery key."""

    code = "NoRecoveryKey"


class WrongRecoveryKeyError(KeyEventError):
    """A ``RecoveryRequested`` signed by a key that is not the actor's recovery key."""

    code = "WrongRecoveryKey"


class RecoveryKeyMisuseError(KeyEventError):
    """The recovery key signed something other than a ``RecoveryRequested`` (a cancel, a note)."""

    code = "RecoveryKeyMisuse"


class RecoveryPendingError(KeyEventError):
    """A second ``RecoveryRequested``, or a rotation, while a recovery is pending."""

    code = "RecoveryPending"


class NoPendingRecoveryError(KeyEventError):
    """A ``RecoveryCancelled`` with no recovery pending."""

    code = "NoPendingRecovery"


class RecoveryNotInEffectError(KeyEventError):
    """The recovered key signed an event dated before the recovery takes effect."""

    code = "RecoveryNotInEffect"


class RecoveredKeyError(RevokedKeyError):
    """The old key signed an event dated after a recovery replaced it."""

    code = "KeyRecovered"


class CompromiseInFutureError(KeyEventError):
    """A ``KeyCompromised`` whose ``since`` is later than the statement itself."""

    code = "CompromiseInFuture"


class RecoveryBackdatedError(VerificationError):
    """A ``RecoveryRequested`` dated before the ledger's clock allows: its delay would shrink."""

    code = "RecoveryBackdated"


class BadRecoveryCodeError(MalformedError):
    """A printed recovery code that does not read back (a mistyped group, a wrong length)."""

    code = "BadRecoveryCode"
