"""Application services: one verb per campaign command, signed by the actor's key.

Each verb stores what belongs in a store (content bytes, the encrypted profile),
builds and signs the event with the actor's next ``seq`` (``domain.commands``),
appends it through the gate and returns a ``Receipt``. A refusal raises the
typed error of the rule it breaks (``DomainError``, or the ledger's
``LedgerError``) and writes no event. The CLI and the HTTP API stay thin: parse,
call one verb, print the receipt.

Longer than ~400 lines on purpose: it is one verb per command, each a few lines over
``_do``; split by who signs (brand, members, private data), each part would carry its
own copy of the constructor and ``_do``, and the CLI and the HTTP API would have to
know which part holds a verb.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from domain import commands
from domain.campaign import Campaign, find_campaign
from domain.commands import Share, When
from domain.comments import Comment, ThreadEntry, ThreadPage, check_comment_text, threaded
from domain.content import ContentStore
from domain.contributions import contribution_in
from domain.errors import InvalidSharesError, MalformedBodyError
from domain.gate import CampaignApp
from domain.invite_codes import (
    CODE_EXAMPLE,
    MAX_CODES,
    invite_code_hash,
    new_code,
    normalize_code,
)
from domain.payout_methods import PayoutMethod
from domain.payout_services import PayoutVerbs
from domain.profile_store import ProfileStore
from domain.profiles import ERASED_LABEL, MEMBER_ERASED, SALT_BYTES, Profile, commitment
from domain.state import State
from domain.values import contribution_id
from domain.vocabulary import DEFAULT_POLICY
from ledger.canonical import json_fields
from ledger.envelope import Envelope
from ledger.keys import SigningKey
from ledger.ledger import EnvelopeInput, Ledger, to_envelope

Clock = Callable[[], datetime]
Authors = Sequence[tuple[str, int]]


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def utc_now() -> datetime:
    """Now, in UTC, to the second (the envelope's ``ts``)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where an accepted event landed, and the ids it created or names."""

    position: int
    actor: str
    seq: int
    type: str
    ids: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = json_fields(self)
        out.update(out.pop("ids"))
        return out


@dataclass(frozen=True, slots=True)
class IssuedCodes:
    """The codes a brand just issued (printed once: the log holds only their hashes)."""

    campaign: str
    expires_at: str
    label: str | None
    batches: tuple[Mapping[str, Any], ...]  # {batch, position, codes} per event, in order
    codes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        out = json_fields(self, batches=[dict(b) for b in self.batches], codes=list(self.codes))
        return {"count": len(self.codes), **out}


class CampaignServices(PayoutVerbs):
    """The campaign verbs over one gate and the content and profile stores.

    Every verb takes ``at`` (default: the clock) for the event's time.
    """

    def __init__(
        self,
        gate: CampaignApp,
        content: ContentStore,
        profiles: ProfileStore,
        *,
        clock: Clock = utc_now,
        forget: Sequence[Callable[[str], object]] = (),
    ) -> None:
        self.gate = gate
        self.content = content
        self.profiles = profiles
        self.clock = clock
        # Stores beside the log that keep a member's personal data outside the profile
        # store (the claim trees keep an address): each forgets the member on erasure.
        self.forget = tuple(forget)

    @property
    def ledger(self) -> Ledger:
        return self.gate.ledger

    def _do(
        self,
        key: SigningKey,
        build: Callable[..., Envelope],
        *args: Any,
        at: When | None,
        ids: Mapping[str, Any],
        **kw: Any,
    ) -> Receipt:
        """Sign ``build(key, *args, **kw)`` with the actor's next seq; append it."""
        seq = self.ledger.next_seq(key.actor)
        env = build(key, *args, seq=seq, at=self.clock() if at is None else at, **kw)
        return Receipt(self.gate.append(env), env.actor, env.seq, env.type, ids)

    # -- the brand -------------------------------------------------------------------------

    def open_campaign(
        self,
        key: SigningKey,
        campaign: str,
        *,
        title: str,
        guidelines: bytes,
        starts_at: When,
        ends_at: When,
        membership: str = "open",
        currency: str = "EUR",
        pool: int = 0,
        policy: Mapping[str, Any] = DEFAULT_POLICY,
        at: When | None = None,
    ) -> Receipt:
        """Open a campaign; the guidelines document goes to the content store."""
        return self._do(
            key, commands.campaign_opened, campaign, title=title,
            guidelines=self.content.put(guidelines), starts_at=starts_at, ends_at=ends_at,
            membership=membership, currency=currency, pool=pool, policy=policy, at=at,
            ids={"campaign": campaign},
        )  # fmt: skip

    def fund_pool(
        self, key: SigningKey, campaign: str, amount: int, *, at: When | None = None
    ) -> Receipt:
        ids = {"campaign": campaign}
        return self._do(key, commands.pool_funded, campaign, amount, at=at, ids=ids)

    def close_campaign(
        self,
        key: SigningKey,
        campaign: str,
        *,
        unreviewed: str | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Close; ``unreviewed`` (accept or reject) says what becomes of unmoderated pieces."""
        return self._do(
            key, commands.campaign_closed, campaign, unreviewed=unreviewed, at=at,
            ids={"campaign": campaign},
        )  # fmt: skip

    def decide_appeal(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        outcome: str,
        reason: str,
        *,
        note: bytes | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Uphold or reinstate an appealed piece; a note document goes to the content store."""
        return self._do(
            key, commands.appeal_decided, campaign, contribution, outcome, reason,
            note=None if note is None else self.content.put(note), at=at,
            ids={"campaign": campaign, "contribution": contribution},
        )  # fmt: skip

    def invite(
        self, key: SigningKey, campaign: str, member: str, *, at: When | None = None
    ) -> Receipt:
        ids = {"campaign": campaign, "member": member}
        return self._do(key, commands.member_invited, campaign, member, at=at, ids=ids)

    def issue_codes(
        self,
        key: SigningKey,
        campaign: str,
        count: int,
        *,
        expires_at: When,
        label: str | None = None,
        at: When | None = None,
    ) -> IssuedCodes:
        """Issue ``count`` fresh single-use invitation codes; return them (only their hashes
        are logged). More than ``MAX_CODES`` go in several ``InvitationCodesIssued`` events,
        appended in one all-or-nothing batch, so a refusal leaves no code behind.
        Raises ``MalformedBodyError`` for a count below 1, and what the rules raise."""
        if type(count) is not int or count < 1:
            raise MalformedBodyError(
                f"issue at least one invitation code for campaign {campaign}, not {count!r}",
                campaign=campaign,
            )
        codes: dict[str, str] = {}
        while len(codes) < count:  # a repeat of 125 random bits would be drawn again
            fresh = new_code()
            codes.setdefault(invite_code_hash(campaign, fresh), fresh)
        hashes = list(codes)
        seq = self.ledger.next_seq(key.actor)
        moment = self.clock() if at is None else at
        events = [
            commands.invitation_codes_issued(
                key, campaign, chunk, expires_at=expires_at, label=label, seq=seq + n, at=moment
            )
            for n, chunk in enumerate(_chunks(hashes, MAX_CODES))
        ]
        positions = self.gate.append_batch(events)
        batches = tuple(
            {"batch": contribution_id(e.actor, e.seq), "position": p, "codes": len(e.body["codes"])}
            for e, p in zip(events, positions, strict=True)
        )
        expires = str(events[0].body["expires_at"])
        return IssuedCodes(campaign, expires, label, batches, tuple(codes.values()))

    def block(
        self, key: SigningKey, campaign: str, member: str, reason: str, *, at: When | None = None
    ) -> Receipt:
        ids = {"campaign": campaign, "member": member}
        return self._do(key, commands.member_blocked, campaign, member, reason, at=at, ids=ids)

    def unblock(
        self, key: SigningKey, campaign: str, member: str, *, at: When | None = None
    ) -> Receipt:
        ids = {"campaign": campaign, "member": member}
        return self._do(key, commands.member_unblocked, campaign, member, at=at, ids=ids)

    def moderate(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        outcome: str,
        reason: str,
        *,
        note: bytes | None = None,
        reports: Sequence[str] | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Accept, reject or remove; a note document goes to the content store. ``reports``:
        the reports the decision answers (about that contribution)."""
        return self._do(
            key, commands.contribution_moderated, campaign, contribution, outcome, reason,
            note=None if note is None else self.content.put(note), reports=reports, at=at,
            ids={"campaign": campaign, "contribution": contribution},
        )  # fmt: skip

    def record_reuse(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        licence: str,
        *,
        channel: str,
        territory: str,
        at: When | None = None,
    ) -> Receipt:
        return self._do(
            key, commands.reuse_recorded, campaign, contribution, licence, channel=channel,
            territory=territory, at=at,
            ids={"campaign": campaign, "contribution": contribution, "licence": licence},
        )  # fmt: skip

    # -- members ---------------------------------------------------------------------------

    def join(
        self,
        key: SigningKey,
        campaign: str,
        *,
        guidelines: str | None = None,
        code: str | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Join, accepting ``guidelines`` (by default the campaign's current ones), with an
        invitation ``code`` if one is given (dashes, spaces and case do not matter).

        Raises ``MalformedBodyError`` for a code that cannot be one, and what the rules raise.
        """
        presented = None
        if code is not None:
            presented = normalize_code(code)
            if presented is None:
                raise MalformedBodyError(
                    f"an invitation code is 25 letters A-Z and digits 2-7, like {CODE_EXAMPLE} "
                    f"(dashes, spaces and case do not matter); the code given for campaign "
                    f"{campaign} has {len(code)} characters and is not one",
                    campaign=campaign,
                )
        accepted = guidelines if guidelines is not None else self.campaign(campaign).guidelines
        ids = {"campaign": campaign}
        build = commands.member_joined
        return self._do(key, build, campaign, accepted, code=presented, at=at, ids=ids)

    def submit(
        self,
        key: SigningKey,
        campaign: str,
        content: bytes,
        *,
        kind: str,
        title: str,
        authors: Authors | None = None,
        derived_from: Sequence[Share] = (),
        content_hash: str | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Store the content (checked against ``content_hash`` and ``kind``) and submit it."""
        stored = self.content.put(
            content, content_hash, kind=kind, uploader=key.actor, campaign=campaign
        )
        receipt = self._do(
            key, commands.contribution_submitted, campaign,
            content=stored, kind=kind, title=title,
            derived_from=derived_from, authors=authors, at=at, ids={"campaign": campaign},
        )  # fmt: skip
        made = contribution_id(receipt.actor, receipt.seq)
        return replace(receipt, ids={**receipt.ids, "contribution": made})

    def remix(
        self,
        key: SigningKey,
        campaign: str,
        content: bytes,
        *,
        kind: str,
        title: str,
        derived_from: Sequence[Share],
        authors: Authors | None = None,
        content_hash: str | None = None,
        at: When | None = None,
    ) -> Receipt:
        """``submit`` a work derived from at least one earlier contribution."""
        if not derived_from:
            raise InvalidSharesError("a remix names at least one contribution it derives from")
        return self.submit(
            key, campaign, content, kind=kind, title=title, authors=authors,
            derived_from=derived_from, content_hash=content_hash, at=at,
        )  # fmt: skip

    def cast_vote(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        kind: str,
        *,
        comment: bytes | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Vote; a comment's text goes to the content store and its hash into the vote."""
        return self._do(
            key, commands.vote_cast, campaign, contribution, kind,
            comment=None if comment is None else self.content.put(comment), at=at,
            ids={"campaign": campaign, "contribution": contribution},
        )  # fmt: skip

    def report(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        reason: str,
        *,
        text: bytes | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Report a piece to the brand's moderation; the text goes to the content store."""
        receipt = self._do(
            key, commands.contribution_reported, campaign, contribution, reason,
            text=None if text is None else self.content.put(text), at=at,
            ids={"campaign": campaign, "contribution": contribution},
        )  # fmt: skip
        made = contribution_id(receipt.actor, receipt.seq)  # a report's id, "<actor>:<seq>"
        return replace(receipt, ids={**receipt.ids, "report": made})

    def appeal(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        reason: str,
        *,
        text: bytes | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Appeal the rejection or removal of one's piece; the text goes to the content store."""
        return self._do(
            key, commands.appeal_filed, campaign, contribution, reason,
            text=None if text is None else self.content.put(text), at=at,
            ids={"campaign": campaign, "contribution": contribution},
        )  # fmt: skip

    def post_comment(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        text: bytes,
        *,
        parent: str | None = None,
        as_brand: bool = False,
        at: When | None = None,
    ) -> Receipt:
        """Comment on a piece (``parent``: reply to a comment in its thread); the text goes
        to the content store (``BadCommentTextError`` over the limit), its hash into the event."""
        check_comment_text(text)
        receipt = self._do(
            key, commands.comment_posted, campaign, contribution, parent=parent,
            text=self.content.put(text), as_brand=as_brand, at=at,
            ids={"campaign": campaign, "contribution": contribution},
        )  # fmt: skip
        made = contribution_id(receipt.actor, receipt.seq)  # a comment's id, "<actor>:<seq>"
        return replace(receipt, ids={**receipt.ids, "comment": made})

    def hide_comment(
        self, key: SigningKey, campaign: str, comment: str, reason: str, *,
        reports: Sequence[str] | None = None, at: When | None = None,
    ) -> Receipt:  # fmt: skip
        """The brand hides a comment (it stays in the log; its comment vote stops counting);
        ``reports``: the reports about that comment the hiding answers."""
        ids = {"campaign": campaign, "comment": comment}
        return self._do(
            key, commands.comment_hidden, campaign, comment, reason, reports=reports, at=at,
            ids=ids,
        )  # fmt: skip

    def report_comment(
        self,
        key: SigningKey,
        campaign: str,
        comment: str,
        reason: str,
        *,
        text: bytes | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Report a comment to the brand; the text goes to the content store."""
        receipt = self._do(
            key, commands.comment_reported, campaign, comment, reason,
            text=None if text is None else self.content.put(text), at=at,
            ids={"campaign": campaign, "comment": comment},
        )  # fmt: skip
        made = contribution_id(receipt.actor, receipt.seq)
        return replace(receipt, ids={**receipt.ids, "report": made})

    def thread(self, campaign: str, contribution: str) -> list[Comment]:
        """The comments on ``contribution`` in log order (``UnknownContributionError``)."""

        def comments(state: State) -> list[Comment]:
            contribution_in(state, find_campaign(state, campaign).id, contribution)
            return [c for c in state.comments.values() if c.contribution == contribution]

        return self.gate.read(comments)

    def thread_page(
        self, campaign: str, contribution: str, *, start: int = 0, limit: int = 50
    ) -> ThreadPage:
        """Comments ``start`` .. ``start + limit`` of the piece's thread in reading order
        (each followed by its replies), with their texts from the content store (a hidden
        comment's text is not given)."""
        ordered = threaded(self.thread(campaign, contribution))
        entries = self.thread_entries(ordered[start : start + limit])
        return ThreadPage(campaign, contribution, len(ordered), start, entries)

    def thread_entries(self, shown: Sequence[tuple[Comment, int]]) -> tuple[ThreadEntry, ...]:
        """The ``(comment, depth)`` pairs with their texts (none for a hidden comment)."""
        return tuple(
            ThreadEntry(comment, depth, None if comment.hidden else self._comment_text(comment))
            for comment, depth in shown
        )

    def _comment_text(self, comment: Comment) -> str | None:
        """The comment's text; None when the store lacks it (appended raw, never uploaded)."""
        if not self.content.has(comment.text):
            return None
        return self.content.get(comment.text).decode("utf-8", errors="replace")

    def withdraw_vote(
        self, key: SigningKey, campaign: str, contribution: str, kind: str, *,
        at: When | None = None,
    ) -> Receipt:  # fmt: skip
        ids = {"campaign": campaign, "contribution": contribution}
        return self._do(key, commands.vote_withdrawn, campaign, contribution, kind, at=at, ids=ids)

    def grant_licence(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        name: str,
        *,
        licensee: str,
        channels: Sequence[str],
        territory: str | Sequence[str],
        starts_at: When,
        ends_at: When | None,
        terms: bytes,
        at: When | None = None,
    ) -> Receipt:
        """Grant licence ``<contribution>/<name>``; the terms document goes to the content store."""
        licence = f"{contribution}/{name}"
        return self._do(
            key, commands.licence_granted, campaign, licence, licensee=licensee,
            channels=channels, territory=territory, starts_at=starts_at, ends_at=ends_at,
            terms=self.content.put(terms), at=at,
            ids={"campaign": campaign, "contribution": contribution, "licence": licence},
        )  # fmt: skip

    def revoke_licence(
        self, key: SigningKey, campaign: str, licence: str, *, at: When | None = None
    ) -> Receipt:
        ids = {"campaign": campaign, "licence": licence}
        return self._do(key, commands.licence_revoked, campaign, licence, at=at, ids=ids)

    def accept_coauthorship(
        self, key: SigningKey, campaign: str, contribution: str, *, at: When | None = None
    ) -> Receipt:
        """Sign the acceptance of the co-authorship the submitter of ``contribution`` named."""
        ids = {"campaign": campaign, "contribution": contribution}
        return self._do(key, commands.coauthorship_accepted, campaign, contribution, at=at, ids=ids)

    def decline_coauthorship(
        self,
        key: SigningKey,
        campaign: str,
        contribution: str,
        reason: str,
        *,
        at: When | None = None,
    ) -> Receipt:
        """Decline it with a reason code: the contribution earns and gets nothing, for good."""
        ids = {"campaign": campaign, "contribution": contribution}
        return self._do(
            key, commands.coauthorship_declined, campaign, contribution, reason, at=at, ids=ids
        )

    # -- private data ----------------------------------------------------------------------

    def set_profile(
        self, key: SigningKey, profile: Profile, *, salt: bytes | None = None,
        at: When | None = None,
    ) -> Receipt:  # fmt: skip
        """Commit to ``profile`` in the log, then store it encrypted under the member's key.

        ``salt`` is random unless given (deterministic demos).
        """
        salt = os.urandom(SALT_BYTES) if salt is None else salt
        committed = commitment(salt, profile)
        receipt = self._do(key, commands.profile_committed, committed, at=at, ids={})
        self.profiles.put(key.actor, profile, salt)
        return receipt

    def update_profile(
        self,
        key: SigningKey,
        *,
        display_name: str | None = None,
        email: str | None = None,
        method: PayoutMethod | None = None,
        remove: str | None = None,
        at: When | None = None,
    ) -> Receipt:
        """Change one part of the member's profile (the rest stays); commit the result.

        Raises ``InvalidProfileError`` (a bad field, or removing a method there is not).
        """
        current = self.profiles.get(key.actor) or Profile()
        changed = current.changed(
            display_name=display_name, email=email, method=method, remove=remove
        )
        return self.set_profile(key, changed, at=at)

    def erase(self, key: SigningKey, *, at: When | None = None) -> Receipt:
        """Sign the key's ``MemberErased`` with its next seq and ``erase_signed`` it."""
        seq = self.ledger.next_seq(key.actor)
        erasure = commands.member_erased(key, seq=seq, at=self.clock() if at is None else at)
        return self.erase_signed(erasure)

    def erase_signed(self, erasure: EnvelopeInput) -> Receipt:
        """Forget the signer of a ``MemberErased`` envelope (the CLI and the HTTP API).

        The envelope is first checked as if appended (signature, seq, the rules), so
        a refused erasure deletes nothing; then the member's profile key, salt and
        ciphertext are deleted, and every ``forget`` store forgets the member (the claim
        trees drop their address and proof), then the event is appended. Raises
        ``MalformedEventError``, ``MalformedBodyError`` (another event type), the
        ledger's signature and sequence errors, or ``MemberErasedError`` when the
        member was erased already. Should the append itself then fail (another
        event of the member took its seq meanwhile), the profile stays deleted:
        the member asked for it, and signing the erasure again records it.
        """
        envelope = to_envelope(erasure)
        if envelope.type != MEMBER_ERASED:
            raise MalformedBodyError(
                f"an erasure is a signed {MEMBER_ERASED} envelope, not a {envelope.type}",
                actor=envelope.actor,
                seq=envelope.seq,
            )
        with self.gate.dry_run() as check:
            check([envelope])
        self.profiles.erase(envelope.actor)
        for forget in self.forget:
            forget(envelope.actor)
        position = self.gate.append(envelope)
        return Receipt(position, envelope.actor, envelope.seq, envelope.type, {})

    def export_my_data(self, member: str) -> dict[str, Any]:
        """Everything cocred holds about ``member`` (GDPR access), as JSON-ready data.

        The caller checks that the member is the one asking (a signed request, or
        the member's own key file). Raises ``StorageError`` if a store fails.
        """
        stored = self.profiles.stored(member)

        def about(state: State) -> dict[str, Any]:
            return {
                "member": member,
                "erased": member in state.erased,
                "profile": None if stored is None else stored.profile.to_json(),
                "commitment": None
                if stored is None
                else {"salt": stored.salt.hex(), "commitment": stored.commitment},
                "campaigns": {
                    cid: standing.to_json()
                    for (cid, who), standing in state.memberships.items()
                    if who == member
                },
                "contributions": [
                    c.id for c in state.contributions.values() if member in c.authors
                ],
            }

        exported = self.gate.read(about)
        exported["events"] = [orjson.loads(r.data) for r in self.ledger.store.read_actor(member)]
        return exported

    # -- reading ---------------------------------------------------------------------------

    def campaign(self, campaign: str) -> Campaign:
        """The campaign's current state; ``UnknownCampaignError`` if it was never opened."""
        return self.gate.read(lambda state: find_campaign(state, campaign))

    def labels(self, members: Sequence[str]) -> dict[str, str]:
        """How to show each member: display name, ``"erased member"``, or the actor id."""
        erased = self.gate.read(lambda state: {m for m in members if m in state.erased})
        names = self.profiles.get_many(m for m in members if m not in erased)
        return {
            m: ERASED_LABEL if m in erased else ((m in names and names[m].display_name) or m)
            for m in members
        }

    def show(self, campaign: str, *, contributions: bool = False) -> dict[str, Any]:
        """The campaign with counts (and, if asked, every contribution with its authors)."""

        def summary(state: State) -> tuple[dict[str, Any], list[Any]]:
            found = find_campaign(state, campaign)
            standings = [m for (cid, _), m in state.memberships.items() if cid == campaign]
            works = [c for c in state.contributions.values() if c.campaign == campaign]
            ids = {c.id for c in works}
            return {
                **found.to_json(),
                "members": {
                    "joined": sum(m.joined for m in standings),
                    "blocked": sum(m.blocked for m in standings),
                },
                "contributions": len(works),
                "removed": sum(c.removed for c in works),
                "live_votes": sum(1 for vote in state.votes if vote[0] in ids),
                "licences": sum(
                    1
                    for lic in state.licences.values()
                    if lic.contribution in ids and not lic.revoked
                ),
            }, works

        shown, works = self.gate.read(summary)
        if contributions:
            labels = self.labels(sorted({a for c in works for a in c.authors}))
            shown["works"] = [
                {
                    **c.to_json(),
                    "authors": [
                        {"member": m, "share": s, "name": labels[m]}
                        for m, s in zip(c.authors, c.shares, strict=True)
                    ],
                }
                for c in works
            ]
        return shown
