"""Signed campaign events, one builder per event type (the bodies of domain/EVENTS.md).

Each function signs one envelope as ``key.actor`` with the given ``seq`` and time
and returns it; nothing is checked against the campaign state here (the gate
does that on append). The application services and the demo generator both
build their events with these, so a body's shape is written down once.
Raises ``MalformedEventError`` when the result would not be a valid envelope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from domain.vocabulary import (
    APPEAL_DECIDED,
    APPEAL_FILED,
    CAMPAIGN_CLOSED,
    CAMPAIGN_OPENED,
    CLAIMS_PUBLISHED,
    COAUTHORSHIP_ACCEPTED,
    COAUTHORSHIP_DECLINED,
    COMMENT,
    COMMENT_HIDDEN,
    COMMENT_POSTED,
    COMMENT_REPORTED,
    CONTRIBUTION_MODERATED,
    CONTRIBUTION_REPORTED,
    CONTRIBUTION_SUBMITTED,
    DEFAULT_POLICY,
    INVITATION_CODES_ISSUED,
    LICENCE_GRANTED,
    LICENCE_REVOKED,
    MEMBER_BLOCKED,
    MEMBER_ERASED,
    MEMBER_INVITED,
    MEMBER_JOINED,
    MEMBER_UNBLOCKED,
    OBJECTION_ANSWERED,
    PAYMENT_RECORDED,
    PAYOUT_OBJECTED,
    PAYOUTS_PROPOSAL_PART,
    PAYOUTS_PROPOSED,
    PAYOUTS_SETTLED,
    PAYOUTS_WITHDRAWN,
    POOL_FUNDED,
    PROFILE_COMMITTED,
    REUSE_RECORDED,
    VOTE_CAST,
    VOTE_WITHDRAWN,
)
from ledger.envelope import Envelope, format_ts, sign_envelope
from ledger.keys import SigningKey

When = str | datetime
Share = tuple[str, str | None]  # (contribution, "p/q" or None = the policy's default)


def _time(value: When | None) -> str | None:
    return format_ts(value) if isinstance(value, datetime) else value


def campaign_opened(
    key: SigningKey,
    campaign: str,
    *,
    title: str,
    guidelines: str,
    starts_at: When,
    ends_at: When,
    membership: str = "open",
    currency: str = "EUR",
    pool: int = 0,
    policy: Mapping[str, Any] | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body = {
        "title": title,
        "guidelines": guidelines,
        "starts_at": _time(starts_at),
        "ends_at": _time(ends_at),
        "membership": membership,
        "currency": currency,
        "pool": pool,
        "policy": dict(policy if policy is not None else DEFAULT_POLICY),
    }
    return sign_envelope(key, CAMPAIGN_OPENED, body, seq=seq, ts=at, campaign=campaign)


def pool_funded(key: SigningKey, campaign: str, amount: int, *, seq: int, at: When) -> Envelope:
    return sign_envelope(key, POOL_FUNDED, {"amount": amount}, seq=seq, ts=at, campaign=campaign)


def campaign_closed(
    key: SigningKey, campaign: str, *, unreviewed: str | None = None, seq: int, at: When
) -> Envelope:
    """``unreviewed`` (accept or reject): what becomes of the pieces never moderated (None:
    the field is left out, as before)."""
    body = {} if unreviewed is None else {"unreviewed": unreviewed}
    return sign_envelope(key, CAMPAIGN_CLOSED, body, seq=seq, ts=at, campaign=campaign)


def payouts_settled(
    key: SigningKey,
    campaign: str,
    *,
    policy: Mapping[str, Any],
    total: int,
    currency: str,
    export: str,
    lines: int,
    seq: int,
    at: When,
) -> Envelope:
    body = {
        "policy": {"name": policy["name"], "version": policy["version"]},
        "total": total,
        "currency": currency,
        "export": export,
        "lines": lines,
    }
    return sign_envelope(key, PAYOUTS_SETTLED, body, seq=seq, ts=at, campaign=campaign)


def payouts_proposed(
    key: SigningKey,
    campaign: str,
    *,
    policy: Mapping[str, Any],
    total: int,
    currency: str,
    export: str,
    payees: Mapping[str, int],
    seq: int,
    at: When,
    lines: int | None = None,
    parts: int = 1,
) -> Envelope:
    """The proposal, or (``parts`` > 1) its first part: ``payees`` then holds the first
    payees of ``lines`` in all, and ``payouts_proposal_part`` carries the others."""
    body: dict[str, Any] = {
        "policy": {"name": policy["name"], "version": policy["version"]},
        "total": total,
        "currency": currency,
        "export": export,
        "lines": len(payees) if lines is None else lines,
        "payees": dict(payees),
    }
    if parts > 1:
        body["parts"] = parts
    return sign_envelope(key, PAYOUTS_PROPOSED, body, seq=seq, ts=at, campaign=campaign)


def payouts_proposal_part(
    key: SigningKey,
    campaign: str,
    proposal: str,
    part: int,
    payees: Mapping[str, int],
    *,
    seq: int,
    at: When,
) -> Envelope:
    body = {"proposal": proposal, "part": part, "payees": dict(payees)}
    return sign_envelope(key, PAYOUTS_PROPOSAL_PART, body, seq=seq, ts=at, campaign=campaign)


def payouts_withdrawn(
    key: SigningKey, campaign: str, proposal: str, reason: str, *, seq: int, at: When
) -> Envelope:
    body = {"proposal": proposal, "reason": reason}
    return sign_envelope(key, PAYOUTS_WITHDRAWN, body, seq=seq, ts=at, campaign=campaign)


def payout_objected(
    key: SigningKey,
    campaign: str,
    proposal: str,
    reason: str,
    *,
    text: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body = {"proposal": proposal, "reason": reason, "text": text}
    return sign_envelope(key, PAYOUT_OBJECTED, body, seq=seq, ts=at, campaign=campaign)


def objection_answered(
    key: SigningKey,
    campaign: str,
    objection: str,
    outcome: str,
    *,
    text: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body = {"objection": objection, "outcome": outcome, "text": text}
    return sign_envelope(key, OBJECTION_ANSWERED, body, seq=seq, ts=at, campaign=campaign)


PaymentLine = tuple[str, int, str | None]  # (member, amount in minor units, chain address)


def payment_recorded(
    key: SigningKey,
    campaign: str,
    *,
    rail: str,
    batch: str,
    payments: Sequence[PaymentLine],
    tx: str | None = None,
    token: str | None = None,
    decimals: int | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body = {
        "rail": rail,
        "batch": batch,
        "tx": tx,
        "token": token,
        "decimals": decimals,
        "payments": [
            {"member": m, "amount": a, **({} if to is None else {"to": to})}
            for m, a, to in payments
        ],
    }
    return sign_envelope(key, PAYMENT_RECORDED, body, seq=seq, ts=at, campaign=campaign)


def claims_published(
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
    seq: int,
    at: When,
) -> Envelope:
    body = {
        "root": root,
        "chain": chain,
        "distributor": distributor,
        "token": token,
        "decimals": decimals,
        "claimants": claimants,
        "amount": amount,
    }
    return sign_envelope(key, CLAIMS_PUBLISHED, body, seq=seq, ts=at, campaign=campaign)


def member_invited(key: SigningKey, campaign: str, member: str, *, seq: int, at: When) -> Envelope:
    return sign_envelope(key, MEMBER_INVITED, {"member": member}, seq=seq, ts=at, campaign=campaign)


def member_blocked(
    key: SigningKey, campaign: str, member: str, reason: str, *, seq: int, at: When
) -> Envelope:
    body = {"member": member, "reason": reason}
    return sign_envelope(key, MEMBER_BLOCKED, body, seq=seq, ts=at, campaign=campaign)


def member_unblocked(
    key: SigningKey, campaign: str, member: str, *, seq: int, at: When
) -> Envelope:
    body = {"member": member}
    return sign_envelope(key, MEMBER_UNBLOCKED, body, seq=seq, ts=at, campaign=campaign)


def member_joined(
    key: SigningKey,
    campaign: str,
    guidelines: str,
    *,
    code: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    """``code``: an invitation code in its canonical form (``domain.invite_codes``), or None."""
    body = {"guidelines": guidelines} if code is None else {"guidelines": guidelines, "code": code}
    return sign_envelope(key, MEMBER_JOINED, body, seq=seq, ts=at, campaign=campaign)


def invitation_codes_issued(
    key: SigningKey,
    campaign: str,
    codes: Sequence[str],
    *,
    expires_at: When,
    label: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    """``codes``: the hashes of the codes (``domain.invite_codes.invite_code_hash``)."""
    body = {"expires_at": _time(expires_at), "label": label, "codes": list(codes)}
    return sign_envelope(key, INVITATION_CODES_ISSUED, body, seq=seq, ts=at, campaign=campaign)


def contribution_submitted(
    key: SigningKey,
    campaign: str,
    *,
    content: str,
    kind: str,
    title: str,
    derived_from: Sequence[Share] = (),
    authors: Sequence[tuple[str, int]] | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body: dict[str, Any] = {
        "content": content,
        "kind": kind,
        "title": title,
        "derived_from": [{"contribution": c, "share": s} for c, s in derived_from],
    }
    if authors is not None:
        body["authors"] = [{"member": m, "share": s} for m, s in authors]
    return sign_envelope(key, CONTRIBUTION_SUBMITTED, body, seq=seq, ts=at, campaign=campaign)


def vote_cast(
    key: SigningKey,
    campaign: str,
    contribution: str,
    kind: str,
    *,
    comment: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body: dict[str, Any] = {"contribution": contribution, "kind": kind}
    if kind == COMMENT or comment is not None:
        body["comment"] = comment  # the rules refuse it where it does not belong
    return sign_envelope(key, VOTE_CAST, body, seq=seq, ts=at, campaign=campaign)


def vote_withdrawn(
    key: SigningKey, campaign: str, contribution: str, kind: str, *, seq: int, at: When
) -> Envelope:
    body = {"contribution": contribution, "kind": kind}
    return sign_envelope(key, VOTE_WITHDRAWN, body, seq=seq, ts=at, campaign=campaign)


def licence_granted(
    key: SigningKey,
    campaign: str,
    licence: str,
    *,
    licensee: str,
    channels: Sequence[str],
    territory: str | Sequence[str],
    starts_at: When,
    ends_at: When | None,
    terms: str,
    seq: int,
    at: When,
) -> Envelope:
    body = {
        "licence": licence,
        "licensee": licensee,
        "channels": list(channels),
        "territory": territory if isinstance(territory, str) else list(territory),
        "starts_at": _time(starts_at),
        "ends_at": _time(ends_at),
        "terms": terms,
    }
    return sign_envelope(key, LICENCE_GRANTED, body, seq=seq, ts=at, campaign=campaign)


def licence_revoked(
    key: SigningKey, campaign: str, licence: str, *, seq: int, at: When
) -> Envelope:
    body = {"licence": licence}
    return sign_envelope(key, LICENCE_REVOKED, body, seq=seq, ts=at, campaign=campaign)


def reuse_recorded(
    key: SigningKey,
    campaign: str,
    contribution: str,
    licence: str,
    *,
    channel: str,
    territory: str,
    seq: int,
    at: When,
) -> Envelope:
    body = {
        "contribution": contribution,
        "licence": licence,
        "channel": channel,
        "territory": territory,
    }
    return sign_envelope(key, REUSE_RECORDED, body, seq=seq, ts=at, campaign=campaign)


def contribution_moderated(
    key: SigningKey,
    campaign: str,
    contribution: str,
    outcome: str,
    reason: str,
    *,
    note: str | None = None,
    reports: Sequence[str] | None = None,
    seq: int,
    at: When,
) -> Envelope:
    """``reports``: the report ids the decision answers (None: the field is left out)."""
    body: dict[str, Any] = {
        "contribution": contribution, "outcome": outcome, "reason": reason, "note": note,
    }  # fmt: skip
    if reports is not None:
        body["reports"] = list(reports)
    return sign_envelope(key, CONTRIBUTION_MODERATED, body, seq=seq, ts=at, campaign=campaign)


def coauthorship_accepted(
    key: SigningKey, campaign: str, contribution: str, *, seq: int, at: When
) -> Envelope:
    body = {"contribution": contribution}
    return sign_envelope(key, COAUTHORSHIP_ACCEPTED, body, seq=seq, ts=at, campaign=campaign)


def coauthorship_declined(
    key: SigningKey, campaign: str, contribution: str, reason: str, *, seq: int, at: When
) -> Envelope:
    body = {"contribution": contribution, "reason": reason}
    return sign_envelope(key, COAUTHORSHIP_DECLINED, body, seq=seq, ts=at, campaign=campaign)


def contribution_reported(
    key: SigningKey,
    campaign: str,
    contribution: str,
    reason: str,
    *,
    text: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body = {"contribution": contribution, "reason": reason, "text": text}
    return sign_envelope(key, CONTRIBUTION_REPORTED, body, seq=seq, ts=at, campaign=campaign)


def appeal_filed(
    key: SigningKey,
    campaign: str,
    contribution: str,
    reason: str,
    *,
    text: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body = {"contribution": contribution, "reason": reason, "text": text}
    return sign_envelope(key, APPEAL_FILED, body, seq=seq, ts=at, campaign=campaign)


def appeal_decided(
    key: SigningKey,
    campaign: str,
    contribution: str,
    outcome: str,
    reason: str,
    *,
    note: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body = {"contribution": contribution, "outcome": outcome, "reason": reason, "note": note}
    return sign_envelope(key, APPEAL_DECIDED, body, seq=seq, ts=at, campaign=campaign)


def profile_committed(key: SigningKey, commitment: str, *, seq: int, at: When) -> Envelope:
    return sign_envelope(key, PROFILE_COMMITTED, {"commitment": commitment}, seq=seq, ts=at)


def member_erased(key: SigningKey, *, seq: int, at: When) -> Envelope:
    return sign_envelope(key, MEMBER_ERASED, {}, seq=seq, ts=at)


def comment_posted(
    key: SigningKey,
    campaign: str,
    contribution: str,
    *,
    parent: str | None = None,
    text: str,
    as_brand: bool = False,
    seq: int,
    at: When,
) -> Envelope:
    body = {"contribution": contribution, "parent": parent, "text": text, "as_brand": as_brand}
    return sign_envelope(key, COMMENT_POSTED, body, seq=seq, ts=at, campaign=campaign)


def comment_hidden(
    key: SigningKey,
    campaign: str,
    comment: str,
    reason: str,
    *,
    reports: Sequence[str] | None = None,
    seq: int,
    at: When,
) -> Envelope:
    """``reports``: the comment's report ids the hiding answers (None: the field is left out)."""
    body: dict[str, Any] = {"comment": comment, "reason": reason}
    if reports is not None:
        body["reports"] = list(reports)
    return sign_envelope(key, COMMENT_HIDDEN, body, seq=seq, ts=at, campaign=campaign)


def comment_reported(
    key: SigningKey,
    campaign: str,
    comment: str,
    reason: str,
    *,
    text: str | None = None,
    seq: int,
    at: When,
) -> Envelope:
    body = {"comment": comment, "reason": reason, "text": text}
    return sign_envelope(key, COMMENT_REPORTED, body, seq=seq, ts=at, campaign=campaign)
