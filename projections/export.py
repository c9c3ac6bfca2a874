"""Payout exports, their hash, and settlement: what a brand pays and an auditor re-derives.

**The canonical export** (the thing that is hashed) is the RFC 8785 (JCS)
canonical JSON of::

    {"format": "cocred-payouts/1",
     "campaign": <campaign id>,
     "closed_at": <log position of CampaignClosed, or null for a preview>,
     "policy": {"name": "cocred-fair", "version": <the campaign's, 1 or 2>},
     "currency": <ISO 4217 code>,
     "total": <pool in minor units: CampaignOpened.pool + every PoolFunded>,
     "lines": [{"member": <actor id>, "amount": <minor units, > 0>,
                "share": <credit share "p/q" in lowest terms>,
                "explanation": "<campaign>/<member>"}, ...]}

with ``lines`` sorted by member id (byte order) and holding only payees with a
positive amount. It contains no personal data: payout handles (emails, wallet
addresses) live in the profile store, which erasure empties, so they are left
out of the hashed bytes; the files given to PayPal or Safe carry them, and their
own bytes are *not* what is hashed. ``PayoutsSettled.export`` is the lowercase
hex SHA-256 of the canonical export bytes.

An auditor recomputes it from the log alone with ``recompute_settlement(store,
campaign)``: replay the log, take the campaign as of its close (the domain
refuses every later campaign event but ``PayoutsSettled``, and the projection
ignores any that slipped in), split the pool, encode, hash. Nothing else in the
log can change those bytes, so a later recomputation equals the settled one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol

from domain.vocabulary import ETH, PAYOUTS_SETTLED, PAYPAL, POLICY_NAME
from ledger.canonical import canonical
from ledger.envelope import Envelope, sign_envelope
from ledger.keys import SigningKey
from ledger.store import LogStore
from ledger.verify import Failure
from projections.campaign import CampaignState
from projections.errors import (
    AlreadySettledError,
    BadPayoutHandleError,
    CampaignNotClosedError,
    ExportError,
    MissingPayoutHandleError,
    NotCampaignOwnerError,
    NothingToPayError,
    ProjectionError,
    SettlementMismatchError,
)
from projections.exact import fraction_text, major_units
from projections.payouts import split_pool
from projections.state import load_state

EXPORT_FORMAT = "cocred-payouts/1"
FORMATS = ("csv", "json", "safe-csv", "paypal-csv", "canonical")
CSV_HEADER = (
    "member",
    "payout_handle",
    "amount",
    "amount_minor",
    "currency",
    "share",
    "explanation",
)
PAYPAL_MAX_ROWS = 5000  # Payouts Web takes at most 5,000 rows per file
_ETH_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PAYPAL_ID = re.compile(r"^[^,\s\"]{1,127}$")


class ProfileLookup(Protocol):
    """Where payout handles and methods come from (``Services.profiles``)."""

    def get_many(self, members: Iterable[str]) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One payee of an export: amount in minor units, credit share."""

    member: str
    amount: int
    share: Fraction


@dataclass(frozen=True, slots=True)
class Settlement:
    """A campaign's payouts as exported: the canonical bytes and their hash."""

    campaign: str
    brand: str
    closed_at: int | None
    currency: str
    total: int
    lines: tuple[SettlementLine, ...]
    export: bytes
    sha256: str
    policy_version: int = 1

    @property
    def policy(self) -> dict[str, Any]:
        return {"name": POLICY_NAME, "version": self.policy_version}

    @property
    def payees(self) -> dict[str, int]:
        """Member -> amount, as ``PayoutsProposed.payees`` carries them."""
        return {line.member: line.amount for line in self.lines}

    def body(self) -> dict[str, Any]:
        """The ``PayoutsSettled`` body that records this export."""
        return {
            "policy": self.policy,
            "total": self.total,
            "currency": self.currency,
            "export": self.sha256,
            "lines": len(self.lines),
        }


