"""The one place where errors become HTTP statuses.

Every error cocred raises on purpose carries a machine-readable ``code`` and a
sentence (``detail``); the HTTP layer renders ``{"error": code, "detail":
sentence}`` (plus ``ids`` when there are any) with the status below. Bad input
is always a 4xx; a 5xx means the server or its database could not do its part.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import sqlalchemy as sa
from eventsourcing.persistence import PersistenceError

from domain.errors import DomainError
from ledger.errors import CocredError, LedgerError, MalformedError, StorageError
from projections.errors import ProjectionError

# By code first (precise), then by the root class (a sensible default).
STATUS_BY_CODE: dict[str, int] = {
    # ledger: the envelope and its signature
    "MalformedEvent": 422,
    "NotCanonicalizable": 422,
    "BadKeyFile": 422,
    "BadKeyEvent": 422,
    "NoRecoveryKey": 422,
    "RecoveryNotInEffect": 422,
    "CompromiseInFuture": 422,
    "RecoveryBackdated": 422,
    "BadRecoveryCode": 422,
    "Malformed": 422,
    "MalformedBundle": 422,
    "MalformedNote": 422,
    "MalformedCheckpoint": 422,
    "MalformedKey": 422,
    "MalformedProof": 422,
    "MalformedFrontier": 422,
    "BatchTooLarge": 413,
    "PayloadTooLarge": 413,
    "UnknownKey": 401,
    "BadSignature": 401,
    "RevokedKey": 403,
    "KeyRecovered": 403,
    "WrongRecoveryKey": 403,
    "RecoveryKeyMisuse": 403,
    "RecoveryPending": 409,
    "NoPendingRecovery": 409,
    "SequenceError": 409,
    "Replay": 409,
    "SequenceGap": 409,
    "LogMoved": 409,
    "Conflict": 409,
    "NotFound": 404,
    "InvalidProofRequest": 404,  # a leaf or tree size the log does not have (yet)
    "TileNotFound": 404,  # a C2SP tile the tree does not reach (yet)
    "InvalidTilePath": 422,
    # C2SP tlog-witness: the witness's own refusals (its app answers each class's ``status``,
    # as the protocol names them: 400, 404, 403, 409, 422; here as the cocred API would) ...
    "InvalidWitnessRequest": 422,
    "UnknownLog": 404,
    "UntrustedCheckpoint": 403,
    "WitnessConflict": 409,
    "InconsistentCheckpoint": 422,
    # ... and what the log or a verifier makes of witnesses
    "InvalidWitness": 422,
    "InvalidWitnessPolicy": 422,
    "WitnessQuorumNotMet": 422,
    "WitnessRefused": 502,  # a witness refused the server's checkpoint: not the caller's fault
    "WitnessSawAnotherHistory": 500,  # a witness holds another history of this log
    "WitnessUnavailable": 503,
    # cocred monitor (a CLI verb: the API never answers these)
    "InvalidURL": 422,
    "MonitorState": 409,  # a state file kept for another ledger
    "RemoteUnreachable": 502,
    "RemoteHTTPError": 502,
    "MonitorError": 500,
    "VerificationFailed": 422,
    # the server's own data is inconsistent: not the caller's fault
    "LedgerError": 500,
    "Equivocation": 500,
    "NodeNotFound": 500,
    "NodeConflict": 500,
    "EntryTooLarge": 500,  # an entry over 65,535 bytes, from before the envelope limit said so
    "InternalError": 500,  # an unexpected exception: a server bug, logged, never a traceback
    "StorageUnavailable": 503,
    "OutcomeUnknown": 503,  # a COMMIT whose answer was lost: resubmit the same bytes
    "LedgerKeyMissing": 503,  # a server always has its key; only a read-only CLI lacks one
    # HTTP-level refusals (api.http.errors.ApiError) and signed requests
    "InvalidRequest": 422,
    "InvalidPageQuery": 422,  # a web page's ?page= or ?q= that is not one
    "UnexpectedEventType": 422,
    "Unauthenticated": 401,
    "BadRequestSignature": 401,
    "StaleRequest": 401,
    "ReplayedRequest": 401,
    "Forbidden": 403,
    "NoProfile": 404,
    "NotReady": 503,  # GET /readyz: a readiness check failed (named in the body)
    "RateLimited": 429,  # over a rate limit (api.http.throttle); Retry-After says when
    "LengthRequired": 411,  # an upload without Content-Length (quotas are checked first)
    "TooManyHeaders": 431,
    "HeadersTooLarge": 431,
    # anchoring
    "AnchorConfig": 503,
    "AnchorConnection": 503,
    "AnchorNode": 503,
    "AnchorTimeout": 504,
    "AnchorReverted": 409,
    "AnchorMalformed": 422,
    "AnchorVerificationFailed": 422,
    "AnchorNotFound": 404,
    "AnchorError": 503,
    # the on-chain claims rail (contracts/errors.py)
    "BadClaimEntry": 422,
    "UnknownClaimIndex": 404,
    "NoClaim": 404,
    "UnknownActor": 404,
    "BadKeyBackup": 422,  # a key backup out of shape (the CLI and the browser read them)
    "WrongPassphrase": 422,  # GET /actors/{actor}: no KeyRegistered started it
    "InvalidActorId": 422,
    "ClaimsNotDeployed": 409,
    "ClaimsAlreadyDeployed": 409,
    "StaleClaimTree": 409,
    "InvalidClaimProof": 422,
    "AlreadyClaimed": 409,
    "ClaimReverted": 409,
    "ChainTxUnverified": 422,
    "ClaimsConfig": 503,
    "ClaimsConnection": 503,
    "ClaimsNode": 503,
    "ClaimsTimeout": 504,
    "ClaimsError": 503,
    # campaign domain
    "DomainError": 409,
    "MalformedBody": 422,
    "UnknownEventType": 422,
    "InvalidShares": 422,
    "InvalidProfile": 422,
    "GuidelinesMismatch": 422,
    "BadDemoSize": 422,
    "UnknownCampaign": 404,
    "UnknownContribution": 404,
    "UnknownMember": 404,
    "NoSuchVote": 404,
    "UnknownLicence": 404,
    "UnknownContent": 404,
    "NotCampaignOwner": 403,
    "NotInvited": 403,
    "MemberBlocked": 403,
    "NotJoined": 403,
    "NotAuthor": 403,
    "SelfVote": 403,
    "SelfReport": 403,
    "DuplicateReport": 409,
    "UnknownReport": 404,
    "UnknownComment": 404,
    "CommentNotInThread": 422,
    "CommentHidden": 409,
    "CommentNotPosted": 422,
    "BadCommentText": 422,
    "ReportNotAboutContribution": 422,
    "UnreviewedPieces": 409,  # a close under a review policy that does not say `unreviewed`
    "AppealUndecided": 409,
    "AppealsNotOffered": 409,  # the campaign's policy has no appeal_window
    "NotSubmitter": 403,
    "NothingToAppeal": 409,
    "AlreadyAppealed": 409,
    "AppealWindowClosed": 409,
    "NoAppeal": 409,
    "AppealAlreadyDecided": 409,
    "MemberErased": 410,
    "DuplicateCampaign": 409,
    "DuplicateVote": 409,
    "DuplicateLicence": 409,
    "AlreadyJoined": 409,
    "AlreadyInvited": 409,
    "AlreadyBlocked": 409,
    "NotBlocked": 409,
    "CampaignClosed": 409,
    "CampaignNotClosed": 409,
    "OutsideCampaignWindow": 409,
    "RemovedContribution": 409,
    "NoLicence": 409,
    "NotCoAuthor": 403,
    "CoAuthorshipAnswered": 409,
    "ConsentNotAsked": 409,
    "PendingCoAuthorship": 409,
    "CoAuthorshipDeclined": 409,
    "LicenceRevoked": 409,
    "AlreadySettled": 409,
    "SettlementMismatch": 409,
    "ProposalOpen": 409,
    "NoProposal": 409,
    "ProposalIncomplete": 409,
    "UnknownProposal": 404,
    "ProposalMismatch": 409,
    "NotPayee": 403,
    "ObjectionWindowClosed": 409,
    "ObjectionWindowOpen": 409,
    "AlreadyObjected": 409,
    "UnknownObjection": 404,
    "AlreadyAnswered": 409,
    "UnansweredObjection": 409,
    "UpheldObjection": 409,
    "NotSettled": 409,
    "AlreadyPaid": 409,
    "Overpayment": 409,
    "ClaimsAlreadyPublished": 409,  # one Distributor per campaign, in the log
    "NoClaimsPublished": 409,  # a claims payment before ClaimsPublished
    "ClaimsMismatch": 422,  # a claims payment naming another Distributor or token
    "InvalidPayoutMethod": 422,
    "ContentMismatch": 422,
    "ContentTooLarge": 413,
    "ContentQuotaExceeded": 413,  # a member's or a campaign's content-store quota
    "UnknownContentKind": 422,
    "ContentKindMismatch": 422,  # the bytes are not what their declared kind says
    "UndecodableContent": 422,  # an image's magic bytes are right, its decode fails
    "ImageTooLarge": 422,  # more pixels than COCRED_CONTENT_MAX_IMAGE_PIXELS
    "NoPublicCopy": 403,  # a video (or an undecodable image): original to author and brand only
    "NoThumbnail": 404,  # only images have one
    "RegistrationClosed": 403,  # this server admits no new actors (COCRED_REGISTRATION)
    "FirstActRequired": 422,  # a registration must come with its first act, in one batch
    "SubmissionCapReached": 409,  # the campaign policy's submissions_per_day
    "UnknownInviteCode": 404,  # a join presenting a code no campaign issued
    "InviteCodeForOtherCampaign": 403,  # a code another campaign's brand issued
    "InviteCodeUsed": 409,  # invitation codes are single-use
    "InviteCodeExpired": 409,
    "InviteExpiryInPast": 422,
    "DuplicateInviteCode": 409,
    "Contention": 503,  # the log kept moving under an append: try again
    "ProfileKeyUnavailable": 503,  # the operator must restore the epoch key file
    "ProfileKeyMismatch": 503,  # the operator pointed two databases at one key file
    # projections and payout exports
    "ProjectionError": 500,
    "ProjectionFailed": 500,  # a read-model handler failed: a server bug, surfaced
    "ReadModelMoved": 503,  # another process kept writing the read models: try again
    "UnsupportedPolicy": 409,  # the campaign's policy: nothing the request can change
    "SettlementRefused": 409,
    "NothingToPay": 409,
    "ExportRefused": 422,
    "MissingPayoutHandle": 409,
    "BadPayoutHandle": 409,
    "UnknownRail": 422,
    "SepaNeedsEuro": 409,
    "ChainRead": 503,
}


def status_for(exc: Exception) -> int:
    """The HTTP status of a cocred error (4xx for anything the caller can fix)."""
    code = getattr(exc, "code", "")
    if code in STATUS_BY_CODE:
        return STATUS_BY_CODE[code]
    if isinstance(exc, MalformedError):
        return 422
    if isinstance(exc, DomainError | ProjectionError):
        return 409
    if isinstance(exc, LedgerError):
        return 400
    return 500


def error_body(exc: CocredError) -> dict[str, Any]:
    """``{"error": code, "detail": sentence, "ids": {...}}`` (ids only when present)."""
    body: dict[str, Any] = {"error": exc.code, "detail": exc.detail}
    ids = {k: v for k, v in exc.ids.items() if isinstance(v, str | int | bool) or v is None}
    if ids:
        body["ids"] = ids
    return body


class ApiError(CocredError):
    """An HTTP-level refusal (authentication, size limits, paging) with its own code."""

    def __init__(self, code: str, detail: str, **ids: object) -> None:
        super().__init__(detail, **ids)
        self.code = code


# What a database fault looks like when it escapes the stores unwrapped (they raise
# ``StorageError`` for the faults they expect): SQLAlchemy's, the drivers' and the
# eventsourcing library's own errors. The app maps all of them, in one handler, to
# 503 ``StorageUnavailable``: none is the caller's fault, and retrying may succeed.
STORAGE_FAULTS: tuple[type[Exception], ...] = (
    sa.exc.DBAPIError,  # OperationalError, InterfaceError, ... as SQLAlchemy wraps them
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,  # the pool had no connection to give
    psycopg.Error,  # includes psycopg_pool.PoolTimeout
    sqlite3.Error,
    PersistenceError,
)


def storage_fault(exc: Exception) -> StorageError:
    """The ``StorageError`` (503) of an unwrapped database fault (names its kind, not its text)."""
    return StorageError(
        f"the database is unavailable ({type(exc).__name__}); nothing was changed by this "
        "request: try again later"
    )


def internal_error(exc: Exception) -> ApiError:
    """The typed 500 of an unexpected exception (a server bug; its traceback is logged)."""
    return ApiError(
        "InternalError", f"the server failed on an unexpected {type(exc).__name__}; it is logged"
    )
