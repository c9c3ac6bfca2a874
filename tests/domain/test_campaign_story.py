"""A brand's whole campaign, from opening to settlement, told as it happens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.campaign import Campaign
from domain.errors import NoLicenceError
from domain.gate import CampaignApp
from domain.profiles import Profile
from ledger.verify import verify_log
from tests.domain.conftest import CAMPAIGN, World


def test_a_brand_runs_a_campaign_from_opening_to_settlement(world: World) -> None:
    w = world
    c = w.c
    # The campaign is open and invite-only; the brand tops up the pool.
    c.fund_pool(w.brand, CAMPAIGN, 25_000)
    assert c.campaign(CAMPAIGN).pool == 125_000

    # Ana posts an idea; Ben and Cy co-author a design (70/30) that remixes it.
    idea = w.submit(w.ana, "Harbour at dusk")
    design = w.submit(
        w.ben,
        "Harbour tee",
        authors=[(w.ben.actor, 70), (w.cy.actor, 30)],
        derived_from=[(idea, None)],
    )
    # Ben named Cy: the design is pending until Cy signs that she co-authored it.
    c.accept_coauthorship(w.cy, CAMPAIGN, design)
    # Ana remixes the remix: a chain two levels deep, with an explicit share.
    poster = w.submit(w.ana, "Harbour poster", derived_from=[(design, "1/4")])

    # The community engages; one vote is withdrawn and cast again.
    c.cast_vote(w.ben, CAMPAIGN, idea, "support")
    # A comment vote names the voter's own comment (the default policy has comment_threads).
    c.post_comment(w.cy, CAMPAIGN, idea, b"Love the colours")
    c.cast_vote(w.cy, CAMPAIGN, idea, "comment", comment=b"Love the colours")
    c.cast_vote(w.ana, CAMPAIGN, design, "share")
    c.withdraw_vote(w.ana, CAMPAIGN, design, "share")
    c.cast_vote(w.ana, CAMPAIGN, design, "share")
    c.cast_vote(w.ben, CAMPAIGN, poster, "save")

    # A troll joins (invited by mistake), posts spam; it is removed and the troll blocked.
    c.invite(w.brand, CAMPAIGN, w.dee.actor)
    c.join(w.dee, CAMPAIGN)
    spam = w.submit(w.dee, "FREE FOLLOWERS")
    c.moderate(w.brand, CAMPAIGN, spam, "removed", "spam", note=b"link farm")
    c.block(w.brand, CAMPAIGN, w.dee.actor, "spam")

    # The brand shortlists the design; both authors license it; the brand reuses it.
    c.moderate(w.brand, CAMPAIGN, design, "accepted", "shortlisted")
    w.grant(w.ben, design, channels=["social", "ads"], territory=["FR", "DE"])
    w.grant(w.cy, design, channels=["social", "ads"], territory=["FR", "DE"])
    reuse = c.record_reuse(
        w.brand, CAMPAIGN, design, f"{design}/brand-2026", channel="ads", territory="DE"
    )
    assert reuse.type == "ReuseRecorded"

    # Close; propose the payouts; Ana objects within the window and the brand answers her;
    # once the window is over, settle with the proposal's hash, then record a payment. The
    # default policy reviews: the close says the two pieces never moderated earn as accepted.
    c.close_campaign(w.brand, CAMPAIGN, unreviewed="accept")
    payees = {w.ana.actor: 75_000, w.ben.actor: 30_000, w.cy.actor: 20_000}
    proposed = c.propose_payouts(
        w.brand, CAMPAIGN, export="a" * 64, payees=payees, at=w.now - timedelta(days=8)
    )
    proposal = proposed.ids["proposal"]
    objected = c.object_to_payouts(
        w.ana, CAMPAIGN, proposal, "missing-credit", text=b"my sketch was used too",
        at=w.now - timedelta(days=7, hours=12),
    )  # fmt: skip
    answered = c.answer_objection(
        w.brand, CAMPAIGN, objected.ids["objection"], "rejected", text=b"it earned its credit"
    )
    assert (proposed.type, objected.type, answered.type) == (
        "PayoutsProposed", "PayoutObjected", "ObjectionAnswered",
    )  # fmt: skip
    settled = c.settle_payouts(w.brand, CAMPAIGN, export="a" * 64, lines=3)
    assert settled.type == "PayoutsSettled"
    paid = c.record_payment(
        w.brand, CAMPAIGN, rail="sepa", batch="MSG-1", payments=[(w.ben.actor, 30_000, None)]
    )
    assert paid.type == "PaymentRecorded"
    book = c.payout_book(CAMPAIGN)
    assert (book.settled, dict(book.paid), book.owed(w.ana.actor)) == (
        True, {w.ben.actor: 30_000}, 75_000,
    )  # fmt: skip
    assert book.proposal is not None and book.proposal.objections[0].answer is not None

    found: Campaign = c.campaign(CAMPAIGN)
    assert (found.closed, found.settled, found.pool) == (True, True, 125_000)
    shown = c.show(CAMPAIGN, contributions=True)
    assert (shown["contributions"], shown["removed"], shown["live_votes"]) == (4, 1, 4)
    assert shown["members"] == {"joined": 4, "blocked": 1}
    works = {work["contribution"]: work for work in shown["works"]}
    assert works[design]["authors"] == [
        {"member": w.ben.actor, "share": 70, "name": w.ben.actor},
        {"member": w.cy.actor, "share": 30, "name": w.cy.actor},
    ]
    assert works[design]["derived_from"] == [{"contribution": idea, "share": None}]
    assert works[poster]["derived_from"] == [{"contribution": design, "share": "1/4"}]
    assert works[spam]["outcome"] == "removed"
    assert w.svc.content.get(works[idea]["content"]) == f"Harbour at dusk by {w.ana.actor}".encode()

    # Every event verifies, and a newcomer replaying the log reaches the same state.
    assert verify_log(w.svc.ledger.store).ok
    fresh = CampaignApp(w.svc.ledger)
    assert fresh.catch_up() == w.size()
    assert fresh.ignored == []
    assert fresh.read(lambda s: (s.campaigns, s.contributions, s.votes, s.licences)) == (
        c.gate.read(lambda s: (s.campaigns, s.contributions, s.votes, s.licences))
    )


def test_an_open_campaign_lets_anyone_join_and_a_licence_runs_only_in_its_time(
    world: World,
) -> None:
    w = world
    c = w.c
    c.open_campaign(
        w.brand,
        "open-call",
        title="Open call",
        guidelines=b"anything goes",
        starts_at=w.now - timedelta(days=1),
        ends_at=w.now + timedelta(days=1),
    )
    c.join(w.dee, "open-call")  # nobody invited Dee: the campaign is open
    receipt = c.submit(w.dee, "open-call", b"lamp", kind="design", title="Lamp")
    work = str(receipt.ids["contribution"])
    c.grant_licence(
        w.dee,
        "open-call",
        work,
        "later",
        licensee=w.brand.actor,
        channels=["web"],
        territory="worldwide",
        starts_at=w.now + timedelta(days=10),
        ends_at=None,
        terms=b"terms",
    )
    lid = f"{work}/later"
    with pytest.raises(NoLicenceError) as early:
        c.record_reuse(w.brand, "open-call", work, lid, channel="web", territory="JP", at=w.now)
    starts = (w.now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert early.value.detail == (
        f"no live licence covers this reuse of {work} by {w.brand.actor}: licence {lid} runs "
        f"from {starts} until no end, not at {w.now.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )


def test_a_member_keeps_a_private_profile_and_the_log_holds_only_its_commitment(
    world: World,
) -> None:
    w = world
    profile = Profile.create("Ana Silva", "ana@example.org", "FR76 3000 6000 0112 3456 7890 189")
    receipt = w.c.set_profile(w.ana, profile)
    assert w.svc.profiles.get(w.ana.actor) == profile
    stored = w.svc.profiles.stored(w.ana.actor)
    assert stored is not None
    logged = w.svc.ledger.event(receipt.position)
    assert logged is not None
    assert stored.commitment.encode() in logged.data
    assert b"ana@example.org" not in logged.data
    exported = w.c.export_my_data(w.ana.actor)
    assert exported["profile"] == profile.to_json()
    assert exported["commitment"] == {"salt": stored.salt.hex(), "commitment": stored.commitment}
    assert exported["campaigns"] == {
        CAMPAIGN: {"invited": True, "joined": True, "blocked": False, "reason": None}
    }
    assert [e["type"] for e in exported["events"]] == [
        "KeyRegistered",
        "MemberJoined",
        "ProfileCommitted",
    ]
