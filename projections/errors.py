"""The projections' errors: one root, each refusal its own type with a sentence and ids.

Under the common root ``CocredError`` (``code``, ``detail``, ``ids``), so the CLI
and the HTTP layer map it like every other; a root of its own, because a read
model that cannot answer is not a ledger failure.
"""

from __future__ import annotations

from ledger.errors import CocredError


class ProjectionError(CocredError):
    """Root of every error the projections raise on purpose."""

    code = "ProjectionError"


class ProjectionFailedError(ProjectionError):
    """A handler could not apply an event: the projection stopped before it, nothing skipped."""

    code = "ProjectionFailed"


class ReadModelMovedError(ProjectionError):
    """Another projector advanced the read models first; nothing of this run was written."""

    code = "ReadModelMoved"


class UnknownCampaignError(ProjectionError):
    """No ``CampaignOpened`` with that id in the log."""

    code = "UnknownCampaign"


class UnknownContributionError(ProjectionError):
    """No such contribution in that campaign."""

    code = "UnknownContribution"


class UnknownMemberError(ProjectionError):
    """The member never appeared in that campaign."""

    code = "UnknownMember"


class UnsupportedPolicyError(ProjectionError):
    """The campaign's reward policy is not one these projections implement."""

    code = "UnsupportedPolicy"


class SettlementError(ProjectionError):
    """Payouts cannot be settled as asked (the subclasses say why)."""

    code = "SettlementRefused"


class CampaignNotClosedError(SettlementError):
    """Payouts are settled only after ``CampaignClosed``."""

    code = "CampaignNotClosed"


class AlreadySettledError(SettlementError):
    """The campaign already has a ``PayoutsSettled`` event."""

    code = "AlreadySettled"


class NotCampaignOwnerError(SettlementError):
    """Only the campaign's brand may settle its payouts."""

    code = "NotCampaignOwner"


class NothingToPayError(SettlementError):
    """The pool is not empty but nobody earned any credit."""

    code = "NothingToPay"


class SettlementMismatchError(ProjectionError):
    """A recorded ``PayoutsSettled`` does not match what the log recomputes to."""

    code = "SettlementMismatch"


class ExportError(ProjectionError):
    """An export file cannot be produced in the asked format."""

    code = "ExportRefused"


class MissingPayoutHandleError(ExportError):
    """A payee has no payout handle in the profile store (never given, or erased)."""

    code = "MissingPayoutHandle"


class BadPayoutHandleError(ExportError):
    """A payout handle is not valid for the asked format (e.g. not an Ethereum address)."""

    code = "BadPayoutHandle"
