"""The words of the event contract (``domain/EVENTS.md``), written once.

Event types, vote kinds, contribution kinds, moderation outcomes, membership
modes and the default reward policy. The domain's rules check events against
these; the projections read the log with the same names by importing this
module (it imports nothing, so a read model depends on the contract's words and
not on the rules). A new word goes here first.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# -- event types (those with a campaign field, then the profile events) -------------------------

CAMPAIGN_OPENED = "CampaignOpened"
POOL_FUNDED = "PoolFunded"
CAMPAIGN_CLOSED = "CampaignClosed"
PAYOUTS_SETTLED = "PayoutsSettled"
MEMBER_INVITED = "MemberInvited"
MEMBER_BLOCKED = "MemberBlocked"
MEMBER_UNBLOCKED = "MemberUnblocked"
MEMBER_JOINED = "MemberJoined"
INVITATION_CODES_ISSUED = "InvitationCodesIssued"
CONTRIBUTION_SUBMITTED = "ContributionSubmitted"
VOTE_CAST = "VoteCast"
VOTE_WITHDRAWN = "VoteWithdrawn"
LICENCE_GRANTED = "LicenceGranted"
LICENCE_REVOKED = "LicenceRevoked"
REUSE_RECORDED = "ReuseRecorded"
CONTRIBUTION_MODERATED = "ContributionModerated"
COAUTHORSHIP_ACCEPTED = "CoAuthorshipAccepted"
COAUTHORSHIP_DECLINED = "CoAuthorshipDeclined"
CONTRIBUTION_REPORTED = "ContributionReported"
APPEAL_FILED = "AppealFiled"
APPEAL_DECIDED = "AppealDecided"
COMMENT_POSTED = "CommentPosted"
COMMENT_HIDDEN = "CommentHidden"
COMMENT_REPORTED = "CommentReported"
PAYOUTS_PROPOSED = "PayoutsProposed"
PAYOUTS_PROPOSAL_PART = "PayoutsProposalPart"
PAYOUTS_WITHDRAWN = "PayoutsWithdrawn"
PAYOUT_OBJECTED = "PayoutObjected"
OBJECTION_ANSWERED = "ObjectionAnswered"
PAYMENT_RECORDED = "PaymentRecorded"
CLAIMS_PUBLISHED = "ClaimsPublished"
PROFILE_COMMITTED = "ProfileCommitted"
MEMBER_ERASED = "MemberErased"

CAMPAIGN_EVENT_TYPES = frozenset(
    {
        CAMPAIGN_OPENED,
        POOL_FUNDED,
        CAMPAIGN_CLOSED,
        PAYOUTS_SETTLED,
        MEMBER_INVITED,
        MEMBER_BLOCKED,
        MEMBER_UNBLOCKED,
        MEMBER_JOINED,
        INVITATION_CODES_ISSUED,
        CONTRIBUTION_SUBMITTED,
        VOTE_CAST,
        VOTE_WITHDRAWN,
        LICENCE_GRANTED,
        LICENCE_REVOKED,
        REUSE_RECORDED,
        CONTRIBUTION_MODERATED,
        COAUTHORSHIP_ACCEPTED,
        COAUTHORSHIP_DECLINED,
        CONTRIBUTION_REPORTED,
        APPEAL_FILED,
        APPEAL_DECIDED,
        COMMENT_POSTED,
        COMMENT_HIDDEN,
        COMMENT_REPORTED,
    }
)

# The payout lifecycle after the close (proposal, objections, answers, payments): campaign
# events too (they carry the campaign), accepted after CampaignClosed like PayoutsSettled,
# and not read by the reward projections (scores end at the close).
PAYOUT_EVENT_TYPES = frozenset(
    {
        PAYOUTS_PROPOSED,
        PAYOUTS_PROPOSAL_PART,
        PAYOUTS_WITHDRAWN,
        PAYOUT_OBJECTED,
        OBJECTION_ANSWERED,
        PAYOUTS_SETTLED,
        CLAIMS_PUBLISHED,
        PAYMENT_RECORDED,
    }
)

# -- values inside bodies -----------------------------------------------------------------------

OPEN, INVITE_ONLY = "open", "invite-only"  # CampaignOpened.membership
ENGAGEMENT_KINDS = ("support", "comment", "save", "share")  # VoteCast.kind, in policy order
COMMENT = "comment"  # the vote kind that carries a comment hash (a posted comment's text)
# The body field that names a comment: VoteCast's (its text's hash), CommentHidden's and
# CommentReported's (its id).
COMMENT_FIELD = "comment"
CONTRIBUTION_KINDS = ("idea", "photo", "video", "design", "text")
ACCEPTED, REJECTED, REMOVED = "accepted", "rejected", "removed"
MODERATION_OUTCOMES = (ACCEPTED, REJECTED, REMOVED)
EXCLUDING_OUTCOMES = frozenset({REJECTED, REMOVED})  # a contribution earns nothing under these
# ContributionReported.reason: why a member flags a piece for the brand's moderation
REPORT_REASONS = ("spam", "harassment", "plagiarism", "off-guidelines", "personal-data", "other")
# PayoutObjected.reason: why a payee contests a proposal
OBJECTION_REASONS = ("missing-credit", "wrong-amount", "wrong-attribution", "moderation", "other")
# ObjectionAnswered.outcome; upheld: the brand agrees (it must withdraw and propose again)
UPHELD = "upheld"
ANSWER_OUTCOMES = (UPHELD, REJECTED)  # rejected: the amounts stand
# AppealDecided.outcome: upheld, the moderation stands (a removal is then final); reinstated,
# the piece is accepted and earns again. CampaignClosed.unreviewed: what the close does with
# the pieces nobody moderated (accepted: they earn as before; rejected: they earn nothing).
REINSTATED = "reinstated"
FILED = "filed"  # an appeal's status while it awaits the brand (then upheld or reinstated)
APPEAL_OUTCOMES = (UPHELD, REINSTATED)
APPEALABLE_OUTCOMES = frozenset({REJECTED, REMOVED})
UNREVIEWED_ACCEPT, UNREVIEWED_REJECT = "accept", "reject"
UNREVIEWED_CHOICES = (UNREVIEWED_ACCEPT, UNREVIEWED_REJECT)
# PaymentRecorded.rail; the chain rails carry a transaction, a token and each recipient address
SEPA, PAYPAL, SAFE, ETH, CLAIMS = "sepa", "paypal", "safe", "eth", "claims"
PAYMENT_RAILS = (SEPA, PAYPAL, SAFE, ETH, CLAIMS)
CHAIN_RAILS = frozenset({SAFE, ETH, CLAIMS})

# -- the reward policy --------------------------------------------------------------------------

POLICY_NAME = "cocred-fair"
POLICY_VERSION = 1
POLICY_VERSION_2 = 2
# cocred-fair v1 (projections/RULES.md, v1): what campaigns opened before v2 was the default
# were opened with. They keep it, and their payouts, forever (the policy is in the log).
DEFAULT_POLICY_V1: Mapping[str, Any] = MappingProxyType(
    {
        "name": POLICY_NAME,
        "version": POLICY_VERSION,
        "weights": {"support": 1, "comment": 3, "save": 2, "share": 4},
        "reuse_weight": 20,
        "remix_default_share": "3/10",
        "support_threshold": 0,
        "per_person_cap": None,
        "min_payout": 0,
        "pairwise_bound": "1/2",
        "objection_window": 7 * 24 * 3600,
    }
)
# cocred-fair v2 (projections/RULES.md, v2): v1's fields without pairwise_bound, plus three,
# and ``coauthor_consent`` (optional in both versions; absent = false, the behaviour of
# campaigns opened before the field: named co-authors count at once). True: a submission
# naming other authors is pending until each signs CoAuthorshipAccepted (domain/EVENTS.md).
# A new campaign also runs the community's safeguards (issue 19): ``review`` (a close must say
# what becomes of pieces never moderated, so nothing is paid unseen by default),
# ``appeal_window`` and ``comment_threads`` (every comment vote is a real, hideable comment).
# Each is optional and absent = the old behaviour, so campaigns opened before keep theirs.
# Seconds the author of a rejected or removed piece has to appeal under the default policy:
# 7 days, the objection window's length, so a member who checks the campaign weekly sees a
# decision and can answer it, and a brand reviewing after ``ends_at`` can still close within
# a fortnight (an appeal filed on the last day is decided before the close).
DEFAULT_APPEAL_WINDOW = 7 * 24 * 3600
DEFAULT_POLICY_V2: Mapping[str, Any] = MappingProxyType(
    {
        **{field: value for field, value in DEFAULT_POLICY_V1.items() if field != "pairwise_bound"},
        "version": POLICY_VERSION_2,
        "weight_budget": 20,
        "contribution_cap": 7,
        "dependent_bound": "1/2",
        "coauthor_consent": True,
        "review": True,
        "appeal_window": DEFAULT_APPEAL_WINDOW,
        "comment_threads": True,
    }
)
# The policy a new campaign opens with when it names none: cocred-fair v2.
DEFAULT_POLICY: Mapping[str, Any] = DEFAULT_POLICY_V2
# Seconds a payee may object to a payout proposal (policy field ``objection_window``; 0 = no
# window). A policy without the field (campaigns opened before it existed) settles directly.
DEFAULT_OBJECTION_WINDOW = 7 * 24 * 3600
