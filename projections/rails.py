"""Payment files per rail, from the settled lines and the members' *current* payout methods.

``plan_rails`` sends each payee with money still owed to the first rail, in the order
the brand chose, for which they hold a valid method (``sepa`` takes a SEPA account,
``paypal`` a PayPal id, ``safe`` and ``claims`` an Ethereum address); the others go to the plan's
``unpaid`` list with the reason (``erased``: the member was erased; ``no-method``: no
method for any chosen rail; ``claimable``: a leaf of the campaign's deployed claim tree
waits for their claim). Their money stays owed: it is never shared out among the
others. Payees paid in full already are left out, and a payee paid in part gets what
is still owed, so files made again after a payment do not pay twice.

The files (any number of times; they are not the settlement):

- ``sepa``: a SEPA credit transfer initiation, ISO 20022 ``pain.001.001.09``, built by
  ``sepaxml`` and validated against the XSD it ships (``SepaCurrencyError`` for a
  campaign not in EUR: SEPA moves euros only);
- ``paypal``: PayPal Payouts Web rows ``recipient,amount,currency,reference,note,PAYPAL``
  (at most 5,000 per file);
- ``safe``: Safe's CSV Airdrop file ``token_type,token_address,receiver,amount,id`` with
  an ERC-20 of the campaign's currency (amounts in its major units);
- ``payouts.csv`` / ``payouts.json``: every settled line with what was paid, what is owed,
  the rail it went to (and its batch) or why it is unpaid. ``cocred payouts record`` reads
  the JSON to record what a rail paid.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError as SepaValidationError

from domain.payout_methods import EthMethod, PayoutMethod, SepaMethod
from domain.vocabulary import CLAIMS, ETH, PAYPAL, SAFE, SEPA
from projections.errors import ExportError, SepaCurrencyError, UnknownRailError
from projections.exact import currency_exponent, major_units
from projections.export import ProfileLookup

FILE_RAILS = (SEPA, PAYPAL, SAFE)
# The rails a plan can send payees to: the file rails, and the on-chain claims rail (whose
# "file" is a Merkle tree, built by contracts/claim_payouts.py).
PLAN_RAILS = (*FILE_RAILS, CLAIMS)
METHOD_OF_RAIL = {SEPA: SEPA, PAYPAL: PAYPAL, SAFE: ETH, CLAIMS: ETH}  # rail -> method kind
FILE_NAMES = {SEPA: "sepa.xml", PAYPAL: "paypal.csv", SAFE: "safe.csv"}
SEPA_SCHEMA = "pain.001.001.09"
PAYPAL_MAX_ROWS = 5000
ERASED, NO_METHOD = "erased", "no-method"
CLAIMABLE = "claimable"  # has a leaf in the campaign's deployed claim tree: paid by claiming


@dataclass(frozen=True, slots=True)
class RailLine:
    """One payee on one rail: what is still owed to them, and where it goes."""

    member: str
    amount: int
    method: PayoutMethod


@dataclass(frozen=True, slots=True)
class Unpaid:
    """A payee no chosen rail can pay, and why."""

    member: str
    amount: int
    reason: str


@dataclass(frozen=True, slots=True)
class RailPlan:
    """Who goes to which rail, who is unpaid and why, who is paid in full."""

    campaign: str
    currency: str
    rails: tuple[str, ...]
    settled: Mapping[str, int]
    paid: Mapping[str, int]
    lines: Mapping[str, tuple[RailLine, ...]]
    unpaid: tuple[Unpaid, ...]
    batches: dict[str, str] = field(default_factory=dict)  # rail -> message / batch id

    def rail_of(self, member: str) -> str | None:
        return next(
            (r for r, got in self.lines.items() if any(x.member == member for x in got)), None
        )


def plan_rails(
    campaign: str,
    currency: str,
    settled: Mapping[str, int],
    paid: Mapping[str, int],
    rails: Sequence[str],
    methods: ProfileLookup,
    erased: Collection[str],
    allowed: Sequence[str] = FILE_RAILS,
    claimable: Collection[str] = (),
) -> RailPlan:
    """The plan for ``settled`` lines, minus what ``paid`` covers, over ``rails`` in order.

    ``allowed``: the rails the caller makes files for (``FILE_RAILS``; the claims rail
    plans ``(CLAIMS,)``). ``claimable``: payees with a leaf in the campaign's deployed claim
    tree; a file would pay them a second time, so they are listed unpaid (``claimable``)
    until their claim is recorded. Raises ``UnknownRailError`` (a rail not allowed, or
    named twice) and ``SepaCurrencyError`` (``sepa`` for a campaign not in EUR).
    """
    chosen = tuple(rails)
    unknown = [r for r in chosen if r not in allowed or r not in PLAN_RAILS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise UnknownRailError(
            f"rails must be one or more of {', '.join(allowed)}, each once, got "
            f"{', '.join(chosen) or 'none'}",
            campaign=campaign,
        )
    if SEPA in chosen and currency != "EUR":
        raise SepaCurrencyError(
            f"campaign {campaign} pays in {currency}: a SEPA credit transfer moves euros only",
            campaign=campaign,
        )
    owed = {m: a - paid.get(m, 0) for m, a in sorted(settled.items()) if a > paid.get(m, 0)}
    profiles = methods.get_many(m for m in owed if m not in erased)
    lines: dict[str, list[RailLine]] = {rail: [] for rail in chosen}
    unpaid = []
    for member, amount in owed.items():
        if member in erased:
            unpaid.append(Unpaid(member, amount, ERASED))
            continue
        if member in claimable:
            unpaid.append(Unpaid(member, amount, CLAIMABLE))
            continue
        profile = profiles.get(member)
        held = profile.methods() if profile is not None else {}
        rail = next((r for r in chosen if METHOD_OF_RAIL[r] in held), None)
        if rail is None:
            unpaid.append(Unpaid(member, amount, NO_METHOD))
        else:
            lines[rail].append(RailLine(member, amount, held[METHOD_OF_RAIL[rail]]))
    return RailPlan(
        campaign, currency, chosen, dict(settled), dict(paid),
        {rail: tuple(got) for rail, got in lines.items()}, tuple(unpaid),
    )  # fmt: skip


# -- the files ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Debtor:
    """The brand's account a SEPA file pays from (validated like a member's)."""

    account: SepaMethod
    execution_date: date
    message_id: str | None = None


def sepa_file(plan: RailPlan, debtor: Debtor) -> tuple[bytes, str]:
    """The pain.001 file of the plan's SEPA lines and its message id (validated by its XSD).

    Raises ``ExportError`` if the file does not validate (a name or id the schema refuses).
    """
    config: dict[str, Any] = {
        "name": debtor.account.holder,
        "IBAN": debtor.account.iban,
        "batch": True,
        "currency": "EUR",
    }
    if debtor.account.bic is not None:
        config["BIC"] = debtor.account.bic
    transfer = SepaTransfer(config, schema=SEPA_SCHEMA, clean=True)
    message_id = debtor.message_id or transfer.msg_id
    header = transfer._xml.find("CstmrCdtTrfInitn/GrpHdr/MsgId")  # sepaxml sets it in __init__
    assert header is not None
    header.text = message_id
    for line in plan.lines.get(SEPA, ()):
        account = line.method
        assert isinstance(account, SepaMethod)
        payment: dict[str, Any] = {
            "name": account.holder,
            "IBAN": account.iban,
            "amount": line.amount,
            "execution_date": debtor.execution_date,
            "description": f"cocred reward, campaign {plan.campaign}",
            "endtoend_id": f"cocred-{line.member[:28]}",
        }
        if account.bic is not None:
            payment["BIC"] = account.bic
        transfer.add_payment(payment)
    try:
        data: bytes = transfer.export(validate=True)
    except SepaValidationError as exc:
        raise ExportError(
            f"sepa: the pain.001 file of campaign {plan.campaign} does not validate against "
            f"{SEPA_SCHEMA}.xsd: {exc.__cause__}",
            campaign=plan.campaign,
        ) from exc
    ET.fromstring(data)  # well-formed, as the XSD check just read it
    return data, message_id


def paypal_file(plan: RailPlan) -> bytes:
    """PayPal Payouts Web rows (no header); ``ExportError`` above 5,000 rows."""
    rows = plan.lines.get(PAYPAL, ())
    if len(rows) > PAYPAL_MAX_ROWS:
        raise ExportError(
            f"paypal: {len(rows)} payees is over PayPal Payouts Web's {PAYPAL_MAX_ROWS} rows "
            f"per file",
            campaign=plan.campaign,
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    note = f"cocred reward, campaign {plan.campaign}"
    for line in rows:
        amount = major_units(line.amount, plan.currency)
        writer.writerow(
            [line.method.handle, amount, plan.currency, line.member[:30], note, "PAYPAL"]
        )
    return buffer.getvalue().encode()


def safe_file(plan: RailPlan, token: str) -> bytes:
    """Safe's CSV Airdrop transfers of the ERC-20 ``token`` (EIP-55 address, checked)."""
    EthMethod.parse(token)  # InvalidPayoutMethodError names a token address without checksum
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["token_type", "token_address", "receiver", "amount", "id"])
    for line in plan.lines.get(SAFE, ()):
        writer.writerow(
            ["erc20", token, line.method.handle, major_units(line.amount, plan.currency), ""]
        )
    return buffer.getvalue().encode()