def settlement_of(state: CampaignState) -> Settlement:
    """The settlement of a campaign as the state holds it (a preview while it is open).

    Raises ``UnsupportedPolicyError`` for a policy other than cocred-fair v1.
    """
    scorer = state.require_scorer()
    policy = scorer.policy
    split = split_pool(
        scorer.payable(),
        state.total_pool,
        cap=policy.per_person_cap,
        min_payout=policy.min_payout,
    )
    lines = tuple(SettlementLine(x.member, x.amount, x.share) for x in split if x.amount > 0)
    document = {
        "format": EXPORT_FORMAT,
        "campaign": state.id,
        "closed_at": state.closed_at,
        "policy": policy.ref,
        "currency": state.currency,
        "total": state.total_pool,
        "lines": [
            {
                "member": line.member,
                "amount": line.amount,
                "share": fraction_text(line.share),
                "explanation": f"{state.id}/{line.member}",
            }
            for line in lines
        ],
    }
    data = canonical(document)
    return Settlement(
        state.id,
        state.brand,
        state.closed_at,
        state.currency,
        state.total_pool,
        lines,
        data,
        hashlib.sha256(data).hexdigest(),
        policy.ref["version"],
    )


def recompute_settlement(store: LogStore, campaign: str) -> tuple[bytes, str]:
    """The auditor's function: (canonical export bytes, hex SHA-256) from the log alone.

    Raises ``UnknownCampaignError`` and ``UnsupportedPolicyError``.
    """
    found = settlement_of(load_state(store).campaign(campaign))
    return found.export, found.sha256


def prepare_settlement(state: CampaignState, signer: str) -> Settlement:
    """The settlement to record, after the checks the domain will also make.

    Raises ``CampaignNotClosedError``, ``AlreadySettledError``,
    ``NotCampaignOwnerError`` and ``NothingToPayError`` (a pool but no credit).
    """
    if signer != state.brand:
        raise NotCampaignOwnerError(
            f"only the brand of campaign {state.id} ({state.brand}) may settle its payouts",
            campaign=state.id,
        )
    if state.closed_at is None:
        raise CampaignNotClosedError(
            f"campaign {state.id} is still open: payouts are settled after CampaignClosed",
            campaign=state.id,
        )
    if state.settled is not None:
        raise AlreadySettledError(
            f"campaign {state.id} was settled already at position {state.settled[0]}",
            campaign=state.id,
        )
    settlement = settlement_of(state)
    if settlement.total and not settlement.lines:
        raise NothingToPayError(
            f"campaign {state.id} has a pool of {settlement.total} but nobody earned credit",
            campaign=state.id,
        )
    return settlement


def settlement_envelope(
    key: SigningKey, settlement: Settlement, *, seq: int, ts: str | datetime | None = None
) -> Envelope:
    """The brand-signed ``PayoutsSettled`` envelope recording ``settlement``."""
    return sign_envelope(
        key, PAYOUTS_SETTLED, settlement.body(), seq=seq, ts=ts, campaign=settlement.campaign
    )


def check_settlements(store: LogStore) -> tuple[int, list[Failure]]:
    """Every ``PayoutsSettled`` in the log against its recomputation (the audit's step 5).

    Returns (settlements checked, failures); a failure names the settlement's
    position and what differs.
    """
    state = load_state(store)
    checked, failures = 0, []
    for campaign in sorted(state.campaigns.values(), key=lambda c: c.opened_at):
        if campaign.settled is None:
            continue
        checked += 1
        try:
            verify_settlement_of(campaign)
        except (ProjectionError, SettlementMismatchError) as exc:  # the latter is the domain's
            failures.append(Failure(campaign.settled[0], "payouts", exc.detail))
    return checked, failures


def verify_settlement_of(state: CampaignState) -> Settlement:
    """Recompute a settled campaign and compare; ``SettlementMismatchError`` names the field."""
    if state.settled is None:
        raise SettlementMismatchError(f"campaign {state.id} has no PayoutsSettled event")
    position, recorded = state.settled
    settlement = settlement_of(state)
    for field, want in settlement.body().items():
        if recorded.get(field) != want:
            raise SettlementMismatchError(
                f"campaign {state.id}: PayoutsSettled at position {position} records {field} "
                f"{recorded.get(field)!r}, the log recomputes {want!r}",
                campaign=state.id,
                position=position,
            )
    return settlement


# -- files -------------------------------------------------------------------------------------


def _handles(
    settlement: Settlement, profiles: ProfileLookup | None, kind: str | None = None
) -> dict[str, str]:
    """Each payee's handle of payout method ``kind`` (any method, else the old handle)."""
    found = profiles.get_many(line.member for line in settlement.lines) if profiles else {}
    handles = {}
    for member, profile in found.items():
        methods = profile.methods()
        if kind is not None:
            if kind in methods:
                handles[member] = methods[kind].handle
        elif methods or profile.payout_handle:
            handles[member] = (
                next(iter(methods.values())).handle if methods else profile.payout_handle
            )
    return handles


