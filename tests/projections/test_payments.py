"""The audit's payout steps on logs written around the rules (the ledger alone appends them):
a proposal naming other payees, payments to a stranger or above what is owed, and chain
payments whose transfers do not match."""

from __future__ import annotations

from ledger.ledger import Ledger
from projections.export import settlement_of
from projections.payments import check_payments, check_payouts
from tests.projections.builders import Script, campaign_of

TOKEN = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
TO = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TX = "0x" + "cd" * 32


def closed() -> Script:
    script = Script(pool=1000)
    script.join("ana", "ben")
    script.vote("ben", script.submit("ana"), "share")
    script.vote("ana", script.submit("ben"), "support")
    script.close()
    return script


def pay(script: Script, lines: list[dict], rail: str = "sepa", **chain: object) -> None:
    body = {"rail": rail, "batch": "B", "tx": None, "token": None, "decimals": None}
    script._sign(script.brand, "PaymentRecorded", {**body, **chain, "payments": lines})


def test_a_proposal_and_its_payments_that_match_pass_both_steps(ledger: Ledger) -> None:
    script = closed()
    found = settlement_of(campaign_of(script))
    script.propose(found.sha256, found.payees, 1000)
    script.settle(found.sha256, total=1000, lines=len(found.lines))
    ana = script.id("ana")
    pay(script, [{"member": ana, "amount": found.payees[ana]}])
    script.flush(ledger)
    assert check_payouts(ledger.store) == (2, [])
    assert check_payments(ledger.store) == (1, [])


def test_the_audit_finds_a_proposal_whose_payees_are_not_the_logs(ledger: Ledger) -> None:
    script = closed()
    found = settlement_of(campaign_of(script))
    ana, ben = script.id("ana"), script.id("ben")
    script.propose(found.sha256, {ana: 1000}, 1000)  # the right hash, but only Ana
    script.flush(ledger)
    checked, failures = check_payouts(ledger.store)
    position = ledger.size() - 1
    assert (checked, [f.step for f in failures]) == (1, ["payouts"])
    assert failures[0].detail == (
        f"campaign summer-26: PayoutsProposed at position {position} records lines 1, the log "
        f"recomputes {len(found.lines)}"
    )
    assert ben in found.payees


def test_the_audit_finds_payments_to_strangers_and_above_what_is_owed(ledger: Ledger) -> None:
    script = closed()
    found = settlement_of(campaign_of(script))
    ana = script.id("ana")
    stranger = script.id("zed")
    pay(script, [{"member": ana, "amount": 1}])  # before any settlement
    script.propose(found.sha256, found.payees, 1000)
    script.settle(found.sha256, total=1000, lines=len(found.lines))
    pay(script, [{"member": stranger, "amount": 5}])
    pay(script, [{"member": ana, "amount": found.payees[ana]}])
    pay(script, [{"member": ana, "amount": 1}])  # paid twice
    script.flush(ledger)
    checked, failures = check_payments(ledger.store)
    assert checked == 4
    assert [f.detail for f in failures] == [
        "campaign summer-26: a payment without a settlement through a proposal",
        f"campaign summer-26: {stranger} is paid 5 but is no payee of the settlement",
        f"campaign summer-26: {ana} is paid {found.payees[ana] + 1} in all, more than the "
        f"{found.payees[ana]} settled",
    ]


def test_a_chain_payment_is_held_to_the_transfers_of_its_transaction(ledger: Ledger) -> None:
    """The chain reader is a plain function here; on a node it reads the receipt's ERC-20
    Transfer logs (``contracts.claims.transfers_in_tx``)."""
    script = closed()
    found = settlement_of(campaign_of(script))
    ana = script.id("ana")
    script.propose(found.sha256, found.payees, 1000)
    script.settle(found.sha256, total=1000, lines=len(found.lines))
    amount = found.payees[ana]
    line = {"member": ana, "amount": amount, "to": TO}
    pay(script, [line], rail="eth", tx=TX, token=TOKEN, decimals=6)
    script.flush(ledger)
    exact = {(TOKEN, TX): [(TO.lower(), amount * 10**4)]}
    assert check_payments(ledger.store, lambda token, tx: exact[(token, tx)]) == (1, [])
    short = {(TOKEN, TX): [(TO, amount * 10**4 - 1)]}
    _, failures = check_payments(ledger.store, lambda token, tx: short[(token, tx)])
    assert [f.detail for f in failures] == [
        f"campaign summer-26: tx {TX} transfers {amount * 10**4 - 1} of token {TOKEN} to {TO}, "
        f"the payment records {amount * 10**4}"
    ]


