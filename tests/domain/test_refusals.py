"""Every refused command: its own error type, its exact sentence, and nothing written.

Each case arranges the world, then returns the attempt and what it must raise. The
test checks the error's type and message, that the log did not grow, and that the
rules' state is exactly what it was before the attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from domain import commands
from domain.errors import (
    AlreadyBlockedError,
    AlreadyInvitedError,
    AlreadyJoinedError,
    AlreadySettledError,
    CampaignClosedError,
    CampaignNotClosedError,
    ContentMismatchError,
    ContentTooLargeError,
    DomainError,
    DuplicateCampaignError,
    DuplicateLicenceError,
    DuplicateVoteError,
    GuidelinesMismatchError,
    InvalidProfileError,
    InvalidSharesError,
    LicenceRevokedError,
    MalformedBodyError,
    MemberBlockedError,
    MemberErasedError,
    NoLicenceError,
    NoSuchVoteError,
    NotAuthorError,
    NotBlockedError,
    NotCampaignOwnerError,
    NotInvitedError,
    NotJoinedError,
    OutsideCampaignWindowError,
    RemovedContributionError,
    SelfVoteError,
    SettlementMismatchError,
    UnknownCampaignError,
    UnknownContributionError,
    UnknownEventTypeError,
    UnknownLicenceError,
)
from domain.profiles import Profile
from ledger.envelope import sign_envelope
from tests.domain.conftest import CAMPAIGN, GUIDELINES, World

Case = tuple[Callable[[], Any], type[DomainError], str]
CASES: dict[str, Callable[[World], Case]] = {}


def case(name: str) -> Callable[[Callable[[World], Case]], Callable[[World], Case]]:
    def register(arrange: Callable[[World], Case]) -> Callable[[World], Case]:
        CASES[name] = arrange
        return arrange

    return register


# -- the campaign ------------------------------------------------------------------------------


@case("a campaign that was never opened")
def _(w: World) -> Case:
    return (
        lambda: w.c.join(w.ana, "winter-27", guidelines="0" * 64),
        UnknownCampaignError,
        "campaign winter-27 was never opened",
    )


@case("an id that is taken")
def _(w: World) -> Case:
    return (
        lambda: w.c.open_campaign(
            w.ben,
            CAMPAIGN,
            title="Mine",
            guidelines=b"x",
            starts_at=w.now,
            ends_at=w.now + timedelta(days=1),
        ),
        DuplicateCampaignError,
        f"campaign id {CAMPAIGN} is already taken (opened by {w.brand.actor})",
    )


@case("a member funds the pool")
def _(w: World) -> Case:
    return (
        lambda: w.c.fund_pool(w.ana, CAMPAIGN, 500),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may fund its pool; "
        f"{w.ana.actor} may not",
    )


@case("a member moderates")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.moderate(w.ben, CAMPAIGN, work, "removed", "spam"),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may moderate contributions; "
        f"{w.ben.actor} may not",
    )


@case("a member closes the campaign")
def _(w: World) -> Case:
    return (
        lambda: w.c.close_campaign(w.ana, CAMPAIGN),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may close it; "
        f"{w.ana.actor} may not",
    )


@case("a vote after the close")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.close_campaign(w.brand, CAMPAIGN, unreviewed="accept")
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "support"),
        CampaignClosedError,
        f"campaign {CAMPAIGN} is closed: VoteCast is refused",
    )


@case("a settlement before the close")
def _(w: World) -> Case:
    return (
        lambda: w.c.settle_payouts(w.brand, CAMPAIGN, export="e" * 64, lines=3),
        CampaignNotClosedError,
        f"campaign {CAMPAIGN} is still open: payouts are settled after CampaignClosed",
    )


@case("a second settlement")
def _(w: World) -> Case:
    w.propose()
    w.settle()
    return (
        lambda: w.c.settle_payouts(w.brand, CAMPAIGN, export="f" * 64, lines=3),
        AlreadySettledError,
        f"campaign {CAMPAIGN} was settled already",
    )


@case("a settlement of another total than the pool")
def _(w: World) -> Case:
    w.c.close_campaign(w.brand, CAMPAIGN)
    found = w.c.campaign(CAMPAIGN)
    env = commands.payouts_settled(
        w.brand,
        CAMPAIGN,
        policy=found.policy.raw,
        total=99_999,
        currency="EUR",
        export="e" * 64,
        lines=2,
        seq=w.svc.ledger.next_seq(w.brand.actor),
        at=w.now,
    )
    return (
        lambda: w.c.gate.append(env),
        SettlementMismatchError,
        f"campaign {CAMPAIGN}: settlement total 99999 is not the campaign's 100000",
    )


@case("a submission before the window")
def _(w: World) -> Case:
    early = w.now - timedelta(days=2)
    return (
        lambda: w.c.submit(w.ana, CAMPAIGN, b"early", kind="idea", title="Early", at=early),
        OutsideCampaignWindowError,
        f"campaign {CAMPAIGN} takes submissions and votes from "
        f"{_ts(w.now - timedelta(days=1))} to {_ts(w.now + timedelta(days=30))}; "
        f"ContributionSubmitted at {_ts(early)} is outside",
    )


# -- membership --------------------------------------------------------------------------------


@case("joining an invite-only campaign uninvited")
def _(w: World) -> Case:
    return (
        lambda: w.c.join(w.dee, CAMPAIGN),
        NotInvitedError,
        f"campaign {CAMPAIGN} is invite-only and member {w.dee.actor} was not invited",
    )


@case("submitting without joining")
def _(w: World) -> Case:
    w.c.invite(w.brand, CAMPAIGN, w.dee.actor)
    return (
        lambda: w.submit(w.dee),
        NotJoinedError,
        f"member {w.dee.actor} has not joined campaign {CAMPAIGN}",
    )


@case("a co-author who has not joined")
def _(w: World) -> Case:
    return (
        lambda: w.submit(w.ana, authors=[(w.ana.actor, 50), (w.dee.actor, 50)]),
        NotJoinedError,
        f"co-author {w.dee.actor} has not joined campaign {CAMPAIGN}",
    )


@case("a blocked member votes")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.block(w.brand, CAMPAIGN, w.ben.actor, "harassment")
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "support"),
        MemberBlockedError,
        f"member {w.ben.actor} is blocked in campaign {CAMPAIGN} (harassment)",
    )


@case("a blocked co-author")
def _(w: World) -> Case:
    w.c.block(w.brand, CAMPAIGN, w.cy.actor, "spam")
    return (
        lambda: w.submit(w.ana, authors=[(w.ana.actor, 70), (w.cy.actor, 30)]),
        MemberBlockedError,
        f"co-author {w.cy.actor} is blocked in campaign {CAMPAIGN} (spam)",
    )


@case("joining twice")
def _(w: World) -> Case:
    return (
        lambda: w.c.join(w.ana, CAMPAIGN),
        AlreadyJoinedError,
        f"member {w.ana.actor} joined campaign {CAMPAIGN} already",
    )


@case("inviting twice")
def _(w: World) -> Case:
    return (
        lambda: w.c.invite(w.brand, CAMPAIGN, w.ana.actor),
        AlreadyInvitedError,
        f"member {w.ana.actor} was invited to campaign {CAMPAIGN} already",
    )


@case("blocking twice")
def _(w: World) -> Case:
    w.c.block(w.brand, CAMPAIGN, w.ben.actor, "spam")
    return (
        lambda: w.c.block(w.brand, CAMPAIGN, w.ben.actor, "harassment"),
        AlreadyBlockedError,
        f"member {w.ben.actor} is blocked in campaign {CAMPAIGN} already (spam)",
    )


@case("unblocking a member who is not blocked")
def _(w: World) -> Case:
    return (
        lambda: w.c.unblock(w.brand, CAMPAIGN, w.ben.actor),
        NotBlockedError,
        f"member {w.ben.actor} is not blocked in campaign {CAMPAIGN}",
    )


@case("joining under other guidelines")
def _(w: World) -> Case:
    w.c.invite(w.brand, CAMPAIGN, w.dee.actor)
    other = "ab" * 32
    return (
        lambda: w.c.join(w.dee, CAMPAIGN, guidelines=other),
        GuidelinesMismatchError,
        f"member {w.dee.actor} accepted guidelines {other}, but campaign {CAMPAIGN}'s are "
        f"{_sha(GUIDELINES)}",
    )


# -- contributions and votes -------------------------------------------------------------------


@case("a vote on a contribution that does not exist")
def _(w: World) -> Case:
    ghost = f"{w.ana.actor}:99"
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, ghost, "support"),
        UnknownContributionError,
        f"campaign {CAMPAIGN} has no contribution {ghost}",
    )


@case("a remix of a contribution that does not exist")
def _(w: World) -> Case:
    ghost = f"{w.cy.actor}:42"
    return (
        lambda: w.submit(w.ana, derived_from=[(ghost, None)]),
        UnknownContributionError,
        f"campaign {CAMPAIGN} has no contribution {ghost}",
    )


@case("a vote on a removed contribution")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.moderate(w.brand, CAMPAIGN, work, "removed", "guideline-violation")
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "save"),
        RemovedContributionError,
        f"contribution {work} was removed by moderation: no votes",
    )


@case("a remix of a removed contribution")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.moderate(w.brand, CAMPAIGN, work, "removed", "guideline-violation")
    return (
        lambda: w.submit(w.ben, derived_from=[(work, "1/5")]),
        RemovedContributionError,
        f"contribution {work} was removed by moderation: no remixes",
    )


@case("author shares that do not sum to 100")
def _(w: World) -> Case:
    seq = w.svc.ledger.next_seq(w.ana.actor)
    return (
        lambda: w.submit(w.ana, authors=[(w.ana.actor, 60), (w.ben.actor, 30)]),
        InvalidSharesError,
        f"ContributionSubmitted {w.ana.actor}:{seq}: author shares must sum to 100, got 90",
    )


@case("authors that leave out the signer")
def _(w: World) -> Case:
    seq = w.svc.ledger.next_seq(w.ana.actor)
    return (
        lambda: w.submit(w.ana, authors=[(w.ben.actor, 100)]),
        InvalidSharesError,
        f"ContributionSubmitted {w.ana.actor}:{seq}: the authors must include the signer "
        f"{w.ana.actor}",
    )


@case("remix shares that reach 1")
def _(w: World) -> Case:
    first, second = w.submit(w.ana, "One"), w.submit(w.cy, "Two")
    seq = w.svc.ledger.next_seq(w.ben.actor)
    return (
        lambda: w.submit(w.ben, derived_from=[(first, "3/4"), (second, None)]),
        InvalidSharesError,
        f"ContributionSubmitted {w.ben.actor}:{seq}: derived_from shares must sum below 1, "
        f"got 21/20",
    )


@case("a vote on one's own work")
def _(w: World) -> Case:
    work = w.submit(w.ana, authors=[(w.ana.actor, 50), (w.cy.actor, 50)])
    w.c.accept_coauthorship(w.cy, CAMPAIGN, work)
    return (
        lambda: w.c.cast_vote(w.cy, CAMPAIGN, work, "support"),
        SelfVoteError,
        f"member {w.cy.actor} is an author of contribution {work}: nobody votes on their own work",
    )


@case("a second live vote of one kind")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.cast_vote(w.ben, CAMPAIGN, work, "share")
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "share"),
        DuplicateVoteError,
        f"member {w.ben.actor} already has a live share vote on contribution {work}",
    )


@case("withdrawing a vote that was never cast")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.withdraw_vote(w.ben, CAMPAIGN, work, "save"),
        NoSuchVoteError,
        f"member {w.ben.actor} has no live save vote on contribution {work} to withdraw",
    )


# -- licences and reuse ------------------------------------------------------------------------


@case("a licence granted by someone who is not an author")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.grant(w.ben, work),
        NotAuthorError,
        f"{w.ben.actor} is not an author of contribution {work} and cannot grant or revoke "
        f"licence {work}/brand-2026",
    )


@case("a reuse without any licence")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    lid = f"{work}/brand-2026"
    return (
        lambda: w.c.record_reuse(w.brand, CAMPAIGN, work, lid, channel="web", territory="FR"),
        NoLicenceError,
        f"no live licence covers this reuse of {work} by {w.brand.actor}: licence {lid} was "
        f"never granted",
    )


@case("a reuse before every co-author granted")
def _(w: World) -> Case:
    work = w.submit(w.ana, authors=[(w.ana.actor, 50), (w.cy.actor, 50)])
    w.c.accept_coauthorship(w.cy, CAMPAIGN, work)
    w.grant(w.ana, work)
    lid = f"{work}/brand-2026"
    return (
        lambda: w.c.record_reuse(w.brand, CAMPAIGN, work, lid, channel="web", territory="FR"),
        NoLicenceError,
        f"no live licence covers this reuse of {work} by {w.brand.actor}: author "
        f"{w.cy.actor} has not granted licence {lid}",
    )


@case("a reuse in a channel the licence does not cover")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.grant(w.ana, work)
    lid = f"{work}/brand-2026"
    return (
        lambda: w.c.record_reuse(w.brand, CAMPAIGN, work, lid, channel="ads", territory="FR"),
        NoLicenceError,
        f"no live licence covers this reuse of {work} by {w.brand.actor}: licence {lid} does "
        f"not cover channel ads",
    )


@case("a reuse by someone who is not the licensee")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.grant(w.ana, work)
    lid = f"{work}/brand-2026"
    return (
        lambda: w.c.record_reuse(w.cy, CAMPAIGN, work, lid, channel="web", territory="FR"),
        NoLicenceError,
        f"no live licence covers this reuse of {work} by {w.cy.actor}: licence {lid} names "
        f"licensee {w.brand.actor}, not {w.cy.actor}",
    )


@case("a reuse after the licence was revoked")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.grant(w.ana, work)
    lid = f"{work}/brand-2026"
    w.c.revoke_licence(w.ana, CAMPAIGN, lid)
    return (
        lambda: w.c.record_reuse(w.brand, CAMPAIGN, work, lid, channel="web", territory="FR"),
        NoLicenceError,
        f"no live licence covers this reuse of {work} by {w.brand.actor}: licence {lid} was "
        f"revoked",
    )


@case("revoking a licence nobody granted")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    lid = f"{work}/brand-2026"
    return (
        lambda: w.c.revoke_licence(w.ana, CAMPAIGN, lid),
        UnknownLicenceError,
        f"licence {lid} was never granted",
    )


@case("granting one licence twice")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.grant(w.ana, work)
    return (
        lambda: w.grant(w.ana, work),
        DuplicateLicenceError,
        f"author {w.ana.actor} granted licence {work}/brand-2026 already",
    )


@case("granting a revoked licence again")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.grant(w.ana, work)
    w.c.revoke_licence(w.ana, CAMPAIGN, f"{work}/brand-2026")
    return (
        lambda: w.grant(w.ana, work),
        LicenceRevokedError,
        f"licence {work}/brand-2026 was revoked; grant a licence with a new name instead",
    )


# -- members' data, shapes, types --------------------------------------------------------------


@case("an erased member votes")
def _(w: World) -> Case:
    work = w.submit(w.ben)
    w.c.erase(w.ana)
    return (
        lambda: w.c.cast_vote(w.ana, CAMPAIGN, work, "support"),
        MemberErasedError,
        f"member {w.ana.actor} was erased and can sign no further VoteCast",
    )


@case("erasing twice")
def _(w: World) -> Case:
    w.c.erase(w.ana)
    return (
        lambda: w.c.erase(w.ana),
        MemberErasedError,
        f"member {w.ana.actor} was erased and can sign no further MemberErased",
    )


@case("a vote of an unknown kind")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "like"),
        MalformedBodyError,
        "VoteCast body: field 'kind' must be one of support, comment, save, share, got 'like'",
    )


@case("a comment vote without its comment")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.gate.append(
            sign_envelope(
                w.ben,
                "VoteCast",
                {"contribution": work, "kind": "comment"},
                seq=w.svc.ledger.next_seq(w.ben.actor),
                campaign=CAMPAIGN,
            )
        ),
        MalformedBodyError,
        "VoteCast body: missing field(s): comment",
    )


@case("a profile commitment inside a campaign")
def _(w: World) -> Case:
    env = sign_envelope(
        w.ana,
        "ProfileCommitted",
        {"commitment": "c" * 64},
        seq=w.svc.ledger.next_seq(w.ana.actor),
        campaign=CAMPAIGN,
    )
    return (
        lambda: w.c.gate.append(env),
        MalformedBodyError,
        "ProfileCommitted belongs to no campaign: the envelope's campaign field must be null",
    )


@case("an event type outside the contract")
def _(w: World) -> Case:
    env = sign_envelope(w.ana, "NoteShared", {"text": "hi"}, seq=w.svc.ledger.next_seq(w.ana.actor))
    return (
        lambda: w.c.gate.append(env),
        UnknownEventTypeError,
        "event type NoteShared is neither a campaign event (domain/EVENTS.md) nor a ledger "
        "key event",
    )


@case("content that does not hash to the announced value")
def _(w: World) -> Case:
    return (
        lambda: w.c.submit(
            w.ana, CAMPAIGN, b"my photo", kind="photo", title="Pier", content_hash="0" * 64
        ),
        ContentMismatchError,
        f"uploaded bytes hash to {_sha(b'my photo')}, not to the announced {'0' * 64}",
    )


@case("content over the size limit")
def _(w: World) -> Case:
    limit = w.svc.content.max_bytes
    return (
        lambda: w.c.submit(w.ana, CAMPAIGN, b"x" * (limit + 1), kind="video", title="Long"),
        ContentTooLargeError,
        f"content of {limit + 1} bytes is over the limit of {limit}",
    )


@case("a profile without an email address")
def _(w: World) -> Case:
    return (
        lambda: w.c.set_profile(w.ana, Profile.create("Ana", "ana at home", "IBAN FR76")),
        InvalidProfileError,
        "profile email 'ana at home' is not an email address",
    )


def _ts(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def assert_refused(world: World, build: Callable[[World], Case]) -> None:
    """Arrange the case, attempt it: its error type and sentence, and nothing changed."""
    attempt, error, message = build(world)
    size, state = world.size(), world.snapshot()
    with pytest.raises(DomainError) as caught:
        attempt()
    assert type(caught.value) is error
    assert caught.value.detail == message
    assert world.size() == size, "nothing was appended"
    assert world.snapshot() == state, "the rules' state is unchanged"


@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_command_names_its_reason_and_writes_nothing(world: World, name: str) -> None:
    assert_refused(world, CASES[name])


def test_a_refused_upload_leaves_no_content_behind(world: World) -> None:
    with pytest.raises(ContentMismatchError):
        world.c.submit(world.ana, CAMPAIGN, b"pier", kind="photo", title="P", content_hash="1" * 64)
    assert not world.svc.content.has(_sha(b"pier"))
