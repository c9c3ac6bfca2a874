"""The campaign domain's errors: one root, one type per refused command, ids attached.

Every refusal names what was refused and why in one sentence (``detail``) and
carries the ids involved (``ids``: campaign, member, contribution, licence …;
``index`` when the event was part of a batch), so the CLI and the HTTP layer can
report it without parsing the sentence. ``code`` is the machine-readable name.
A refused command writes nothing.
"""

from __future__ import annotations

from typing import TypeVar

from ledger.errors import CocredError


class DomainError(CocredError):
    """Root of every error the campaign domain raises on purpose."""

    code = "DomainError"


E = TypeVar("E", bound=DomainError)


def with_index(exc: E, index: int) -> E:
    """The same error, its sentence prefixed with the event's index in its batch."""
    new = type(exc)(f"event {index} of the batch: {exc.detail}", **{**exc.ids, "index": index})
    new.__cause__ = exc
    return new


# -- input shape -------------------------------------------------------------------------------


class MalformedBodyError(DomainError):
    """An event's body (or its campaign field) does not have the shape EVENTS.md fixes."""

    code = "MalformedBody"


class UnknownEventTypeError(DomainError):
    """The event type is neither a campaign event nor a ledger key event."""

    code = "UnknownEventType"


# -- campaign ----------------------------------------------------------------------------------


class UnknownCampaignError(DomainError):
    """The event names a campaign that was never opened."""

    code = "UnknownCampaign"


class DuplicateCampaignError(DomainError):
    """``CampaignOpened`` with an id that is already taken."""

    code = "DuplicateCampaign"


class NotCampaignOwnerError(DomainError):
    """Only the campaign's brand may fund, close, invite, block, unblock, moderate, settle."""

    code = "NotCampaignOwner"


class CampaignClosedError(DomainError):
    """The campaign is closed: nothing but ``PayoutsSettled`` is accepted for it."""

    code = "CampaignClosed"


class CampaignNotClosedError(DomainError):
    """``PayoutsSettled`` before ``CampaignClosed``."""

    code = "CampaignNotClosed"


class OutsideCampaignWindowError(DomainError):
    """A submission or vote whose ``ts`` is before ``starts_at`` or after ``ends_at``."""

    code = "OutsideCampaignWindow"


class AlreadySettledError(DomainError):
    """A second ``PayoutsSettled`` for one campaign."""

    code = "AlreadySettled"


class SettlementMismatchError(DomainError):
    """``PayoutsSettled`` whose total, currency or policy differ from the campaign's, or
    (the audit, in ``projections.export``) whose body differs from the log's recomputation."""

    code = "SettlementMismatch"


# -- membership --------------------------------------------------------------------------------


class NotJoinedError(DomainError):
    """A member (or a named co-author) acts in a campaign they have not joined."""

    code = "NotJoined"


class NotInvitedError(DomainError):
    """Joining an invite-only campaign without an invitation."""

    code = "NotInvited"


class MemberBlockedError(DomainError):
    """A blocked member (or a blocked co-author) acts in the campaign."""

    code = "MemberBlocked"


class AlreadyJoinedError(DomainError):
    """A second ``MemberJoined`` by one member for one campaign."""

    code = "AlreadyJoined"


class AlreadyInvitedError(DomainError):
    """A second ``MemberInvited`` for one member of one campaign."""

    code = "AlreadyInvited"


class AlreadyBlockedError(DomainError):
    """``MemberBlocked`` for a member who is blocked already."""

    code = "AlreadyBlocked"


class NotBlockedError(DomainError):
    """``MemberUnblocked`` for a member who is not blocked."""

    code = "NotBlocked"


class GuidelinesMismatchError(DomainError):
    """``MemberJoined`` accepting guidelines other than the campaign's."""

    code = "GuidelinesMismatch"


class RegistrationClosedError(DomainError):
    """A ``KeyRegistered`` starting a new actor while this server admits no new actors."""

    code = "RegistrationClosed"


