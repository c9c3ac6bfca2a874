"""Invitation codes: the brand issues single-use codes in batches; a member joins with one.

``InvitationCodesIssued`` (brand-signed) puts a batch in the log: an expiry, an optional
label and the SHA-256 of each code, never a code. A code is 25 characters of the RFC 4648
base32 alphabet (125 random bits from ``secrets``) printed in five groups of five; its hash is
SHA-256 of ``"cocred-invite-code/v1\\n" + campaign + "\\n" + code``, so the same code means
nothing in another campaign and the log does not reveal it. A member joins by signing a
``MemberJoined`` that carries the code itself: the gate hashes it, and admits the join when
the hash is one of that campaign's, unused and unexpired; the join uses it up. Why the code is
revealed at use, and what that allows, is in domain/EVENTS.md ("Invitation codes").

A body holds at most ``MAX_CODES`` hashes (the ledger caps a body at 63 KiB);
``CampaignServices.issue_codes`` splits a larger request into several events appended in one
all-or-nothing batch. ``check_code`` is the check ``membership.check_joined`` runs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.campaign import Campaign, campaign_of, require_owner
from domain.errors import (
    DuplicateInviteCodeError,
    InviteCodeExpiredError,
    InviteCodeForOtherCampaignError,
    InviteCodeUsedError,
    InviteExpiryInPastError,
    UnknownInviteCodeError,
)
from domain.state import Rule, State
from domain.values import (
    Fact,
    code,
    contribution_id,
    event_time,
    expect_keys,
    malformed,
    sha256_hex,
    time,
)
from domain.vocabulary import INVITATION_CODES_ISSUED
from ledger.canonical import json_fields
from ledger.envelope import format_ts

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32: no 0, 1, 8 or 9 to misread
GROUPS, GROUP = 5, 5  # 25 characters of 5 bits: 125 bits
CODE_FORMAT = re.compile(r"[A-Z2-7]{5}(?:-[A-Z2-7]{5}){4}")
CODE_EXAMPLE = "ABCDE-FGHIJ-KLMNO-PQRST-UVWXY"
HASH_DOMAIN = "cocred-invite-code/v1\n"
# Hashes in one body: 900 x 67 bytes (64 hex digits, quotes, comma) = 60,300 bytes, under the
# ledger's 64,512-byte body limit with room for the other fields.
MAX_CODES = 900
_IGNORED = str.maketrans("", "", "- \t")


def new_code() -> str:
    """A fresh code: 25 random base32 characters in five groups of five."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP))
    return "-".join(chars[i : i + GROUP] for i in range(0, len(chars), GROUP))


def normalize_code(text: str) -> str | None:
    """``text`` as a code's canonical form (upper case, five groups of five), or None.

    Dashes, spaces and case are what people change when they copy a code from a mail.
    """
    chars = text.translate(_IGNORED).upper()
    if len(chars) != GROUPS * GROUP or any(c not in ALPHABET for c in chars):
        return None
    return "-".join(chars[i : i + GROUP] for i in range(0, len(chars), GROUP))


