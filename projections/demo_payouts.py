"""How the demo campaign ends: proposed, objected to and answered, settled, paid through two
rails, with one payee unpaid.

The demo story itself (``domain.demo``) cannot compute payouts (the domain knows nothing of
the projections), so this runs after it, on the same services: the brand proposes the
recomputed export a day after the close; the top payee objects the next day and the brand
rejects the objection with a reason; once the seven-day window is over the brand settles;
then the lowest payee asks to be erased, and the brand pays everyone else through the rails
their profiles name (SEPA for even members, PayPal for odd ones) and records both batches.
The erased payee's money stays owed. Every time is fixed, so a seed gives the same log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.demo.story import demo_key
from domain.payouts import PAYMENTS_PER_RECORD, book_of
from domain.services import CampaignServices
from domain.vocabulary import PAYPAL, REJECTED, SEPA
from ledger.envelope import format_ts
from projections.export import prepare_settlement
from projections.rails import plan_rails
from projections.state import load_state

PROPOSED_AFTER = timedelta(days=1)  # after the close (the demo closes at a fixed time)
CLOSE_AT = datetime.fromisoformat("2025-06-30T12:00:00+00:00")


def pay_demo(services: CampaignServices, campaign: str, seed: int, members: int) -> dict[str, Any]:
    """Propose, object, answer, settle, erase one payee, pay the rest; return what happened.

    Raises what the services raise (the demo's own events are never refused).
    """
    brand = demo_key(seed, "brand", 0)
    keys = {k.actor: k for k in (demo_key(seed, "member", i) for i in range(members))}
    state = load_state(services.ledger.store).campaign(campaign)
    settlement = prepare_settlement(state, brand.actor)
    proposed_at = CLOSE_AT + PROPOSED_AFTER
    proposal = services.propose_payouts(
        brand, campaign, export=settlement.sha256, payees=settlement.payees, at=proposed_at
    ).ids["proposal"]
    ranked = sorted(settlement.lines, key=lambda line: (-line.amount, line.member))
    top, last = ranked[0].member, ranked[-1].member
    objection = services.object_to_payouts(
        keys[top], campaign, proposal, "wrong-amount",
        text=b"My remixes were reused on packaging; I expected more.",
        at=proposed_at + timedelta(days=1),
    ).ids["objection"]  # fmt: skip
    services.answer_objection(
        brand, campaign, objection, REJECTED,
        text=b"Packaging reuse is weighted like every reuse (reuse_weight 20); see /explain.",
        at=proposed_at + timedelta(days=2),
    )  # fmt: skip
    window = services.campaign(campaign).policy.window_seconds
    settled_at = proposed_at + timedelta(seconds=window, hours=1)
    services.settle_payouts(
        brand, campaign, export=settlement.sha256, lines=len(settlement.lines), at=settled_at
    )
    services.erase(keys[last], at=settled_at + timedelta(hours=2))
    book = services.payout_book(campaign)
    erased = services.gate.read(lambda s: set(s.erased))
    plan = plan_rails(
        campaign, settlement.currency, settlement.payees, book.paid, (SEPA, PAYPAL),
        services.profiles, erased,
    )  # fmt: skip
    paid_at = settled_at + timedelta(days=1)
    for rail in (SEPA, PAYPAL):
        lines = [(x.member, x.amount, None) for x in plan.lines[rail]]
        for start in range(0, len(lines), PAYMENTS_PER_RECORD):  # one batch, in records
            services.record_payment(
                brand, campaign, rail=rail, batch=f"DEMO-{seed}-{rail.upper()}-1",
                payments=lines[start : start + PAYMENTS_PER_RECORD], at=paid_at,
            )  # fmt: skip
    book = services.gate.read(lambda s: book_of(s, campaign))
    return {
        "proposal": proposal,
        "objection": objection,
        "settled_at": format_ts(settled_at),
        "paid": {rail: len(plan.lines[rail]) for rail in (SEPA, PAYPAL)},
        "unpaid": [
            {"member": u.member, "amount": u.amount, "reason": u.reason} for u in plan.unpaid
        ],
        "owed": sum(book.owed(m) for m in settlement.payees),
    }