class FirstActRequiredError(DomainError):
    """A ``KeyRegistered`` starting a new actor without, in the same batch, a first act the
    campaign rules admit (``domain.membership.FIRST_ACTS``) signed by that actor."""

    code = "FirstActRequired"


class SubmissionCapReachedError(DomainError):
    """A member's ``ContributionSubmitted`` over the campaign policy's ``submissions_per_day``."""

    code = "SubmissionCapReached"


# -- invitation codes (domain/invite_codes.py) -------------------------------------------------


class UnknownInviteCodeError(DomainError):
    """``MemberJoined`` presenting a code no batch of any campaign holds."""

    code = "UnknownInviteCode"


class InviteCodeForOtherCampaignError(DomainError):
    """``MemberJoined`` presenting a code the brand of another campaign issued."""

    code = "InviteCodeForOtherCampaign"


class InviteCodeUsedError(DomainError):
    """``MemberJoined`` presenting a code an earlier join used (codes are single-use)."""

    code = "InviteCodeUsed"


class InviteCodeExpiredError(DomainError):
    """``MemberJoined`` presenting a code whose batch's ``expires_at`` has passed."""

    code = "InviteCodeExpired"


class InviteExpiryInPastError(DomainError):
    """``InvitationCodesIssued`` whose ``expires_at`` is not after its own ``ts``."""

    code = "InviteExpiryInPast"


class DuplicateInviteCodeError(DomainError):
    """``InvitationCodesIssued`` naming a code hash twice, or one an earlier batch holds."""

    code = "DuplicateInviteCode"


# -- contributions, votes, licences -----------------------------------------------------------


class UnknownContributionError(DomainError):
    """The contribution does not exist (earlier, in this campaign)."""

    code = "UnknownContribution"


class RemovedContributionError(DomainError):
    """The contribution was removed by moderation: no votes, remixes, licences or reuses."""

    code = "RemovedContribution"


class InvalidSharesError(DomainError):
    """Author shares not summing to 100, or remix shares malformed or not summing below 1."""

    code = "InvalidShares"


class DuplicateVoteError(DomainError):
    """The member already has a live vote of this kind on the contribution."""

    code = "DuplicateVote"


class NoSuchVoteError(DomainError):
    """Withdrawing a vote that is not live."""

    code = "NoSuchVote"


class SelfVoteError(DomainError):
    """A vote on a contribution the voter (co-)authored."""

    code = "SelfVote"


class SelfReportError(DomainError):
    """A report on a contribution the reporter (co-)authored."""

    code = "SelfReport"


class DuplicateReportError(DomainError):
    """The member already reported the contribution (one report per member per piece)."""

    code = "DuplicateReport"


class UnknownReportError(DomainError):
    """A moderation decision citing a report the campaign does not have."""

    code = "UnknownReport"


class ReportNotAboutContributionError(DomainError):
    """A moderation decision citing a report about another contribution."""

    code = "ReportNotAboutContribution"


# -- comment threads (issue 19) ----------------------------------------------------------------


class UnknownCommentError(DomainError):
    """A reply, a hiding or a report naming a comment the campaign does not have."""

    code = "UnknownComment"


class CommentNotInThreadError(DomainError):
    """A reply whose parent comment is on another contribution than the reply."""

    code = "CommentNotInThread"


class CommentHiddenError(DomainError):
    """The comment was hidden by the brand: no reply, report, comment vote or second hiding."""

    code = "CommentHidden"


class CommentNotPostedError(DomainError):
    """A comment vote (a policy with ``comment_threads``) naming no comment the voter posted."""

    code = "CommentNotPosted"


class BadCommentTextError(DomainError):
    """A comment's text over the size limit, or not UTF-8 text."""

    code = "BadCommentText"


class NotAuthorError(DomainError):
    """Granting or revoking a licence on a contribution one did not author."""

    code = "NotAuthor"


class UnknownLicenceError(DomainError):
    """Revoking a licence id nobody granted."""

    code = "UnknownLicence"