def invite_code_hash(campaign: str, code_: str) -> str:
    """The hash the log holds for ``code_`` (canonical form) in ``campaign``."""
    return hashlib.sha256(f"{HASH_DOMAIN}{campaign}\n{code_}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CodeBatch:
    """One ``InvitationCodesIssued``: its id is ``"<actor>:<seq>"`` of its envelope."""

    id: str
    campaign: str
    expires_at: datetime
    label: str | None
    codes: int

    def to_json(self) -> dict[str, Any]:
        return json_fields(self, expires_at=format_ts(self.expires_at))


@dataclass(frozen=True, slots=True)
class InviteCode:
    """A code's standing: the batch that issued it, and whether a join used it."""

    batch: str
    used: bool = False


def check_issued(state: State, ev: Fact) -> tuple[CodeBatch, list[str]]:
    body = expect_keys(ev, {"expires_at", "label", "codes"})
    expires = time(ev, "expires_at", body["expires_at"])
    label = body["label"]
    if label is not None:
        code(ev, "label", label)
    hashes = body["codes"]
    if type(hashes) is not list or not 1 <= len(hashes) <= MAX_CODES:
        raise malformed(ev, f"field 'codes' must be a list of 1-{MAX_CODES} code hashes")
    for value in hashes:
        sha256_hex(ev, "codes", value)
    campaign = campaign_of(state, ev)
    require_owner(campaign, ev, "issue invitation codes")
    batch = contribution_id(ev.actor, ev.seq)
    if expires <= event_time(ev):
        raise InviteExpiryInPastError(
            f"invitation codes must expire after they are issued: batch {batch} of campaign "
            f"{campaign.id} expires at {body['expires_at']}, not after its time {ev.ts}",
            campaign=campaign.id,
            batch=batch,
        )
    seen: set[str] = set()
    for value in hashes:
        held = state.invite_codes.get((campaign.id, value))
        if value in seen or held is not None:
            where = f"batch {batch} itself" if held is None else f"batch {held.batch}"
            raise DuplicateInviteCodeError(
                f"code hash {value} of batch {batch} is in {where} of campaign {campaign.id} "
                f"already: each code is issued once",
                campaign=campaign.id,
                batch=batch,
                code_hash=value,
            )
        seen.add(value)
    made = CodeBatch(batch, campaign.id, expires, label, len(hashes))
    return made, hashes


def store_issued(state: State, ev: Fact, checked: tuple[CodeBatch, list[str]]) -> None:
    batch, hashes = checked
    state.put(state.code_batches, batch.id, batch)
    fresh = InviteCode(batch.id)
    for value in hashes:
        state.put(state.invite_codes, (batch.campaign, value), fresh)


def _issued_elsewhere(state: State, campaign: str, code_: str) -> str | None:
    """The other campaign that issued ``code_``, if any (only asked when a join is refused)."""
    others = sorted({b.campaign for b in state.code_batches.values()} - {campaign})
    for other in others:
        if (other, invite_code_hash(other, code_)) in state.invite_codes:
            return other
    return None


def check_code(
    state: State, campaign: Campaign, member: str, ev: Fact, code_: str
) -> tuple[str, str]:
    """The key of the code ``member`` presents to join ``campaign``, if it admits them.

    Raises ``UnknownInviteCodeError``, ``InviteCodeForOtherCampaignError``,
    ``InviteCodeUsedError`` or ``InviteCodeExpiredError``. Expired means: the join's ``ts``,
    or, while the server checks an append, its clock (``state.append_time``), is at or after
    the batch's ``expires_at``. No sentence names the code or who used it.
    """
    key = (campaign.id, invite_code_hash(campaign.id, code_))
    found = state.invite_codes.get(key)
    if found is None:
        other = _issued_elsewhere(state, campaign.id, code_)
        if other is not None:
            raise InviteCodeForOtherCampaignError(
                f"the invitation code member {member} presented is one of campaign {other}'s, "
                f"not of campaign {campaign.id}",
                campaign=campaign.id,
                member=member,
            )
        raise UnknownInviteCodeError(
            f"the invitation code member {member} presented is not one the brand of campaign "
            f"{campaign.id} issued",
            campaign=campaign.id,
            member=member,
        )
    if found.used:
        raise InviteCodeUsedError(
            f"the invitation code member {member} presented to campaign {campaign.id} was "
            f"used already: each code admits one member",
            campaign=campaign.id,
            member=member,
            batch=found.batch,
        )
    batch = state.code_batches[found.batch]
    moment = event_time(ev)
    now = state.append_time
    if now is not None and now > moment:
        moment = now
    if moment >= batch.expires_at:
        raise InviteCodeExpiredError(
            f"the invitation code member {member} presented to campaign {campaign.id} expired "
            f"at {format_ts(batch.expires_at)} (batch {batch.id}): it admits nobody after that",
            campaign=campaign.id,
            member=member,
            batch=batch.id,
        )
    return key


def use_code(state: State, key: tuple[str, str]) -> None:
    """Mark the code at ``key`` used (the join that presented it was accepted)."""
    found = state.invite_codes[key]
    state.put(state.invite_codes, key, InviteCode(found.batch, used=True))


RULES = {INVITATION_CODES_ISSUED: Rule(check_issued, store_issued)}
