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


class ProfileKeyUnavailableError(DomainError):
    """The profile epoch key file is absent or unreadable: no profile can be read or stored."""

    code = "ProfileKeyUnavailable"


class ProfileKeyMismatchError(DomainError):
    """The profile epoch key file belongs to another database's profile store."""

    code = "ProfileKeyMismatch"


# -- the gate ----------------------------------------------------------------------------------


class AppendContentionError(DomainError):
    """The log kept moving under a conditional append: every retry lost the race."""

    code = "Contention"


class DemoSizeError(DomainError):
    """Demo parameters too small (or inconsistent) to build the campaign story."""

    code = "BadDemoSize"