class DuplicateLicenceError(DomainError):
    """An author granting the same licence id a second time."""

    code = "DuplicateLicence"


class LicenceRevokedError(DomainError):
    """The licence id was revoked: it cannot be granted or revoked again."""

    code = "LicenceRevoked"


class NoLicenceError(DomainError):
    """A reuse not covered by a live licence (authors, licensee, channel, territory, time)."""

    code = "NoLicence"


# -- co-author consent (a campaign whose policy has coauthor_consent) ---------------------------


class NotCoAuthorError(DomainError):
    """Accepting or declining a co-authorship one was not named in (or the submitter's own)."""

    code = "NotCoAuthor"


class CoAuthorshipAnsweredError(DomainError):
    """A co-author accepting or declining a contribution a second time."""

    code = "CoAuthorshipAnswered"


class ConsentNotAskedError(DomainError):
    """Accepting or declining in a campaign whose policy asks no co-author consent."""

    code = "ConsentNotAsked"


class PendingCoAuthorshipError(DomainError):
    """A vote, remix, licence or reuse of a contribution some co-author has not accepted."""

    code = "PendingCoAuthorship"


class CoAuthorshipDeclinedError(DomainError):
    """A co-author declined the contribution: no votes, remixes, licences, reuses or answers."""

    code = "CoAuthorshipDeclined"


# -- members' data -----------------------------------------------------------------------------


class MemberErasedError(DomainError):
    """The member was erased: the actor can sign no further campaign or profile event."""

    code = "MemberErased"


class InvalidProfileError(DomainError):
    """A profile field is missing, empty, too long or not text."""

    code = "InvalidProfile"


class ContentMismatchError(DomainError):
    """Uploaded bytes do not hash to the SHA-256 the uploader announced."""

    code = "ContentMismatch"


class ContentTooLargeError(DomainError):
    """Uploaded bytes are over the content store's size limit."""

    code = "ContentTooLarge"


class ContentQuotaExceededError(DomainError):
    """An upload that would take a member or a campaign over its content-store quota."""

    code = "ContentQuotaExceeded"


class UnknownContentError(DomainError):
    """No content with that hash in the content store."""

    code = "UnknownContent"


class UnknownContentKindError(DomainError):
    """Content declared as a kind that is not a contribution kind."""

    code = "UnknownContentKind"


class ContentKindMismatchError(DomainError):
    """The bytes are not what their declared kind says (a PNG declared as a video, …)."""

    code = "ContentKindMismatch"


class UndecodableContentError(DomainError):
    """An image whose magic bytes name its format but that does not decode."""

    code = "UndecodableContent"


class ImageTooLargeError(DomainError):
    """An image of more pixels than the limit (a decompression bomb, or just too big)."""

    code = "ImageTooLarge"


class NoPublicCopyError(DomainError):
    """Content served to nobody but its author and brand: there is no public copy of it."""

    code = "NoPublicCopy"


class NoThumbnailError(DomainError):
    """A thumbnail asked of content that is not an image."""

    code = "NoThumbnail"


class ProfileKeyUnavailableError(DomainError):
    """The profile epoch key file is absent or unreadable: no profile can be read or stored."""

    code = "ProfileKeyUnavailable"


class ProfileKeyMismatchError(DomainError):
    """The profile epoch key file belongs to another database's profile store."""

    code = "ProfileKeyMismatch"


# -- payouts: proposal, objections, settlement, payments (domain/payouts.py) --------------------


class ProposalOpenError(DomainError):
    """A payout proposal while another one is open (withdraw it first)."""

    code = "ProposalOpen"


class ProposalIncompleteError(DomainError):
    """An objection, a settlement or a part out of order while a proposal in parts is not
    all in the log yet (its objection window opens with its last part)."""

    code = "ProposalIncomplete"


class NoProposalError(DomainError):
    """A payout act that needs an open proposal, and the campaign has none."""

    code = "NoProposal"


class UnknownProposalError(DomainError):
    """The event names a proposal that is not the campaign's open one."""

    code = "UnknownProposal"


