"""The claims rail's errors: one root under ``CocredError``, bad entries apart from chain faults.

``contracts/`` holds the chain adapters. The anchoring adapter raises the anchoring
port's errors (``ledger.provenance.anchoring.AnchorError``), because the ledger owns that
port; the claims rail (``claims.py``, ``claim_tree.py``) has no port in another package,
so its errors live here, under ``ClaimsError``. Each has a ``code`` with its HTTP status in
``api/http/errors.py`` ``STATUS_BY_CODE`` and a sentence naming the ids involved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.errors import CocredError, MalformedError, VerificationError


class ClaimsError(CocredError):
    """Root of every error the claims rail raises on purpose."""

    code = "ClaimsError"


class ClaimEntryError(ClaimsError, MalformedError):
    """A claim entry cannot go into a tree: duplicate index, bad address, bad amount."""

    code = "BadClaimEntry"


class UnknownClaimIndexError(ClaimsError):
    """No entry of the tree has this index, so there is no proof to give."""

    code = "UnknownClaimIndex"


class ClaimsConfigError(ClaimsError):
    """The rail is set up wrongly: key, chain id, address, or no Distributor at the address."""

    code = "ClaimsConfig"


class ClaimsConnectionError(ClaimsError):
    """The Ethereum node could not be reached; ``tx_hash`` is set if a transaction was sent."""

    code = "ClaimsConnection"

    def __init__(self, detail: str, tx_hash: bytes | None = None) -> None:
        super().__init__(detail)
        self.tx_hash = tx_hash


class ClaimsNodeError(ClaimsError):
    """The node refused a request (nonce too low, insufficient funds for gas, bad params)."""

    code = "ClaimsNode"


class ClaimsTimeoutError(ClaimsError):
    """A transaction was sent but no receipt came in time; ``tx_hash`` names it."""

    code = "ClaimsTimeout"

    def __init__(self, detail: str, tx_hash: bytes) -> None:
        super().__init__(detail)
        self.tx_hash = tx_hash


class ClaimRevertedError(ClaimsError):
    """A contract refused the call (Distributor or token); ``error`` is the decoded name.

    ``reason`` is the decoded revert as text, ``arguments`` its decoded arguments and
    ``tx_hash`` the mined transaction if it failed on chain, not in the pre-flight.
    """

    code = "ClaimReverted"

    def __init__(
        self,
        detail: str,
        *,
        reason: str,
        error: str = "",
        arguments: Mapping[str, Any] | None = None,
        tx_hash: bytes | None = None,
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.error = error
        self.arguments = dict(arguments or {})
        self.tx_hash = tx_hash


class InvalidClaimProofError(ClaimRevertedError):
    """The proof does not lead from the (index, account, amount) leaf to the root."""

    code = "InvalidClaimProof"


class AlreadyClaimedError(ClaimRevertedError):
    """The index was claimed before: one claim per index."""

    code = "AlreadyClaimed"


class ChainTxError(ClaimsError, VerificationError):
    """A transaction named as a payment is not on chain, or failed there."""

    code = "ChainTxUnverified"


class NoClaimError(ClaimsError):
    """No claim tree of the campaign (deployed, for a member's proof) holds this member."""

    code = "NoClaim"


class ClaimsNotDeployedError(ClaimsError):
    """The campaign's newest claim tree has no Distributor on chain yet."""

    code = "ClaimsNotDeployed"


class ClaimsAlreadyDeployedError(ClaimsError):
    """The campaign is paid by a deployed Distributor already: one per campaign."""

    code = "ClaimsAlreadyDeployed"


class StaleClaimTreeError(ClaimsError):
    """The tree pays a member more than is owed now (paid on another rail since the build)."""

    code = "StaleClaimTree"
