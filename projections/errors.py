"""The projections' errors: one root, each refusal its own type with a sentence and ids.

Under the common root ``CocredError`` (``code``, ``detail``, ``ids``), so the CLI
and the HTTP layer map it like every other; a root of its own, because a read
model that cannot answer is not a ledger failure.

A refusal that means the same thing as a domain refusal (an unknown campaign or
contribution, settling too early, twice, as someone else, or a ``PayoutsSettled``
that does not match) is the domain's own type, imported here: one code, one
class, so a caller catches one type whichever side refused.
"""

from __future__ import annotations

from domain.errors import (
    AlreadySettledError,
    CampaignNotClosedError,
    NotCampaignOwnerError,
    SettlementMismatchError,
    UnknownCampaignError,
    UnknownContributionError,
)
from ledger.errors import CocredError

__all__ = [
    "AlreadySettledError",
    "BadPayoutHandleError",
    "CampaignNotClosedError",
    "ExportError",
    "MissingPayoutHandleError",
    "NotCampaignOwnerError",
    "NothingToPayError",
    "ProjectionError",
    "ProjectionFailedError",
    "ReadModelMovedError",
    "SettlementError",
    "SettlementMismatchError",
    "UnknownCampaignError",
    "UnknownContributionError",
    "UnknownMemberError",
    "UnsupportedPolicyError",
    "UnknownRailError",
    "SepaCurrencyError",
    "ChainReadError",
]


class ProjectionError(CocredError):
    """Root of every error the projections raise on purpose."""

    code = "ProjectionError"


class ProjectionFailedError(ProjectionError):
    """A handler could not apply an event: the projection stopped before it, nothing skipped."""

    code = "ProjectionFailed"


class ReadModelMovedError(ProjectionError):
    """Another projector advanced the read models first; nothing of this run was written."""

    code = "ReadModelMoved"


class UnknownMemberError(ProjectionError):
    """The member never appeared in that campaign."""

    code = "UnknownMember"


class UnsupportedPolicyError(ProjectionError):
    """The campaign's reward policy is not one these projections implement."""

    code = "UnsupportedPolicy"


class SettlementError(ProjectionError):
    """Payouts cannot be settled as asked, for a reason only the projections see (the
    subclass says which; the domain's refusals are the domain's types)."""

    code = "SettlementRefused"


class NothingToPayError(SettlementError):
    """The pool is not empty but nobody earned any credit."""

    code = "NothingToPay"


class ExportError(ProjectionError):
    """An export file cannot be produced in the asked format."""

    code = "ExportRefused"


class MissingPayoutHandleError(ExportError):
    """A payee has no payout handle in the profile store (never given, or erased)."""

    code = "MissingPayoutHandle"


class BadPayoutHandleError(ExportError):
    """A payout handle is not valid for the asked format (e.g. not an Ethereum address)."""

    code = "BadPayoutHandle"


class UnknownRailError(ExportError):
    """A payment file asked for a rail cocred does not write."""

    code = "UnknownRail"


class SepaCurrencyError(ExportError):
    """A SEPA credit transfer file asked for a campaign whose currency is not EUR."""

    code = "SepaNeedsEuro"


class ChainReadError(ProjectionError):
    """The audit could not read a chain payment's transaction from the node."""

    code = "ChainRead"
