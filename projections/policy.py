"""The reward policy a campaign was opened with (``CampaignOpened.body.policy``).

Only ``cocred-fair`` version 1 is implemented (see ``projections/RULES.md`` for
what each parameter does). A campaign opened with another policy is still
projected (attribution does not depend on the policy), but its shares and
payouts cannot be computed: asking for them raises ``UnsupportedPolicyError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from domain.vocabulary import POLICY_NAME as NAME
from domain.vocabulary import POLICY_VERSION as VERSION
from projections.errors import UnsupportedPolicyError
from projections.exact import parse_fraction
from projections.fair_v2 import PolicyV2, parse_policy_v2
from projections.policy_fields import SharedFields, parse_shared_fields

# Constants of cocred-fair v1 (the policy body has no field for them): each member
# casts up to VOTE_BUDGET votes at full weight; beyond that, each of the member's n
# votes weighs VOTE_BUDGET / n rounded down to a multiple of 1 / BUDGET_GRID
# (see RULES.md, rule 3).
VOTE_BUDGET = 10
BUDGET_GRID = 4096


@dataclass(frozen=True, slots=True)
class Policy(SharedFields):
    """cocred-fair v1 parameters, parsed exactly."""

    pairwise_bound: Fraction
    vote_budget: int = VOTE_BUDGET
    budget_grid: int = BUDGET_GRID

    def weight(self, kind: str) -> int:
        """The weight of a vote kind (0 for a kind the policy does not list)."""
        for name, value in self.weights:
            if name == kind:
                return value
        return 0

    @property
    def ref(self) -> dict[str, Any]:
        """``{"name", "version"}`` as recorded in ``PayoutsSettled``."""
        return {"name": NAME, "version": VERSION}


def policy_name(body: Any) -> str:
    """``name vN`` of a policy body, for messages."""
    if isinstance(body, Mapping):
        return f"{body.get('name')!s} v{body.get('version')!s}"
    return repr(body)


def parse_policy(body: Any) -> Policy:
    """Parse a policy body.

    Raises ``UnsupportedPolicyError`` when it names another policy or version,
    and ``ValueError``/``KeyError`` when a cocred-fair v1 body breaks the event
    contract (the domain validates it, so that means a broken log).
    """
    if not isinstance(body, Mapping) or body.get("name") != NAME or body.get("version") != VERSION:
        raise UnsupportedPolicyError(
            f"policy {policy_name(body)} is not implemented; these projections compute "
            f"{NAME} v{VERSION}"
        )
    return Policy(
        **parse_shared_fields(body),
        pairwise_bound=parse_fraction(body["pairwise_bound"], "pairwise_bound"),
    )


def parse_versioned(body: Any) -> Policy | PolicyV2:
    """Parse a policy body of any implemented version (v2 bodies give a ``PolicyV2``).

    Raises as ``parse_policy`` does.
    """
    if isinstance(body, Mapping) and body.get("name") == NAME and body.get("version") == 2:
        return parse_policy_v2(body)
    return parse_policy(body)