class ProposalMismatchError(DomainError):
    """A settlement whose export hash or line count is not the open proposal's."""

    code = "ProposalMismatch"


class NotPayeeError(DomainError):
    """An objection or a payment for a member who is not a payee of the proposal."""

    code = "NotPayee"


class ObjectionWindowClosedError(DomainError):
    """An objection outside the proposal's objection window."""

    code = "ObjectionWindowClosed"


class ObjectionWindowOpenError(DomainError):
    """A settlement before the proposal's objection window has ended."""

    code = "ObjectionWindowOpen"


class AlreadyObjectedError(DomainError):
    """A payee objecting a second time to the same proposal."""

    code = "AlreadyObjected"


class UnknownObjectionError(DomainError):
    """An answer to an objection the open proposal does not have."""

    code = "UnknownObjection"


class AlreadyAnsweredError(DomainError):
    """A second answer to the same objection."""

    code = "AlreadyAnswered"


class UnansweredObjectionError(DomainError):
    """A settlement while an objection to the proposal has no answer."""

    code = "UnansweredObjection"


class UpheldObjectionError(DomainError):
    """A settlement of a proposal the brand agreed an objection against."""

    code = "UpheldObjection"


class NotSettledError(DomainError):
    """A payment recorded for a campaign whose settled lines are not in the log."""

    code = "NotSettled"


class AlreadyPaidError(DomainError):
    """A payment to a payee who was paid in full already."""

    code = "AlreadyPaid"


class OverpaymentError(DomainError):
    """A payment that would take a payee above what the settlement owes them."""

    code = "Overpayment"


class ClaimsAlreadyPublishedError(DomainError):
    """A second claim tree for a campaign whose Distributor is in the log already."""

    code = "ClaimsAlreadyPublished"


class NoClaimsPublishedError(DomainError):
    """A payment on the claims rail of a campaign with no ``ClaimsPublished``."""

    code = "NoClaimsPublished"


class ClaimsMismatchError(DomainError):
    """A claims payment naming another Distributor, token or decimals than the published."""

    code = "ClaimsMismatch"


class InvalidPayoutMethodError(DomainError):
    """A payout method that does not validate (IBAN, BIC, PayPal id, EIP-55 address)."""

    code = "InvalidPayoutMethod"


# -- the gate ----------------------------------------------------------------------------------


class AppendContentionError(DomainError):
    """The log kept moving under a conditional append: every retry lost the race."""

    code = "Contention"


class DemoSizeError(DomainError):
    """Demo parameters too small (or inconsistent) to build the campaign story."""

    code = "BadDemoSize"


# -- review phase and appeals (issue 19) -------------------------------------------------------


class UnreviewedPiecesError(DomainError):
    """A close, under a policy with ``review``, while pieces await review and the close does
    not say (``unreviewed``) what happens to them."""

    code = "UnreviewedPieces"


class AppealUndecidedError(DomainError):
    """A close, or a new moderation of the piece, while an appeal awaits the brand's decision."""

    code = "AppealUndecided"


class AppealsNotOfferedError(DomainError):
    """An appeal in a campaign whose policy has no ``appeal_window``."""

    code = "AppealsNotOffered"


class NotSubmitterError(DomainError):
    """An appeal signed by someone other than the piece's submitter."""

    code = "NotSubmitter"


class NothingToAppealError(DomainError):
    """An appeal of a piece whose latest moderation is neither a rejection nor a removal."""

    code = "NothingToAppeal"


class AlreadyAppealedError(DomainError):
    """A second appeal against the same moderation decision."""

    code = "AlreadyAppealed"


class AppealWindowClosedError(DomainError):
    """An appeal after the policy's ``appeal_window`` from the decision has passed."""

    code = "AppealWindowClosed"


class NoAppealError(DomainError):
    """A decision on a piece with no appeal filed against its latest moderation."""

    code = "NoAppeal"


class AppealAlreadyDecidedError(DomainError):
    """A second decision on the same appeal."""

    code = "AppealAlreadyDecided"
