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


DISTRIBUTOR = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
ROOT = "0x" + "ef" * 32


def publish(script: Script, amount: int, claimants: int = 1, **kw: object) -> None:
    body = {"root": ROOT, "chain": 31337, "distributor": DISTRIBUTOR, "token": TOKEN,
            "decimals": 6, "claimants": claimants, "amount": amount} | kw  # fmt: skip
    script._sign(script.brand, "ClaimsPublished", body)


def claim(script: Script, member: str, amount: int, batch: str = DISTRIBUTOR) -> None:
    line = {"member": member, "amount": amount, "to": TO}
    pay(script, [line], rail="claims", batch=batch, tx=TX, token=TOKEN, decimals=6)


def test_published_claims_and_their_payments_are_held_to_the_tree(ledger: Ledger) -> None:
    """Written around the rules: a tree before the settlement, one worth more than is owed, a
    second tree, a claims payment citing another Distributor, and claims beyond the tree."""
    script = closed()
    found = settlement_of(campaign_of(script))
    ana, ben = script.id("ana"), script.id("ben")
    publish(script, 1)  # before any settlement
    script.propose(found.sha256, found.payees, 1000)
    script.settle(found.sha256, total=1000, lines=len(found.lines))
    publish(script, 1001, claimants=2)  # more than the 1000 owed
    publish(script, found.payees[ana], claimants=1)  # the tree
    publish(script, 1, claimants=1, distributor=TO)  # a second one
    claim(script, ana, 1, batch=TO)  # not the published Distributor
    claim(script, ana, found.payees[ana])
    claim(script, ben, 1)  # past what the tree holds
    script.flush(ledger)
    checked, failures = check_payments(ledger.store)
    assert checked == 7
    assert [f.detail for f in failures] == [
        "campaign summer-26: a claim tree published without a settlement through a proposal",
        "campaign summer-26: the claim tree pays 1001 to 2 claimant(s), but 1000 is owed to 2 "
        "payee(s)",
        f"campaign summer-26: a second claim tree (Distributor {TO}) after Distributor "
        f"{DISTRIBUTOR}",
        f"campaign summer-26: a claims payment names Distributor {TO}, token {TOKEN}, 6 "
        f"decimals; the published tree is {DISTRIBUTOR}, {TOKEN}, 6",
        f"campaign summer-26: claims recorded total {found.payees[ana] + 1}, more than the "
        f"{found.payees[ana]} the published claim tree holds",
    ]


def test_a_published_distributor_is_held_to_its_root_and_token_on_chain(ledger: Ledger) -> None:
    """The Distributor reader is a plain function here; on a node it reads the contract's
    immutable ``merkleRoot`` and ``token`` (``contracts.claims.distributor_of``)."""
    script = closed()
    found = settlement_of(campaign_of(script))
    script.propose(found.sha256, found.payees, 1000)
    script.settle(found.sha256, total=1000, lines=len(found.lines))
    publish(script, 10)
    script.flush(ledger)
    assert check_payments(ledger.store, None, lambda d: (31337, ROOT, TOKEN.lower())) == (1, [])
    other = "0x" + "01" * 32
    _, failures = check_payments(ledger.store, None, lambda d: (31337, other, TOKEN))
    assert [f.detail for f in failures] == [
        f"campaign summer-26: Distributor {DISTRIBUTOR} holds root {other} of token {TOKEN} on "
        f"chain 31337; ClaimsPublished says root {ROOT} of token {TOKEN} on chain 31337"
    ]
