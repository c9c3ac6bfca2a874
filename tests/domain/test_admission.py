"""What a stranger may write at all, and the policy's cap on submissions per day.

A newcomer's ``KeyRegistered`` reaches the log from the network only in one batch with
the newcomer's first act that a campaign admits (``with-first-act``), never
(``closed``), or on its own (``open``, and the operator's own appends). The summer
campaign of the world is invite-only: Dee is registered and was never invited.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import commands
from domain.errors import (
    DomainError,
    FirstActRequiredError,
    MalformedBodyError,
    NotInvitedError,
    RegistrationClosedError,
    SubmissionCapReachedError,
)
from domain.membership import Registration
from domain.policy import DEFAULT_POLICY
from ledger.envelope import Envelope
from ledger.keys import SigningKey
from tests.domain.conftest import CAMPAIGN, GUIDELINES, World
from tests.support import registration, seeded_key

OPEN = "open-26"


def open_campaign(w: World, name: str = OPEN, **policy: Any) -> str:
    w.c.open_campaign(
        w.brand,
        name,
        title="Open call",
        guidelines=GUIDELINES,
        starts_at=w.now - timedelta(days=3),
        ends_at=w.now + timedelta(days=3),
        policy={**DEFAULT_POLICY, **policy},
    )
    return w.c.campaign(name).guidelines


def joined(key: SigningKey, campaign: str, guidelines: str, w: World, seq: int = 2) -> Envelope:
    return commands.member_joined(key, campaign, guidelines, seq=seq, at=w.now)


def refused_and_unwritten(
    w: World, batch: list[Envelope], registration_mode: Registration, error: type, message: str
) -> None:
    before = (w.size(), w.snapshot())
    with pytest.raises(error) as raised:
        w.c.gate.append_batch(batch, registration=registration_mode)
    assert str(raised.value) == message
    assert (w.size(), w.snapshot()) == before


def test_a_newcomer_joins_an_open_campaign_in_the_batch_that_registers_them(world: World) -> None:
    guidelines = open_campaign(world)
    eve = seeded_key(201)
    batch = [registration(eve), joined(eve, OPEN, guidelines, world)]
    positions = world.c.gate.append_batch(batch, registration=Registration.WITH_FIRST_ACT)
    assert list(positions) == [world.size() - 2, world.size() - 1]
    assert world.c.gate.read(lambda s: s.memberships[(OPEN, eve.actor)].joined)


def test_a_bare_registration_is_refused_while_registration_needs_a_first_act(
    world: World,
) -> None:
    eve = seeded_key(201)
    refused_and_unwritten(
        world,
        [registration(eve)],
        Registration.WITH_FIRST_ACT,
        FirstActRequiredError,
        f"KeyRegistered of {eve.actor} is accepted only together with its first act "
        f"(MemberJoined of a campaign that admits it) signed by {eve.actor} in the same batch",
    )


def test_a_first_act_signed_by_someone_else_does_not_admit_a_newcomer(world: World) -> None:
    guidelines = open_campaign(world)
    eve, fay = seeded_key(201), seeded_key(202)
    batch = [registration(eve), registration(fay), joined(fay, OPEN, guidelines, world)]
    refused_and_unwritten(
        world,
        batch,
        Registration.WITH_FIRST_ACT,
        FirstActRequiredError,
        f"KeyRegistered of {eve.actor} is accepted only together with its first act "
        f"(MemberJoined of a campaign that admits it) signed by {eve.actor} in the same batch",
    )


def test_an_uninvited_stranger_cannot_join_an_invite_only_campaign_to_get_in(
    world: World,
) -> None:
    eve = seeded_key(201)
    guidelines = world.c.campaign(CAMPAIGN).guidelines
    refused_and_unwritten(
        world,
        [registration(eve), joined(eve, CAMPAIGN, guidelines, world)],
        Registration.WITH_FIRST_ACT,
        NotInvitedError,
        f"event 1 of the batch: campaign {CAMPAIGN} is invite-only and member {eve.actor} "
        "was not invited",
    )


def test_an_invited_actor_id_registers_with_its_join(world: World) -> None:
    eve = seeded_key(201)
    world.c.invite(world.brand, CAMPAIGN, eve.actor)  # the brand invites the id, unregistered
    guidelines = world.c.campaign(CAMPAIGN).guidelines
    batch = [registration(eve), joined(eve, CAMPAIGN, guidelines, world)]
    world.c.gate.append_batch(batch, registration=Registration.WITH_FIRST_ACT)
    assert world.c.gate.read(lambda s: s.memberships[(CAMPAIGN, eve.actor)].joined)


def test_a_closed_registration_admits_no_newcomer_even_with_a_first_act(world: World) -> None:
    guidelines = open_campaign(world)
    eve = seeded_key(201)
    refused_and_unwritten(
        world,
        [registration(eve), joined(eve, OPEN, guidelines, world)],
        Registration.CLOSED,
        RegistrationClosedError,
        f"this server admits no new actors (registration is closed): KeyRegistered of "
        f"{eve.actor} is refused; the operator registers members",
    )


def test_open_registration_and_known_actors_need_no_first_act(world: World) -> None:
    eve = seeded_key(201)
    world.c.gate.append_batch([registration(eve)], registration=Registration.OPEN)
    # A registered actor's own acts are not registrations: any mode lets them through.
    guidelines = open_campaign(world)
    world.c.gate.append_batch(
        [joined(eve, OPEN, guidelines, world)], registration=Registration.CLOSED
    )


def test_the_network_gate_holds_every_batch_to_the_servers_setting(world: World) -> None:
    network = world.c.gate.admitting(Registration.WITH_FIRST_ACT)
    eve = seeded_key(201)
    with pytest.raises(FirstActRequiredError):
        network.append_batch([registration(eve)])
    assert network.ledger is world.c.gate.ledger and network.catch_up() == world.size()


# -- the policy's submissions_per_day ----------------------------------------------------------


def test_a_member_submits_at_most_the_policys_cap_per_day(world: World) -> None:
    open_campaign(world, submissions_per_day=2)
    world.c.join(world.ana, OPEN)
    world.campaign = OPEN
    yesterday = world.now - timedelta(days=1)
    world.submit(world.ana, "one", at=yesterday)
    world.submit(world.ana, "two", at=yesterday)
    before = (world.size(), world.snapshot())
    with pytest.raises(SubmissionCapReachedError) as raised:
        world.submit(world.ana, "three", at=yesterday)
    day = yesterday.strftime("%Y-%m-%d")
    assert str(raised.value) == (
        f"member {world.ana.actor} made 2 submission(s) to campaign {OPEN} on {day} already, "
        "the most its policy allows per day (submissions_per_day)"
    )
    assert raised.value.code == "SubmissionCapReached"
    assert (world.size(), world.snapshot()) == before
    world.submit(world.ana, "today")  # a new day
    world.c.join(world.ben, OPEN)
    world.submit(world.ben, "ben's first")  # caps are per member


def test_the_cap_is_replayed_the_same_way(world: World) -> None:
    open_campaign(world, submissions_per_day=1)
    world.c.join(world.ana, OPEN)
    world.campaign = OPEN
    world.submit(world.ana, "one")
    counted = world.c.gate.read(lambda s: dict(s.submissions))
    from domain.gate import CampaignApp

    replayed = CampaignApp(world.svc.ledger)
    assert replayed.read(lambda s: dict(s.submissions)) == counted
    assert replayed.ignored == []


@pytest.mark.parametrize("cap", [0, -1, "2", True])
def test_a_cap_that_is_not_a_positive_integer_is_malformed(world: World, cap: Any) -> None:
    with pytest.raises(MalformedBodyError) as raised:
        open_campaign(world, name="bad-cap", submissions_per_day=cap)
    assert "field 'policy.submissions_per_day' must be an integer of at least 1" in str(
        raised.value
    )


def test_every_admission_error_is_a_domain_error_with_its_code() -> None:
    codes = {
        FirstActRequiredError: "FirstActRequired",
        RegistrationClosedError: "RegistrationClosed",
        SubmissionCapReachedError: "SubmissionCapReached",
    }
    for error, code in codes.items():
        assert issubclass(error, DomainError) and error.code == code