def _missing(settlement: Settlement, handles: dict[str, str], fmt: str) -> None:
    missing = [line.member for line in settlement.lines if not handles.get(line.member)]
    if missing:
        raise MissingPayoutHandleError(
            f"{fmt}: {len(missing)} payee(s) have no payout handle in the profile store "
            f"(never given, or erased): {', '.join(missing[:5])}"
            + (" …" if len(missing) > 5 else ""),
            members=missing,
        )


def _handle(
    handles: dict[str, str], member: str, pattern: re.Pattern[str], fmt: str, what: str
) -> str:
    """``member``'s payout handle; ``BadPayoutHandleError`` unless it matches ``pattern``."""
    handle = handles[member]
    if not pattern.match(handle):
        raise BadPayoutHandleError(
            f"{fmt}: the payout handle of {member} is not {what}", member=member
        )
    return handle


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in a text cell (OWASP CSV injection advice)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render(
    settlement: Settlement,
    fmt: str,
    profiles: ProfileLookup | None = None,
    *,
    token_address: str | None = None,
) -> bytes:
    """The export file in ``fmt`` (one of ``FORMATS``); see the module docstring.

    - ``canonical``: the hashed bytes themselves.
    - ``csv`` / ``json``: member, payout handle (empty when none), amount in major
      and minor units, currency, exact share, explanation id.
    - ``safe-csv``: Safe's CSV Airdrop transfer file
      ``token_type,token_address,receiver,amount,id``: ``erc20`` with
      ``token_address`` (a stablecoin of the pool's currency) or ``native`` without;
      amounts in major units; ``id`` left empty (it is for NFTs).
    - ``paypal-csv``: PayPal Payouts Web rows without a header:
      ``recipient,amount,currency,customer id,note,PAYPAL`` (at most 5,000 rows).

    Raises ``MissingPayoutHandleError`` or ``BadPayoutHandleError`` for the payment
    formats, ``ExportError`` for an unknown format or too many rows.
    """
    if fmt == "canonical":
        return settlement.export
    kind = {"safe-csv": ETH, "paypal-csv": PAYPAL}.get(fmt)
    handles = _handles(settlement, profiles, kind)
    currency = settlement.currency
    if fmt == "json":
        document = {
            "campaign": settlement.campaign,
            "currency": currency,
            "total": settlement.total,
            "export_sha256": settlement.sha256,
            "lines": [
                {
                    "member": line.member,
                    "payout_handle": handles.get(line.member),
                    "amount": major_units(line.amount, currency),
                    "amount_minor": line.amount,
                    "currency": currency,
                    "share": fraction_text(line.share),
                    "explanation": f"{settlement.campaign}/{line.member}",
                }
                for line in settlement.lines
            ],
        }
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if fmt == "csv":
        writer.writerow(CSV_HEADER)
        for line in settlement.lines:
            writer.writerow(
                [
                    line.member,
                    _cell(handles.get(line.member, "")),
                    major_units(line.amount, currency),
                    line.amount,
                    currency,
                    fraction_text(line.share),
                    f"{settlement.campaign}/{line.member}",
                ]
            )
    elif fmt == "safe-csv":
        _missing(settlement, handles, fmt)
        if token_address is not None and not _ETH_ADDRESS.match(token_address):
            raise ExportError(f"safe-csv: token address {token_address!r} is not 0x + 40 hex")
        writer.writerow(["token_type", "token_address", "receiver", "amount", "id"])
        for line in settlement.lines:
            receiver = _handle(
                handles, line.member, _ETH_ADDRESS, "safe-csv",
                "an Ethereum address (0x + 40 hex digits)",
            )  # fmt: skip
            token = ("erc20", token_address) if token_address else ("native", "")
            writer.writerow([*token, receiver, major_units(line.amount, currency), ""])
    elif fmt == "paypal-csv":
        _missing(settlement, handles, fmt)
        if len(settlement.lines) > PAYPAL_MAX_ROWS:
            raise ExportError(
                f"paypal-csv: {len(settlement.lines)} payees is over PayPal Payouts Web's "
                f"{PAYPAL_MAX_ROWS} rows per file"
            )
        note = f"cocred reward, campaign {settlement.campaign}"
        for line in settlement.lines:
            recipient = _handle(
                handles, line.member, _PAYPAL_ID, "paypal-csv",
                "an email, phone or PayPal id (no spaces, commas or quotes)",
            )  # fmt: skip
            amount = major_units(line.amount, currency)
            writer.writerow([recipient, amount, currency, line.member[:30], note, "PAYPAL"])
    else:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    return buffer.getvalue().encode()