def test_one_transfer_cannot_back_two_payment_records(ledger: Ledger) -> None:
    """Each record is checked against the chain, but a transfer counted for one record is
    not there for the next: citing the same transaction twice pays nobody twice."""
    script = closed()
    found = settlement_of(campaign_of(script))
    ana = script.id("ana")
    script.propose(found.sha256, found.payees, 1000)
    script.settle(found.sha256, total=1000, lines=len(found.lines))
    half = found.payees[ana] // 2
    line = {"member": ana, "amount": half, "to": TO}
    pay(script, [line], rail="eth", tx=TX, token=TOKEN, decimals=2)
    pay(script, [line], rail="eth", tx=TX, token=TOKEN, decimals=2)  # the same transfer again
    script.flush(ledger)
    once = {(TOKEN, TX): [(TO, half)]}
    _, failures = check_payments(ledger.store, lambda token, tx: once[(token, tx)])
    assert [(f.position, f.detail) for f in failures] == [
        (
            ledger.size() - 1,
            f"campaign summer-26: tx {TX} transfers 0 of token {TOKEN} to {TO} (after {half} "
            f"counted for earlier payments), the payment records {half}",
        )
    ]


def propose_in_parts(script: Script, export: str, payees: dict[str, int]) -> None:
    """``payees`` one per part: ``PayoutsProposed`` with the first, a part for each other."""
    (first, amount), *rest = payees.items()
    body = {
        "policy": {"name": "cocred-fair", "version": 1}, "total": sum(payees.values()),
        "currency": "EUR", "export": export, "lines": len(payees), "payees": {first: amount},
        "parts": len(payees),
    }  # fmt: skip
    env = script._sign(script.brand, "PayoutsProposed", body)
    proposal = f"{env.actor}:{env.seq}"
    for number, (member, owed) in enumerate(rest, start=2):
        part = {"proposal": proposal, "part": number, "payees": {member: owed}}
        script._sign(script.brand, "PayoutsProposalPart", part)
    script.ticks += int(script.policy.get("objection_window", 0))


def test_a_proposal_in_parts_is_checked_whole_and_its_payments_against_every_part(
    ledger: Ledger,
) -> None:
    script = closed()
    found = settlement_of(campaign_of(script))
    assert len(found.payees) == 2
    propose_in_parts(script, found.sha256, found.payees)
    script.settle(found.sha256, total=1000, lines=len(found.lines))
    ben = script.id("ben")  # in the second part
    pay(script, [{"member": ben, "amount": found.payees[ben]}])
    script.flush(ledger)
    assert check_payouts(ledger.store) == (2, [])
    assert check_payments(ledger.store) == (1, [])


def test_the_audit_finds_a_proposal_in_parts_whose_last_part_is_not_the_logs(
    ledger: Ledger,
) -> None:
    script = closed()
    found = settlement_of(campaign_of(script))
    ana, ben = script.id("ana"), script.id("ben")
    swapped = {ana: found.payees[ben], ben: found.payees[ana]}  # same sum, other amounts
    assert swapped != found.payees
    propose_in_parts(script, found.sha256, swapped)
    script.flush(ledger)
    checked, failures = check_payouts(ledger.store)
    last = ledger.size() - 1
    assert (checked, [f.position for f in failures]) == (1, [last])
    assert failures[0].detail == (
        f"campaign summer-26: PayoutsProposed at position {last - 1} (in parts, to {last}) "
        f"records payees 'other payees or amounts', the log recomputes '2 payees'"
    )
