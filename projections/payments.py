"""What was proposed, settled and paid, checked from the log alone (audit steps 5 and 6),
and where each payee stands (``cocred payouts status``).

Step 5 (``check_payouts``): every ``PayoutsSettled`` recomputes from the log
(``projections.export.check_settlements``) and so does every ``PayoutsProposed``: its
hash, its line count and its payees are exactly the recomputed export's. The domain
cannot compute credit, so this is where a proposal that names the wrong people or
amounts is caught.

Step 6 (``check_payments``): the payout events are replayed on their own, independently
of the rules that accepted them: a payment only after a settlement through a proposal,
only to payees of it, never above what it owes (so nobody is paid twice), each batch's
total the sum of its lines, and paid + owed = settled for every payee. A
``ClaimsPublished`` comes after the settlement, once per campaign, within what is owed; every
``claims`` payment cites its Distributor, token and decimals, and they never add up to more
than it published. With a Distributor reader, each published Distributor must hold the
published root and token on the published chain. With a chain reader, each chain payment's
transaction must hold ERC-20 ``Transfer`` logs of its token paying each recorded ``to``
address at least the recorded amount (in token units: minor units x 10^(decimals - the
currency's exponent)), each transfer counted once: two records citing one transaction must
be backed by twice the transfers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from domain.payouts import PayoutBook
from domain.vocabulary import (
    CAMPAIGN_OPENED,
    CHAIN_RAILS,
    CLAIMS,
    CLAIMS_PUBLISHED,
    PAYMENT_RECORDED,
    PAYOUTS_PROPOSAL_PART,
    PAYOUTS_PROPOSED,
    PAYOUTS_SETTLED,
    PAYOUTS_WITHDRAWN,
)
from ledger.store import PAGE, LogStore
from ledger.verify import Failure
from projections.errors import ProjectionError
from projections.exact import currency_exponent
from projections.export import ProfileLookup, check_settlements, settlement_of, verify_settlement_of
from projections.rails import CLAIMABLE, ERASED, METHOD_OF_RAIL, NO_METHOD
from projections.state import load_state

# (token address, tx hash) -> [(recipient, amount in token units)] of its ERC-20 Transfer logs
TransferReader = Callable[[str, str], list[tuple[str, int]]]
# Distributor address -> (chain id, Merkle root 0x-hex, token address) it holds on chain
DistributorReader = Callable[[str], tuple[int, str, str]]
_WATCHED = frozenset(
    {
        CAMPAIGN_OPENED,
        PAYOUTS_PROPOSED,
        PAYOUTS_PROPOSAL_PART,
        PAYOUTS_WITHDRAWN,
        PAYOUTS_SETTLED,
        CLAIMS_PUBLISHED,
        PAYMENT_RECORDED,
    }
)


def _payout_events(store: LogStore) -> Iterator[tuple[int, dict[str, Any]]]:
    """(position, envelope) of every event the payment check reads, in log order."""
    position = 0
    while records := store.read(position, PAGE):
        for record in records:
            if record.type in _WATCHED:
                yield record.position, orjson.loads(record.data)
        position = records[-1].position + 1


# -- step 5: proposals and settlements recompute -----------------------------------------------


def _whole_proposals(store: LogStore) -> Iterator[tuple[int, int, str, dict[str, Any]]]:
    """(positions of its first and its last part, campaign, body with every part's payees)
    of each proposal whose parts are all in the log, in log order."""
    pending: dict[str, tuple[int, dict[str, Any]]] = {}  # campaign -> (first, body so far)
    for position, env in _payout_events(store):
        kind, cid, body = env["type"], env["campaign"], env["body"]
        if kind == PAYOUTS_PROPOSED:
            pending[cid] = (position, body)
            received = 1
        elif kind == PAYOUTS_PROPOSAL_PART and cid in pending:
            first, whole = pending[cid]
            pending[cid] = (first, {**whole, "payees": {**whole["payees"], **body["payees"]}})
            received = body["part"]
        else:
            if kind == PAYOUTS_WITHDRAWN:
                pending.pop(cid, None)
            continue
        first, whole = pending[cid]
        if received == whole.get("parts", 1):
            yield first, position, cid, whole
            del pending[cid]


def check_payouts(store: LogStore) -> tuple[int, list[Failure]]:
    """Every settlement and every proposal against the log's recomputation (step 5)."""
    checked, failures = check_settlements(store)
    state = None
    for first, position, cid, body in _whole_proposals(store):
        state = state or load_state(store)
        checked += 1
        try:
            expected = settlement_of(state.campaign(cid))
        except ProjectionError as exc:
            failures.append(Failure(position, "payouts", exc.detail))
            continue
        want: dict[str, Any] = {
            "export": expected.sha256,
            "lines": len(expected.lines),
            "payees": expected.payees,
        }
        for name, value in want.items():
            if body.get(name) != value:
                shown = value if name != "payees" else f"{len(expected.payees)} payees"
                got = body.get(name) if name != "payees" else "other payees or amounts"
                failures.append(
                    Failure(
                        position,
                        "payouts",
                        f"campaign {cid}: PayoutsProposed at position {first}"
                        f"{'' if first == position else f' (in parts, to {position})'} "
                        f"records {name} {got!r}, the log recomputes {shown!r}",
                    )
                )
                break
    failures.sort(key=lambda f: f.position)
    return checked, failures


# -- step 6: payments reconcile ----------------------------------------------------------------


@dataclass
class _Campaign:
    brand: str
    currency: str
    proposal: Mapping[str, int] | None = None
    settled: Mapping[str, int] | None = None
    paid: dict[str, int] = field(default_factory=dict)
    claims: Mapping[str, Any] | None = None  # the ClaimsPublished body
    claimed: int = 0  # minor units recorded on the claims rail


def check_payments(
    store: LogStore,
    transfers: TransferReader | None = None,
    distributors: DistributorReader | None = None,
) -> tuple[int, list[Failure]]:
    """Every ``PaymentRecorded`` and ``ClaimsPublished`` against the settled lines (and,
    with the readers, the chain); step 6."""
    campaigns: dict[str, _Campaign] = {}
    checked, failures = 0, []
    counted: dict[tuple[str, str, str], int] = {}  # (token, tx, recipient) -> already counted
    for position, env in _payout_events(store):
        kind, cid, body = env["type"], env["campaign"], env["body"]
        if kind == CAMPAIGN_OPENED:
            campaigns.setdefault(cid, _Campaign(env["actor"], body["currency"]))
            continue
        found = campaigns.get(cid)
        if found is None or env["actor"] != found.brand:
            failures.append(
                Failure(
                    position, "payments", f"{kind} for campaign {cid} is not signed by its brand"
                )
            )
            continue
        if kind == PAYOUTS_PROPOSED:
            found.proposal = body["payees"]
        elif kind == PAYOUTS_PROPOSAL_PART:
            found.proposal = {**(found.proposal or {}), **body["payees"]}
        elif kind == PAYOUTS_WITHDRAWN:
            found.proposal = None
        elif kind == PAYOUTS_SETTLED:
            found.settled = found.proposal
        elif kind == CLAIMS_PUBLISHED:
            checked += 1
            problem = _claims_problem(cid, found, body) or (
                _distributor_problem(cid, body, distributors) if distributors is not None else None
            )
            if problem is not None:
                failures.append(Failure(position, "payments", problem))
        else:
            checked += 1
            problem = _payment_problem(cid, found, body) or (
                _chain_problem(cid, found.currency, body, transfers, counted)
                if transfers is not None and body["rail"] in CHAIN_RAILS
                else None
            )
            if problem is not None:
                failures.append(Failure(position, "payments", problem))
    for cid, found in campaigns.items():
        if found.settled is not None:
            paid = sum(found.paid.values())
            owed = sum(a - found.paid.get(m, 0) for m, a in found.settled.items())
            if paid + owed != sum(found.settled.values()):  # pragma: no cover - arithmetic
                failures.append(Failure(0, "payments", f"campaign {cid}: paid + owed != settled"))
    return checked, failures


def _claims_problem(cid: str, found: _Campaign, body: Mapping[str, Any]) -> str | None:
    if found.settled is None:
        return f"campaign {cid}: a claim tree published without a settlement through a proposal"
    if found.claims is not None:
        return (
            f"campaign {cid}: a second claim tree (Distributor {body['distributor']}) after "
            f"Distributor {found.claims['distributor']}"
        )
    owed = [a - found.paid.get(m, 0) for m, a in found.settled.items()]
    owed = [a for a in owed if a > 0]
    if body["claimants"] > len(owed) or body["amount"] > sum(owed):
        return (
            f"campaign {cid}: the claim tree pays {body['amount']} to {body['claimants']} "
            f"claimant(s), but {sum(owed)} is owed to {len(owed)} payee(s)"
        )
    found.claims = body
    return None


def _distributor_problem(
    cid: str, body: Mapping[str, Any], distributors: DistributorReader
) -> str | None:
    try:
        held = distributors(body["distributor"])
    except ProjectionError as exc:
        return f"campaign {cid}: Distributor {body['distributor']}: {exc.detail}"
    published = (body["chain"], body["root"], body["token"])
    if (held[0], held[1].lower(), held[2].lower()) != (
        published[0], published[1].lower(), published[2].lower(),
    ):  # fmt: skip
        return (
            f"campaign {cid}: Distributor {body['distributor']} holds root {held[1]} of token "
            f"{held[2]} on chain {held[0]}; ClaimsPublished says root {published[1]} of token "
            f"{published[2]} on chain {published[0]}"
        )
    return None


def _payment_problem(cid: str, found: _Campaign, body: Mapping[str, Any]) -> str | None:
    if found.settled is None:
        return f"campaign {cid}: a payment without a settlement through a proposal"
    if body["rail"] == CLAIMS:
        claims = found.claims
        if claims is None:
            return f"campaign {cid}: a claims payment before any ClaimsPublished"
        named = (body["batch"], body["token"], body["decimals"])
        if named != (claims["distributor"], claims["token"], claims["decimals"]):
            return (
                f"campaign {cid}: a claims payment names Distributor {named[0]}, token "
                f"{named[1]}, {named[2]} decimals; the published tree is "
                f"{claims['distributor']}, {claims['token']}, {claims['decimals']}"
            )
        found.claimed += sum(line["amount"] for line in body["payments"])
        if found.claimed > claims["amount"]:
            return (
                f"campaign {cid}: claims recorded total {found.claimed}, more than the "
                f"{claims['amount']} the published claim tree holds"
            )
    for line in body["payments"]:
        member, amount = line["member"], line["amount"]
        owed = found.settled.get(member)
        if owed is None:
            return f"campaign {cid}: {member} is paid {amount} but is no payee of the settlement"
        before = found.paid.get(member, 0)
        if before + amount > owed:
            return (
                f"campaign {cid}: {member} is paid {before + amount} in all, more than the "
                f"{owed} settled"
            )
        found.paid[member] = before + amount
    return None


def _chain_problem(
    cid: str,
    currency: str,
    body: Mapping[str, Any],
    transfers: TransferReader,
    counted: dict[tuple[str, str, str], int],
) -> str | None:
    """What is wrong with a chain payment's transfers, counting each transfer once: what an
    earlier record was held to is not there for a later one citing the same transaction."""
    scale = 10 ** (body["decimals"] - currency_exponent(currency))
    if scale < 1:
        return f"campaign {cid}: token decimals {body['decimals']} cannot carry {currency} cents"
    try:
        seen = transfers(body["token"], body["tx"])
    except ProjectionError as exc:
        return f"campaign {cid}: tx {body['tx']}: {exc.detail}"
    received: dict[str, int] = {}
    for recipient, amount in seen:
        received[recipient.lower()] = received.get(recipient.lower(), 0) + amount
    token, tx = body["token"].lower(), body["tx"].lower()
    used: dict[str, int] = {}
    for line in body["payments"]:
        want, to = line["amount"] * scale, line["to"].lower()
        before = counted.get((token, tx, to), 0) + used.get(to, 0)
        got = received.get(to, 0) - before
        if got < want:
            earlier = f" (after {before} counted for earlier payments)" if before else ""
            return (
                f"campaign {cid}: tx {body['tx']} transfers {max(got, 0)} of token "
                f"{body['token']} to {line['to']}{earlier}, the payment records {want}"
            )
        used[to] = used.get(to, 0) + want
    for to, amount in used.items():
        counted[(token, tx, to)] = counted.get((token, tx, to), 0) + amount
    return None


# -- where each payee stands -------------------------------------------------------------------


def payout_status(
    campaign: str,
    currency: str,
    book: PayoutBook,
    settled: Mapping[str, int] | None,
    methods: ProfileLookup,
    erased: Collection[str],
    claimable: Collection[str] = (),
) -> dict[str, Any]:
    """Settled, paid, owed and (for what is owed) why it is unpaid, per payee and in total.

    ``settled`` is the book's lines, or for a campaign settled before proposals its
    recomputed lines; None before the settlement. An owed payee is ``unpaid`` when no
    rail can pay them (``erased``, ``no-method``), ``claimable`` when ``claimable`` (the
    leaves of the campaign's deployed claim tree) holds them, else ``null`` (waiting for
    a file).
    """
    lines = dict(settled or {})
    profiles = methods.get_many(m for m in lines if m not in erased)
    rows = []
    for member, amount in sorted(lines.items()):
        paid = book.paid.get(member, 0)
        held = profiles[member].methods() if member in profiles else {}
        reason = None
        if amount > paid:
            if member in erased:
                reason = ERASED
            elif member in claimable:
                reason = CLAIMABLE
            elif not any(kind in held for kind in METHOD_OF_RAIL.values()):
                reason = NO_METHOD
        rows.append(
            {
                "member": member,
                "settled": amount,
                "paid": paid,
                "owed": amount - paid,
                "unpaid": reason,
            }
        )
    proposal = book.proposal
    return {
        "campaign": campaign,
        "currency": currency,
        "stage": "settled" if book.settled else "proposed" if proposal is not None else "open",
        "proposal": None
        if proposal is None
        else proposal.to_json() | {"payees": len(proposal.payees)},
        "withdrawn": list(book.withdrawn),
        "settled": sum(lines.values()),
        "paid": sum(r["paid"] for r in rows),
        "owed": sum(r["owed"] for r in rows),
        "unpaid": sum(r["owed"] for r in rows if r["unpaid"] not in (None, CLAIMABLE)),
        "payments": [p.to_json() for p in book.payments],
        "claim_tree": None
        if book.claims is None
        else book.claims.to_json() | {"claimed": book.claimed},
        "lines": rows,
    }


def settled_lines(book: PayoutBook, store: LogStore, campaign: str) -> Mapping[str, int] | None:
    """The settled payees: the book's, or (settled before proposals) recomputed and checked.

    Raises ``SettlementMismatchError`` when an old settlement does not recompute.
    """
    if not book.settled:
        return None
    if book.lines is not None:
        return book.lines
    found = verify_settlement_of(load_state(store).campaign(campaign))
    return found.payees