def plan_document(
    plan: RailPlan, *, token: str | None = None, decimals: int | None = None
) -> dict[str, Any]:
    """``payouts.json``: every settled line, its rail and batch or why it is unpaid."""
    rows = []
    for member, settled in sorted(plan.settled.items()):
        paid = plan.paid.get(member, 0)
        rail = plan.rail_of(member)
        line = (
            next((x for x in plan.lines.get(rail, ()) if x.member == member), None)
            if rail
            else None
        )
        reason = next((u.reason for u in plan.unpaid if u.member == member), None)
        rows.append(
            {
                "member": member,
                "settled": settled,
                "paid": paid,
                "owed": settled - paid,
                "rail": rail,
                "batch": plan.batches.get(rail) if rail else None,
                "handle": None if line is None else line.method.handle,
                "unpaid": reason,
            }
        )
    return {
        "campaign": plan.campaign,
        "currency": plan.currency,
        "exponent": currency_exponent(plan.currency),
        "rails": list(plan.rails),
        "batches": dict(plan.batches),
        "token": token,
        "decimals": decimals,
        "lines": rows,
    }


def plan_json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def plan_csv(document: Mapping[str, Any]) -> bytes:
    """``payouts.csv``: the JSON's lines as rows (amounts in major and minor units)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = ("member", "settled", "paid", "owed", "rail", "batch", "handle", "unpaid")
    writer.writerow([*columns, "owed_amount", "currency"])
    for row in document["lines"]:
        cells = ["" if row[c] is None else row[c] for c in columns]
        cells = [
            ("'" + c) if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in cells
        ]
        writer.writerow(
            [*cells, major_units(row["owed"], document["currency"]), document["currency"]]
        )
    return buffer.getvalue().encode()
