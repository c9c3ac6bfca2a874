"""The payout verbs of the ``cocred`` CLI: propose, object, answer, settle, files, record, status.

``cocred payouts propose|withdraw|object|answer|settle --key K --campaign C`` sign the
events of ``domain/payouts.py``; ``cocred payouts files`` writes the payment files of a
settled campaign (``projections/rails.py``) from the current payout methods, any number
of times; ``cocred payouts record`` records what a rail paid, from the ``payouts.json``
those files came with; ``cocred payouts status`` shows settled, paid, owed and unpaid
with reasons. ``cocred payouts claims …`` (the on-chain claims rail) is ``api/cli/claims.py``.
Every refusal prints ``error[Code]: sentence`` on stderr and exits 1, having written nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli.common import (
    FILE_RAIL_NAMES,
    CampaignOption,
    DbOption,
    KeyOption,
    RecordFormat,
    brand_plan,
    emit,
    fail,
    guarded,
    load_key,
    now,
    out,
    payout_book,
    print_json,
    read_bytes,
    services,
)
from domain.errors import NoProposalError
from domain.vocabulary import ANSWER_OUTCOMES, CHAIN_RAILS, OBJECTION_REASONS, PAYMENT_RAILS

# The payout rules, methods (eth_utils, schwifty) and projections are imported by the verbs.
if TYPE_CHECKING:
    from api.bootstrap import Services
    from domain.commands import PaymentLine
    from domain.services import Receipt

payouts_app = typer.Typer(
    no_args_is_help=True,
    help="Propose, object, answer, settle; payment files per rail; record payments; status.",
)
TextOption = Annotated[Path | None, typer.Option("--text", help="A text file (stored, hashed).")]


def _open_proposal(svc: Services, campaign: str) -> str:
    proposal = payout_book(svc, campaign).proposal
    if proposal is None:
        fail(NoProposalError.code, f"campaign {campaign} has no payout proposal")
    return proposal.id


def _text(path: Path | None) -> bytes | None:
    return None if path is None else read_bytes(path, "--text")


@payouts_app.command("propose")
def propose(
    key: KeyOption, campaign: CampaignOption, db: DbOption = None, fmt: RecordFormat = "json"
) -> None:
    """Publish the payouts of a closed campaign: the export's hash and every payee's amount."""
    from projections.export import prepare_settlement
    from projections.state import load_state

    signer = load_key(key)
    with services(db) as svc:
        state = guarded(lambda: load_state(svc.ledger.store))
        settlement = guarded(lambda: prepare_settlement(state.campaign(campaign), signer.actor))
        receipt = guarded(
            lambda: svc.campaigns.propose_payouts(
                signer, campaign, export=settlement.sha256, payees=settlement.payees
            )
        )
        proposal = payout_book(svc, campaign).proposal
    assert proposal is not None
    emit(
        receipt.to_json()
        | {
            "export_sha256": settlement.sha256,
            "lines": len(settlement.lines),
            "total": settlement.total,
            "window_ends": proposal.to_json()["window_ends"],
        },
        fmt,
    )


@payouts_app.command("withdraw")
def withdraw(
    key: KeyOption,
    campaign: CampaignOption,
    reason: Annotated[str, typer.Option(help="Why (a code, [a-z0-9-]).")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Withdraw the open proposal (its objections go with it); propose again after."""
    signer = load_key(key)
    with services(db) as svc:
        proposal = _open_proposal(svc, campaign)
        receipt = guarded(
            lambda: svc.campaigns.withdraw_proposal(signer, campaign, proposal, reason)
        )
    emit(receipt.to_json(), fmt)


