"""Invitation codes, as a brand inviting 500 people by e-mail would use them.

The summer campaign of the world is invite-only: Ana, Ben and Cy were invited by actor id;
Dee is registered and was never invited. The brand issues codes; a person joins by
presenting one; each code admits one member, before its expiry, in its own campaign only.
Every refusal is its own error with its sentence, and writes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import bootstrap
from api.settings import Settings
from domain import commands
from domain.errors import (
    AlreadyJoinedError,
    CampaignClosedError,
    DomainError,
    DuplicateInviteCodeError,
    InviteCodeExpiredError,
    InviteCodeForOtherCampaignError,
    InviteCodeUsedError,
    InviteExpiryInPastError,
    MalformedBodyError,
    MemberBlockedError,
    NotCampaignOwnerError,
    NotInvitedError,
    UnknownInviteCodeError,
)
from domain.gate import CampaignApp
from domain.invite_codes import (
    CODE_FORMAT,
    MAX_CODES,
    invite_code_hash,
    new_code,
    normalize_code,
)
from domain.membership import Registration
from domain.rules import handle
from domain.services import IssuedCodes
from domain.snapshots import STATE_SOURCES, SnapshotStore
from domain.state import State
from domain.values import Recorded
from ledger.envelope import MAX_BODY_BYTES
from ledger.keys import SigningKey
from tests.domain.conftest import CAMPAIGN, GUIDELINES, World
from tests.support import registration, seeded_key

LATER = "2099-01-01T00:00:00Z"
OTHER = "winter-27"


def issue(w: World, count: int = 3, **kw: Any) -> IssuedCodes:
    kw.setdefault("expires_at", w.now + timedelta(days=30))
    return w.c.issue_codes(w.brand, kw.pop("campaign", CAMPAIGN), count, **kw)


def state_of(w: World) -> tuple[Any, ...]:
    """Everything the rules know, the codes included (a refusal changes none of it)."""

    def copy(state: State) -> tuple[Any, ...]:
        return (
            dict(state.memberships),
            dict(state.code_batches),
            dict(state.invite_codes),
            dict(state.campaigns),
        )

    return w.c.gate.read(copy)


def refused(w: World, attempt: Callable[[], Any], error: type[DomainError], message: str) -> None:
    before = (w.size(), state_of(w))
    with pytest.raises(error) as raised:
        attempt()
    assert type(raised.value) is error
    assert str(raised.value) == message
    assert (w.size(), state_of(w)) == before, "a refusal writes nothing"


def newcomer(w: World, n: int) -> SigningKey:
    key = seeded_key(n)
    w.c.gate.append_batch([registration(key)])
    return key


def open_other(w: World) -> None:
    w.c.open_campaign(
        w.brand, OTHER, title="Winter", guidelines=GUIDELINES, starts_at=w.now,
        ends_at=w.now + timedelta(days=30), membership="invite-only",
    )  # fmt: skip


# -- the story ---------------------------------------------------------------------------------


def test_a_brand_issues_codes_and_a_person_it_never_invited_by_id_joins_with_one(
    world: World,
) -> None:
    issued = issue(world, 3, label="spring-mailing")
    assert len(issued.codes) == len(set(issued.codes)) == 3
    assert all(CODE_FORMAT.fullmatch(code) for code in issued.codes)
    [batch] = issued.batches
    assert batch["codes"] == 3 and batch["batch"].startswith(world.brand.actor + ":")
    shown = issued.to_json()
    assert list(shown) == ["count", "campaign", "expires_at", "label", "batches", "codes"]
    assert shown["count"] == 3 and shown["label"] == "spring-mailing"

    # The log holds the hashes, the expiry and the label, never a code.
    stored = world.svc.ledger.store.read(batch["position"], 1)[0]
    body = orjson.loads(stored.data)["body"]
    assert body == {
        "expires_at": issued.expires_at,
        "label": "spring-mailing",
        "codes": [invite_code_hash(CAMPAIGN, code) for code in issued.codes],
    }
    assert not any(code.encode() in stored.data for code in issued.codes)

    # Dee was never invited by id: a code admits her, whatever case and dashes she types.
    typed = issued.codes[0].replace("-", " ").lower()
    receipt = world.c.join(world.dee, CAMPAIGN, code=typed)
    assert receipt.type == "MemberJoined"
    joined = world.svc.ledger.store.read(receipt.position, 1)[0]
    assert orjson.loads(joined.data)["body"]["code"] == issued.codes[0]
    assert world.c.gate.read(lambda s: s.memberships[(CAMPAIGN, world.dee.actor)].joined)
    world.submit(world.dee, "Dee's first")  # a member like any other

    # The code is used up; the other two still admit one person each.
    fay = newcomer(world, 301)
    refused(
        world,
        lambda: world.c.join(fay, CAMPAIGN, code=issued.codes[0]),
        InviteCodeUsedError,
        f"the invitation code member {fay.actor} presented to campaign {CAMPAIGN} "
        "was used already: each code admits one member",
    )
    world.c.join(fay, CAMPAIGN, code=issued.codes[1])


def test_the_brand_can_still_invite_by_actor_id_after_issuing_codes(world: World) -> None:
    issue(world, 2)
    refused(
        world,
        lambda: world.c.join(world.dee, CAMPAIGN),
        NotInvitedError,
        f"campaign {CAMPAIGN} is invite-only and member {world.dee.actor} was not invited",
    )
    world.c.invite(world.brand, CAMPAIGN, world.dee.actor)
    world.c.join(world.dee, CAMPAIGN)


def test_a_request_over_one_body_is_split_into_batches_appended_all_or_nothing(
    world: World,
) -> None:
    before = world.size()
    issued = issue(world, MAX_CODES + 1)
    assert [b["codes"] for b in issued.batches] == [MAX_CODES, 1]
    assert [b["position"] for b in issued.batches] == [before, before + 1]
    for batch in issued.batches:
        raw = world.svc.ledger.store.read(batch["position"], 1)[0].data
        assert len(orjson.dumps(orjson.loads(raw)["body"])) <= MAX_BODY_BYTES
    # The first code of the first batch and the one code of the second both admit.
    world.c.join(world.dee, CAMPAIGN, code=issued.codes[0])
    world.c.join(newcomer(world, 302), CAMPAIGN, code=issued.codes[-1])


def test_a_full_batch_fits_the_body_limit_and_one_more_hash_is_malformed(world: World) -> None:
    hashes = [f"{n:064x}" for n in range(MAX_CODES + 1)]
    seq = world.svc.ledger.next_seq(world.brand.actor)

    def batch(codes: list[str]) -> Any:
        return commands.invitation_codes_issued(
            world.brand, CAMPAIGN, codes, expires_at=LATER, label="x" * 48, seq=seq, at=world.now
        )

    assert len(orjson.dumps(dict(batch(hashes[:MAX_CODES]).body))) < MAX_BODY_BYTES
    refused(
        world,
        lambda: world.c.gate.append(batch(hashes)),
        MalformedBodyError,
        f"InvitationCodesIssued body: field 'codes' must be a list of 1-{MAX_CODES} code hashes",
    )
    world.c.gate.append(batch(hashes[:MAX_CODES]))


def test_codes_are_random_canonical_and_normalised() -> None:
    drawn = {new_code() for _ in range(200)}
    assert len(drawn) == 200 and all(CODE_FORMAT.fullmatch(c) for c in drawn)
    code = next(iter(drawn))
    assert normalize_code(code.lower().replace("-", "")) == code
    assert normalize_code(f" {code} ".replace("-", " - ")) == code
    assert normalize_code(code[:-1]) is None
    assert normalize_code(code[:-1] + "1") is None  # not in base32
    # The hash is bound to the campaign: a code means nothing elsewhere.
    assert invite_code_hash("summer-26", code) != invite_code_hash("winter-27", code)


# -- each refusal: its type, its sentence, nothing written -------------------------------------


def test_an_unknown_code_is_refused(world: World) -> None:
    issue(world, 1)
    refused(
        world,
        lambda: world.c.join(world.dee, CAMPAIGN, code=new_code()),
        UnknownInviteCodeError,
        f"the invitation code member {world.dee.actor} presented is not one the brand of "
        f"campaign {CAMPAIGN} issued",
    )


def test_a_code_of_another_campaign_is_refused_and_names_that_campaign(world: World) -> None:
    open_other(world)
    theirs = issue(world, 1, campaign=OTHER).codes[0]
    refused(
        world,
        lambda: world.c.join(world.dee, CAMPAIGN, code=theirs),
        InviteCodeForOtherCampaignError,
        f"the invitation code member {world.dee.actor} presented is one of campaign {OTHER}'s, "
        f"not of campaign {CAMPAIGN}",
    )
    world.c.join(world.dee, OTHER, code=theirs)  # where it belongs, it admits


def test_an_expired_code_is_refused(world: World) -> None:
    issued = issue(
        world, 1, at=world.now - timedelta(days=2), expires_at=world.now - timedelta(days=1)
    )
    expiry = (world.now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    batch = issued.batches[0]["batch"]
    refused(
        world,
        lambda: world.c.join(world.dee, CAMPAIGN, code=issued.codes[0]),
        InviteCodeExpiredError,
        f"the invitation code member {world.dee.actor} presented to campaign {CAMPAIGN} "
        f"expired at {expiry} (batch {batch}): it admits nobody after that",
    )


def test_a_join_backdated_before_the_expiry_is_refused_by_the_servers_clock(
    world: World,
) -> None:
    issued = issue(
        world, 1, at=world.now - timedelta(days=2), expires_at=world.now - timedelta(days=1)
    )
    expiry = (world.now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    batch = issued.batches[0]["batch"]
    backdated = world.now - timedelta(days=1, hours=12)  # before the expiry, by its ts
    refused(
        world,
        lambda: world.c.join(world.dee, CAMPAIGN, code=issued.codes[0], at=backdated),
        InviteCodeExpiredError,
        f"the invitation code member {world.dee.actor} presented to campaign {CAMPAIGN} "
        f"expired at {expiry} (batch {batch}): it admits nobody after that",
    )


def test_a_join_dated_before_the_expiry_replays_as_it_was_accepted(world: World) -> None:
    issued = issue(world, 1, expires_at=world.now + timedelta(hours=1))
    world.c.join(world.dee, CAMPAIGN, code=issued.codes[0])
    # Long after the expiry, a replay judges the join by its ts alone: still accepted.
    later = CampaignApp(world.svc.ledger, clock=lambda: world.now + timedelta(days=400))
    later.catch_up()
    assert later.ignored == []
    assert later.state.memberships[(CAMPAIGN, world.dee.actor)].joined


def test_only_the_brand_issues_codes(world: World) -> None:
    refused(
        world,
        lambda: world.c.issue_codes(world.ana, CAMPAIGN, 2, expires_at=LATER),
        NotCampaignOwnerError,
        f"only the brand {world.brand.actor} of campaign {CAMPAIGN} may issue invitation codes; "
        f"{world.ana.actor} may not",
    )


def test_codes_that_expire_before_they_are_issued_are_refused(world: World) -> None:
    seq = world.svc.ledger.next_seq(world.brand.actor)
    ts = world.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    refused(
        world,
        lambda: issue(world, 2, expires_at=world.now, at=world.now),
        InviteExpiryInPastError,
        f"invitation codes must expire after they are issued: batch {world.brand.actor}:{seq} "
        f"of campaign {CAMPAIGN} expires at {ts}, not after its time {ts}",
    )


def test_a_hash_twice_in_a_batch_or_again_in_a_later_batch_is_refused(world: World) -> None:
    seq = world.svc.ledger.next_seq(world.brand.actor)
    a, b = "a" * 64, "b" * 64

    def batch(codes: list[str], n: int = 0) -> Any:
        return commands.invitation_codes_issued(
            world.brand, CAMPAIGN, codes, expires_at=LATER, seq=seq + n, at=world.now
        )

    refused(
        world,
        lambda: world.c.gate.append(batch([a, b, a])),
        DuplicateInviteCodeError,
        f"code hash {a} of batch {world.brand.actor}:{seq} is in batch "
        f"{world.brand.actor}:{seq} itself of campaign {CAMPAIGN} already: each code is issued "
        "once",
    )
    world.c.gate.append(batch([a, b]))
    refused(
        world,
        lambda: world.c.gate.append(batch([b], 1)),
        DuplicateInviteCodeError,
        f"code hash {b} of batch {world.brand.actor}:{seq + 1} is in batch "
        f"{world.brand.actor}:{seq} of campaign {CAMPAIGN} already: each code is issued once",
    )


def test_a_member_who_joined_already_keeps_the_code_unused(world: World) -> None:
    code = issue(world, 1).codes[0]
    refused(
        world,
        lambda: world.c.join(world.ana, CAMPAIGN, code=code),
        AlreadyJoinedError,
        f"member {world.ana.actor} joined campaign {CAMPAIGN} already",
    )
    world.c.join(world.dee, CAMPAIGN, code=code)  # still unused


def test_a_blocked_person_cannot_join_with_a_code(world: World) -> None:
    code = issue(world, 1).codes[0]
    world.c.block(world.brand, CAMPAIGN, world.dee.actor, "spam")
    refused(
        world,
        lambda: world.c.join(world.dee, CAMPAIGN, code=code),
        MemberBlockedError,
        f"member {world.dee.actor} is blocked in campaign {CAMPAIGN} (spam)",
    )


def test_no_codes_after_the_close(world: World) -> None:
    world.c.close_campaign(world.brand, CAMPAIGN)
    refused(
        world,
        lambda: issue(world, 1),
        CampaignClosedError,
        f"campaign {CAMPAIGN} is closed: InvitationCodesIssued is refused",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"guidelines": "g", "code": None}, "field 'code' must be an invitation code like"),
        ({"code": "ABCDE-FGHIJ-KLMNO-PQRST-UVWXY"}, "missing field(s): guidelines"),
        ({"guidelines": "g", "code": "abcde-fghij-klmno-pqrst-uvwxy"}, "field 'code' must be"),
        ({"guidelines": "g", "code": "ABCDEFGHIJKLMNOPQRSTUVWXY"}, "field 'code' must be"),
        ({"guidelines": "g", "code": "A", "x": 1}, "unexpected field(s): x"),
    ],
)
def test_a_join_whose_code_is_not_canonical_is_malformed(
    world: World, body: dict[str, Any], message: str
) -> None:
    from ledger.envelope import sign_envelope

    if "guidelines" in body:
        body = {**body, "guidelines": world.c.campaign(CAMPAIGN).guidelines}
    seq = world.svc.ledger.next_seq(world.dee.actor)
    env = sign_envelope(world.dee, "MemberJoined", body, seq=seq, campaign=CAMPAIGN)
    before = (world.size(), state_of(world))
    with pytest.raises(MalformedBodyError) as raised:
        world.c.gate.append(env)
    assert message in str(raised.value)
    assert (world.size(), state_of(world)) == before


@pytest.mark.parametrize(
    ("attempt", "message"),
    [
        (
            lambda w: w.c.join(w.dee, CAMPAIGN, code="ABCDE"),
            "an invitation code is 25 letters A-Z and digits 2-7, like "
            "ABCDE-FGHIJ-KLMNO-PQRST-UVWXY (dashes, spaces and case do not matter); the code "
            f"given for campaign {CAMPAIGN} has 5 characters and is not one",
        ),
        (
            lambda w: issue(w, 0),
            f"issue at least one invitation code for campaign {CAMPAIGN}, not 0",
        ),
        (
            lambda w: issue(w, 1, label="Spring Mailing"),
            "InvitationCodesIssued body: field 'label' must be a code of 1-48 characters "
            "[a-z0-9-], got 'Spring Mailing'",
        ),
    ],
)
def test_the_verbs_refuse_what_cannot_be_a_code_or_a_batch(
    world: World, attempt: Callable[[World], Any], message: str
) -> None:
    refused(world, lambda: attempt(world), MalformedBodyError, message)


# -- single use under concurrency --------------------------------------------------------------


def race(gates: list[CampaignApp], envelopes: list[Any]) -> list[Any]:
    """Append ``envelopes[i]`` through ``gates[i]``, all at once; each outcome in order."""
    start = threading.Barrier(len(gates))
    outcomes: list[Any] = [None] * len(gates)

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = gates[i].append(envelopes[i])
        except DomainError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(gates))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def one_won(outcomes: list[Any]) -> None:
    won = [o for o in outcomes if isinstance(o, int)]
    lost = [o for o in outcomes if not isinstance(o, int)]
    assert len(won) == 1, outcomes
    assert [type(o) for o in lost] == [InviteCodeUsedError] * (len(outcomes) - 1), outcomes


def test_two_concurrent_joins_with_one_code_admit_exactly_one(world: World) -> None:
    guidelines = world.c.campaign(CAMPAIGN).guidelines
    for n, code in enumerate(issue(world, 3).codes):
        people = [newcomer(world, 401 + 2 * n), newcomer(world, 402 + 2 * n)]
        joins = [
            commands.member_joined(k, CAMPAIGN, guidelines, code=code, seq=2, at=world.now)
            for k in people
        ]
        one_won(race([world.c.gate, world.c.gate], joins))


def test_two_servers_racing_with_one_code_admit_exactly_one(world: World, store_url: str) -> None:
    """Two gates on one database (two server processes): the conditional append makes the
    loser catch up, judge again and see the code used."""
    guidelines = world.c.campaign(CAMPAIGN).guidelines
    codes = issue(world, 4).codes
    with bootstrap(Settings(database_url=store_url, verify_threads=1)) as other:
        for n, code in enumerate(codes):
            people = [newcomer(world, 451 + 2 * n), newcomer(world, 452 + 2 * n)]
            joins = [
                commands.member_joined(k, CAMPAIGN, guidelines, code=code, seq=2, at=world.now)
                for k in people
            ]
            other.campaigns.gate.catch_up()  # both gates start from the same position
            one_won(race([world.c.gate, other.campaigns.gate], joins))
        assert other.ledger.size() == world.size()
        used = other.campaigns.gate.read(
            lambda s: sum(v.used for k, v in s.invite_codes.items() if k[0] == CAMPAIGN)
        )
    assert used == len(codes)


# -- over HTTP: a person with a code and no key yet ----------------------------------------------


def test_a_never_registered_person_with_a_code_joins_in_one_batch(world: World) -> None:
    code = issue(world, 1).codes[0]
    eve = seeded_key(501)
    guidelines = world.c.campaign(CAMPAIGN).guidelines
    batch = [
        registration(eve),
        commands.member_joined(eve, CAMPAIGN, guidelines, code=code, seq=2, at=world.now),
    ]
    world.c.gate.append_batch(batch, registration=Registration.WITH_FIRST_ACT)
    assert world.c.gate.read(lambda s: s.memberships[(CAMPAIGN, eve.actor)].joined)


def test_over_http_a_code_admits_a_newcomer_and_a_wrong_one_writes_nothing(
    world: World,
) -> None:
    from api.http.app import create_app

    code = issue(world, 1).codes[0]
    guidelines = world.c.campaign(CAMPAIGN).guidelines
    eve, fay = seeded_key(502), seeded_key(503)

    def lines(key: SigningKey, presented: str) -> bytes:
        join = commands.member_joined(
            key, CAMPAIGN, guidelines, code=presented, seq=2, at=world.now
        )
        return registration(key).canonical_bytes() + b"\n" + join.canonical_bytes()

    with TestClient(create_app(world.svc)) as client:
        before = world.size()
        wrong = client.post("/events/batch", content=lines(fay, new_code()))
        assert wrong.status_code == 404
        assert wrong.json() == {
            "error": "UnknownInviteCode",
            "detail": f"event 1 of the batch: the invitation code member {fay.actor} presented "
            f"is not one the brand of campaign {CAMPAIGN} issued",
            "ids": {"campaign": CAMPAIGN, "member": fay.actor, "index": 1},
        }
        assert world.size() == before
        right = client.post("/events/batch", content=lines(eve, code))
        assert right.status_code == 201, right.json()
        assert right.json() == {"positions": [before, before + 1]}
        again = client.post("/events/batch", content=lines(fay, code))
        assert (again.status_code, again.json()["error"]) == (409, "InviteCodeUsed")
    assert world.c.gate.read(lambda s: s.memberships[(CAMPAIGN, eve.actor)].joined)


# -- snapshots and read models ---------------------------------------------------------------------


def test_the_code_state_survives_a_snapshot_round_trip(world: World) -> None:
    issued = issue(world, 3)
    world.c.join(world.dee, CAMPAIGN, code=issued.codes[0])
    assert any(path.name == "invite_codes.py" for path in STATE_SOURCES), (
        "the code's source is in the snapshot format: a change to it rebuilds old snapshots"
    )
    svc = world.svc
    snapshots = SnapshotStore(svc.settings.database_url, engine=svc.engine)
    CampaignApp(svc.ledger, snapshots=snapshots, snapshot_every=1).catch_up()  # saves one
    loaded = CampaignApp(svc.ledger, snapshots=snapshots)
    loaded.catch_up()
    assert loaded.loaded_snapshot == world.size(), "loaded, not replayed"
    full = CampaignApp(svc.ledger)
    full.catch_up()
    assert loaded.state.code_batches == full.state.code_batches
    assert loaded.state.invite_codes == full.state.invite_codes
    used = invite_code_hash(CAMPAIGN, issued.codes[0])
    assert loaded.state.invite_codes[(CAMPAIGN, used)].used
    # The loaded state judges as the replayed one: the used code refused, a fresh one admits.
    guidelines = world.c.campaign(CAMPAIGN).guidelines
    gil = newcomer(world, 601)
    with pytest.raises(InviteCodeUsedError):
        loaded.append(
            commands.member_joined(
                gil, CAMPAIGN, guidelines, code=issued.codes[0], seq=2, at=world.now
            )
        )
    loaded.append(
        commands.member_joined(gil, CAMPAIGN, guidelines, code=issued.codes[1], seq=2, at=world.now)
    )


def test_the_read_models_count_a_code_join_as_a_member(world: World) -> None:
    from projections.state import LogState

    code = issue(world, 1).codes[0]
    world.c.join(world.dee, CAMPAIGN, code=code)
    state = LogState()
    for record in world.svc.ledger.store.read(0, world.size()):
        state.apply(record)
    campaign = state.campaign(CAMPAIGN)
    assert campaign.members[world.dee.actor].joined_at is not None
    assert campaign.members[world.dee.actor].invited_at is None, "a code is no vouching"
    assert campaign.ignored == []
    assert campaign.joined == 4


# -- the property: a code admits exactly once, and nothing else admits -----------------------------

BRAND = "B" * 43
PEOPLE = [c * 43 for c in "acdefg"]
TS = "2026-01-10T00:00:00Z"
GUIDE = "9" * 64
codes_ = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=25, max_size=25).map(normalize_code)


def _fact(type_: str, actor: str, seq: int, body: dict[str, Any]) -> Recorded:
    return Recorded(type_, actor, seq, TS, "camp-one", body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    issued=st.lists(codes_, min_size=1, max_size=6, unique=True),
    strangers=st.lists(codes_, max_size=4),
    attempts=st.lists(st.tuples(st.sampled_from(PEOPLE), st.integers(0, 9)), max_size=14),
)
def test_every_issued_code_admits_exactly_once_and_no_other_code_admits(
    issued: list[str], strangers: list[str], attempts: list[tuple[str, int]]
) -> None:
    state = State()
    handle(state, _fact("CampaignOpened", BRAND, 2, {
        "title": "t", "guidelines": GUIDE, "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2026-02-01T00:00:00Z", "membership": "invite-only", "currency": "EUR",
        "pool": 0, "policy": {"name": "cocred-fair", "version": 2, "weights": {"support": 1,
        "comment": 3, "save": 2, "share": 4}, "reuse_weight": 20, "remix_default_share": "3/10",
        "support_threshold": 0, "per_person_cap": None, "min_payout": 0, "weight_budget": 20,
        "contribution_cap": 7, "dependent_bound": "1/2"},
    }))  # fmt: skip
    handle(state, _fact("InvitationCodesIssued", BRAND, 3, {
        "expires_at": "2026-01-20T00:00:00Z", "label": None,
        "codes": [invite_code_hash("camp-one", c) for c in issued],
    }))  # fmt: skip
    pool = issued + [c for c in strangers if c not in issued]
    used: set[str] = set()
    joined: set[str] = set()
    for seq, (person, pick) in enumerate(attempts, start=2):
        code = pool[pick % len(pool)]
        fact = _fact("MemberJoined", person, seq, {"guidelines": GUIDE, "code": code})
        try:
            handle(state, fact)
            accepted = True
        except DomainError as exc:
            accepted = False
            expected = (
                AlreadyJoinedError if person in joined
                else UnknownInviteCodeError if code not in issued
                else InviteCodeUsedError
            )  # fmt: skip
            assert type(exc) is expected
        admits = person not in joined and code in issued and code not in used
        assert accepted is admits
        if accepted:
            used.add(code)
            joined.add(person)
    assert {k[1] for k, v in state.invite_codes.items() if v.used} == {
        invite_code_hash("camp-one", c) for c in used
    }
