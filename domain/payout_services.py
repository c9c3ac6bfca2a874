"""The payout verbs of the application services: propose, withdraw, object, answer,
settle, record a payment (``domain/payouts.py`` holds their rules).

``PayoutVerbs`` is a base of ``CampaignServices`` (``domain/services.py``), which
provides the signing-and-appending step ``_do``, the gate and the content store;
kept apart so each module stays readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from domain import commands
from domain.campaign import Campaign, find_campaign
from domain.commands import When
from domain.content import ContentStore
from domain.gate import CampaignApp
from domain.payouts import MAX_PAYEES, PayoutBook, Proposal, book_of
from domain.state import State
from domain.values import contribution_id
from ledger.envelope import Envelope
from ledger.keys import SigningKey

if TYPE_CHECKING:
    from domain.services import Receipt


class _Host(Protocol):
    """What the payout verbs use of ``CampaignServices``."""

    gate: CampaignApp
    content: ContentStore

    def _do(
        self: _Host,
        key: SigningKey,
        build: Callable[..., Envelope],
        *args: Any,
        at: When | None,
        ids: Mapping[str, Any],
        **kw: Any,
    ) -> Receipt: ...

    def campaign(self: _Host, campaign: str) -> Campaign: ...


def _continues(
    proposal: Proposal, key: SigningKey, export: str, chunks: Sequence[Mapping[str, int]]
) -> bool:
    """Whether the incomplete ``proposal`` is the first parts of ``chunks`` by ``key``."""
    received = {m: a for chunk in chunks[: proposal.received] for m, a in chunk.items()}
    return (
        proposal.id.rsplit(":", 1)[0] == key.actor
        and proposal.export == export
        and proposal.parts == len(chunks)
        and dict(proposal.payees) == received
    )


class PayoutVerbs:
    """The brand's and the payees' payout commands (see the module docstring)."""

    def settle_payouts(
        self: _Host,
        key: SigningKey,
        campaign: str,
        *,
        export: str,
        lines: int,
        at: When | None = None,
    ) -> Receipt:
        """Record the payout export's hash; total, currency and policy are the campaign's."""
        found = self.campaign(campaign)
        return self._do(
            key, commands.payouts_settled, campaign, policy=found.policy.raw, total=found.pool,
            currency=found.currency, export=export, lines=lines, at=at,
            ids={"campaign": campaign},
        )  # fmt: skip

    def propose_payouts(
        self: _Host,
        key: SigningKey,
        campaign: str,
        *,
        export: str,
        payees: Mapping[str, int],
        at: When | None = None,
    ) -> Receipt:
        """Publish the payout proposal (the export's hash and every payee's amount).

        More than ``MAX_PAYEES`` payees go in parts, in ``payees``' order, one event each;
        the receipt is then the first part's (or, resuming, the last's), with ``parts`` and
        the ``positions`` of the parts appended.
        If the campaign's open proposal is this one (same brand, export and payees) with
        parts still missing, as after a crash between two parts, only those are appended.
        Opens the objection window (with the last part); the receipt's ``proposal`` is the
        id payees object to.
        """
        found = self.campaign(campaign)
        items = list(payees.items())
        chunks = [dict(items[i : i + MAX_PAYEES]) for i in range(0, len(items), MAX_PAYEES)]
        chunks = chunks or [{}]
        open_ = self.gate.read(lambda state: book_of(state, campaign).proposal)
        positions: list[int] = []
        if open_ is not None and not open_.complete and _continues(open_, key, export, chunks):
            first, done, made = None, open_.received, open_.id
        else:
            first = self._do(
                key, commands.payouts_proposed, campaign, policy=found.policy.raw,
                total=found.pool, currency=found.currency, export=export, payees=chunks[0],
                lines=len(items), parts=len(chunks), at=at, ids={"campaign": campaign},
            )  # fmt: skip
            positions.append(first.position)
            done, made = 1, contribution_id(first.actor, first.seq)
        last = first
        for part in range(done + 1, len(chunks) + 1):
            last = self._do(
                key, commands.payouts_proposal_part, campaign, made, part, chunks[part - 1],
                at=at, ids={"campaign": campaign, "proposal": made},
            )  # fmt: skip
            positions.append(last.position)
        receipt = first or last
        assert receipt is not None  # an incomplete proposal has a part to append
        ids = {**receipt.ids, "proposal": made}
        if len(chunks) > 1:
            ids.update(parts=len(chunks), positions=positions)
        return replace(receipt, ids=ids)

    def withdraw_proposal(
        self: _Host, key: SigningKey, campaign: str, proposal: str, reason: str, *,
        at: When | None = None,
    ) -> Receipt:  # fmt: skip
        ids = {"campaign": campaign, "proposal": proposal}
        build = commands.payouts_withdrawn
        return self._do(key, build, campaign, proposal, reason, at=at, ids=ids)

    def answer_objection(
        self: _Host,
        key: SigningKey,
        campaign: str,
        objection: str,
        outcome: str,
        *,
        text: bytes | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Answer an objection; the answer's text goes to the content store."""
        return self._do(
            key, commands.objection_answered, campaign, objection, outcome,
            text=None if text is None else self.content.put(text), at=at,
            ids={"campaign": campaign, "objection": objection},
        )  # fmt: skip

    def record_payment(
        self: _Host,
        key: SigningKey,
        campaign: str,
        *,
        rail: str,
        batch: str,
        payments: Sequence[commands.PaymentLine],
        tx: str | None = None,
        token: str | None = None,
        decimals: int | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Record a payment batch a rail made (the gate checks it against the settlement)."""
        return self._do(
            key, commands.payment_recorded, campaign, rail=rail, batch=batch,
            payments=payments, tx=tx, token=token, decimals=decimals, at=at,
            ids={"campaign": campaign, "batch": batch},
        )  # fmt: skip

    def publish_claims(
        self: _Host,
        key: SigningKey,
        campaign: str,
        *,
        root: str,
        chain: int,
        distributor: str,
        token: str,
        decimals: int,
        claimants: int,
        amount: int,
        at: When | None = None,
    ) -> Receipt:
        """Put the deployed claim tree in the log (``ClaimsPublished``): the root the
        Distributor holds, where it is, its token, and how much to how many claimants."""
        return self._do(
            key, commands.claims_published, campaign, root=root, chain=chain,
            distributor=distributor, token=token, decimals=decimals, claimants=claimants,
            amount=amount, at=at, ids={"campaign": campaign, "distributor": distributor},
        )  # fmt: skip

    def object_to_payouts(
        self: _Host,
        key: SigningKey,
        campaign: str,
        proposal: str,
        reason: str,
        *,
        text: bytes | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Object to a payout proposal (a payee, within its window); text to the content store."""
        receipt = self._do(
            key, commands.payout_objected, campaign, proposal, reason,
            text=None if text is None else self.content.put(text), at=at,
            ids={"campaign": campaign, "proposal": proposal},
        )  # fmt: skip
        made = contribution_id(receipt.actor, receipt.seq)
        return replace(receipt, ids={**receipt.ids, "objection": made})

    def payout_book(self: _Host, campaign: str) -> PayoutBook:
        """The campaign's payout book; ``UnknownCampaignError`` if it was never opened."""

        def book(state: State) -> PayoutBook:
            find_campaign(state, campaign)
            return book_of(state, campaign)

        return self.gate.read(book)