@payouts_app.command("object")
def object_to(
    key: KeyOption,
    campaign: CampaignOption,
    reason: Annotated[str, typer.Option(help=" | ".join(OBJECTION_REASONS))],
    text: TextOption = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Object to the open proposal (a payee, within its objection window)."""
    signer = load_key(key)
    note = _text(text)
    with services(db) as svc:
        proposal = _open_proposal(svc, campaign)
        receipt = guarded(
            lambda: svc.campaigns.object_to_payouts(signer, campaign, proposal, reason, text=note)
        )
    emit(receipt.to_json(), fmt)


@payouts_app.command("answer")
def answer(
    key: KeyOption,
    campaign: CampaignOption,
    objection: Annotated[str, typer.Option(help="The objection id <member>:<seq>.")],
    outcome: Annotated[str, typer.Option(help=" | ".join(ANSWER_OUTCOMES))],
    text: TextOption = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Answer an objection (once); ``upheld`` means withdrawing and proposing again."""
    signer = load_key(key)
    note = _text(text)
    with services(db) as svc:
        receipt = guarded(
            lambda: svc.campaigns.answer_objection(signer, campaign, objection, outcome, text=note)
        )
    emit(receipt.to_json(), fmt)


@payouts_app.command("settle")
def settle(
    key: KeyOption, campaign: CampaignOption, db: DbOption = None, fmt: RecordFormat = "json"
) -> None:
    """Settle the open proposal once its window has ended and every objection is answered."""
    signer = load_key(key)
    with services(db) as svc:
        proposal = payout_book(svc, campaign).proposal
        if proposal is None:
            fail(NoProposalError.code, f"campaign {campaign} has no payout proposal to settle")
        receipt = guarded(
            lambda: svc.campaigns.settle_payouts(
                signer, campaign, export=proposal.export, lines=len(proposal.payees)
            )
        )
    emit(receipt.to_json() | {"export_sha256": proposal.export}, fmt)


@payouts_app.command("files")
def files(
    key: KeyOption,
    campaign: CampaignOption,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to write the files.")],
    rails: Annotated[
        str, typer.Option(help=f"Rails in order of preference, from {','.join(FILE_RAIL_NAMES)}.")
    ] = "sepa,paypal,safe",
    debtor_name: Annotated[
        str | None, typer.Option(help="SEPA: the brand's account holder.")
    ] = None,
    debtor_iban: Annotated[str | None, typer.Option(help="SEPA: the IBAN paid from.")] = None,
    debtor_bic: Annotated[str | None, typer.Option(help="SEPA: its BIC (outside the EEA).")] = None,
    execution_date: Annotated[
        str | None, typer.Option(help="SEPA: requested execution date (default: tomorrow).")
    ] = None,
    message_id: Annotated[
        str | None, typer.Option(help="SEPA: the message id (default: new).")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Safe: the ERC-20 paid (EIP-55 address).")
    ] = None,
    token_decimals: Annotated[int, typer.Option(help="Safe: the token's decimals.", min=0)] = 6,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Write the payment files of a settled campaign, one per rail, plus payouts.csv/json.

    Each payee goes to the first rail (``--rails`` order) they have a valid method for;
    the others are listed as unpaid with the reason, and stay owed. Run it again at any
    time: what was recorded as paid is left out.
    """
    from domain.payout_methods import SepaMethod
    from projections.rails import (
        FILE_NAMES,
        PAYPAL,
        SAFE,
        SEPA,
        Debtor,
        paypal_file,
        plan_csv,
        plan_document,
        plan_json,
        safe_file,
        sepa_file,
    )

    chosen = [r.strip() for r in rails.split(",") if r.strip()]
    signer = load_key(key)
    debtor = None
    if SEPA in chosen:
        if debtor_name is None or debtor_iban is None:
            fail("BadOption", "the sepa rail needs --debtor-name and --debtor-iban")
        account = guarded(lambda: SepaMethod.parse(debtor_name, debtor_iban, debtor_bic))
        try:
            day = (
                date.fromisoformat(execution_date)
                if execution_date
                else now().date() + timedelta(days=1)
            )
        except ValueError:
            fail(
                "BadOption",
                f"--execution-date must be a date like 2026-12-24, got {execution_date!r}",
            )
        debtor = Debtor(account, day, message_id)
    if SAFE in chosen and token is None:
        fail("BadOption", "the safe rail needs --token (the ERC-20 of the campaign's currency)")
    with services(db) as svc:
        plan = brand_plan(svc, signer.actor, campaign, chosen)
    written: dict[str, bytes] = {}
    if debtor is not None and plan.lines[SEPA]:
        written[FILE_NAMES[SEPA]], plan.batches[SEPA] = guarded(lambda: sepa_file(plan, debtor))
    if PAYPAL in chosen and plan.lines[PAYPAL]:
        written[FILE_NAMES[PAYPAL]] = guarded(lambda: paypal_file(plan))
    if SAFE in chosen and plan.lines[SAFE]:
        assert token is not None
        written[FILE_NAMES[SAFE]] = guarded(lambda: safe_file(plan, token))
    document = plan_document(plan, token=token if SAFE in chosen else None, decimals=token_decimals)
    written["payouts.json"], written["payouts.csv"] = plan_json(document), plan_csv(document)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in written.items():
            (out_dir / name).write_bytes(data)
    except OSError as exc:
        fail("ExportRefused", f"cannot write to {out_dir}: {exc.strerror}")
    emit(
        {
            "campaign": campaign,
            "files": sorted(str(out_dir / name) for name in written),
            "rails": {
                rail: {
                    "payees": len(plan.lines[rail]),
                    "amount": sum(x.amount for x in plan.lines[rail]),
                    "batch": plan.batches.get(rail),
                }
                for rail in plan.rails
            },
            "unpaid": [
                {"member": u.member, "amount": u.amount, "reason": u.reason} for u in plan.unpaid
            ],
        },
        fmt,
    )


@payouts_app.command("record")
def record(
    key: KeyOption,
    campaign: CampaignOption,
    rail: Annotated[str, typer.Option(help=" | ".join(PAYMENT_RAILS))],
    plan_file: Annotated[Path, typer.Option("--plan", help="The payouts.json of the files paid.")],
    batch: Annotated[
        str | None,
        typer.Option(help="The rail's batch or message id (default: the plan's, or the tx)."),
    ] = None,
    tx: Annotated[str | None, typer.Option(help="Chain rails: the transaction hash.")] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Record that a rail paid the plan's lines for it (checked against the settlement)."""
    from domain.payouts import PAYMENTS_PER_RECORD
    from ledger.canonical import parse_json

    signer = load_key(key)
    document: Any = guarded(lambda: parse_json(read_bytes(plan_file, "--plan")))
    if not isinstance(document, dict) or document.get("campaign") != campaign:
        fail("BadOption", f"--plan must be the payouts.json of campaign {campaign}")
    chain = rail in CHAIN_RAILS
    payments = [
        (row["member"], row["owed"], row["handle"] if chain else None)
        for row in document.get("lines", [])
        if row.get("rail") == rail and row.get("owed", 0) > 0
    ]
    if not payments:
        fail("BadOption", f"the plan sends nobody to rail {rail}")
    if chain and tx is None:
        fail("BadOption", f"rail {rail} is a chain: give --tx")
    batch_id = batch or (document.get("batches") or {}).get(rail) or (tx if chain else None)
    if not batch_id:
        fail("BadOption", f"give --batch: the plan has no batch id for rail {rail}")
    token, decimals = (document.get("token"), document.get("decimals")) if chain else (None, None)
    receipts: list[Receipt] = []
    with services(db) as svc:

        def pay(part: list[PaymentLine]) -> Receipt:
            return svc.campaigns.record_payment(
                signer, campaign, rail=rail, batch=batch_id, payments=part,
                tx=None if tx is None else tx.lower(), token=token, decimals=decimals,
            )  # fmt: skip

        for start in range(0, len(payments), PAYMENTS_PER_RECORD):
            part = payments[start : start + PAYMENTS_PER_RECORD]
            receipts.append(guarded(partial(pay, part)))
    emit(
        {
            "campaign": campaign,
            "rail": rail,
            "batch": batch_id,
            "payees": len(payments),
            "amount": sum(a for _, a, _ in payments),
            "positions": [r.position for r in receipts],
        },
        fmt,
    )


@payouts_app.command("status")
def status(
    campaign: CampaignOption,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    db: DbOption = None,
) -> None:
    """Per payee: settled, paid, owed, and why what is owed is unpaid."""
    from rich.table import Table

    from contracts.claim_payouts import ClaimTrees
    from projections.exact import major_units
    from projections.payments import payout_status, settled_lines

    if fmt not in ("text", "json"):
        fail("BadFormat", f"--format must be text or json, got {fmt!r}")
    with services(db, create=False) as svc:
        found = guarded(lambda: svc.campaigns.campaign(campaign))
        book = payout_book(svc, campaign)
        lines = guarded(lambda: settled_lines(book, svc.ledger.store, campaign))
        erased = guarded(lambda: svc.campaigns.gate.read(lambda state: set(state.erased)))
        claimable = guarded(lambda: ClaimTrees(svc.engine, create=False).claimable(campaign))
        shown = guarded(
            lambda: payout_status(
                campaign, found.currency, book, lines, svc.profiles, erased, claimable
            )
        )
    if fmt == "json":
        print_json(shown)
        return

    def money(amount: int) -> str:
        return f"{major_units(amount, found.currency)} {found.currency}"

    out.print(
        f"{campaign}: {shown['stage']}; settled {money(shown['settled'])}, paid "
        f"{money(shown['paid'])}, owed {money(shown['owed'])} (unpaid {money(shown['unpaid'])})",
        highlight=False,
    )
    proposal = shown["proposal"]
    if proposal is not None and not proposal["complete"]:
        out.print(
            f"proposal {proposal['proposal']}: {proposal['payees']} payees in the log of "
            f"{proposal['lines']}, not all its {proposal['parts']} parts yet (propose again to "
            f"append the others); its objection window opens with the last",
            highlight=False,
        )
    elif proposal is not None:
        out.print(
            f"proposal {proposal['proposal']}: objection window until {proposal['window_ends']}, "
            f"{len(proposal['objections'])} objection(s)",
            highlight=False,
        )
    table = Table()
    for column in ("member", "settled", "paid", "owed", "unpaid"):
        table.add_column(column, justify="left" if column in ("member", "unpaid") else "right")
    for row in shown["lines"]:
        table.add_row(
            row["member"], money(row["settled"]), money(row["paid"]), money(row["owed"]),
            row["unpaid"] or "",
        )  # fmt: skip
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``payouts`` group to ``app``."""
    app.add_typer(payouts_app, name="payouts")
