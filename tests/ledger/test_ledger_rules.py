"""The append rules, told as scenarios; each refusal asserts its type, message, and no write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.actors import KEY_REGISTERED, KEY_REVOKED, KEY_ROTATED, rotation_statement
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import (
    KeyEventError,
    MalformedEventError,
    ReplayError,
    RevokedKeyError,
    SequenceGapError,
    SignatureError,
    UnknownKeyError,
)
from ledger.keys import SigningKey, b64url, public_jwk
from ledger.ledger import BatchTooLargeError, Ledger
from tests.support import registration, seeded_key

ANA, BEN = seeded_key(1), seeded_key(2)
EARLIER = datetime(2026, 1, 1, tzinfo=UTC)


def note(key: SigningKey, seq: int, text: str = "hello") -> Envelope:
    return sign_envelope(key, "NoteShared", {"text": text}, seq=seq)


def rotate(
    key: SigningKey, seq: int, new: SigningKey | None = None, proof_by: SigningKey | None = None
) -> tuple[Envelope, SigningKey]:
    new = new or SigningKey.generate().for_actor(key.actor)
    proof = (proof_by or new).sign(rotation_statement(key.actor, seq, new.key_id))
    env = sign_envelope(
        key, KEY_ROTATED, {"jwk": public_jwk(new.public_bytes), "proof": b64url(proof)}, seq=seq
    )
    return env, new


def refused(ledger: Ledger, item, error: type, message: str) -> None:
    before = ledger.size()
    with pytest.raises(error) as caught:
        ledger.append(item)
    assert type(caught.value) is error
    assert caught.value.detail == message
    assert ledger.size() == before, "a refused event must not be written"


def test_an_actor_registers_then_appends_and_gets_positions(ledger: Ledger) -> None:
    assert ledger.append(registration(ANA)) == 0
    assert ledger.append(note(ANA, 2).canonical_bytes()) == 1
    assert ledger.append(note(ANA, 3).to_json()) == 2
    assert ledger.next_seq(ANA.actor) == 4
    assert ledger.event(1).seq == 2 and ledger.event(2).seq == 3


def test_the_stored_bytes_are_the_canonical_signed_envelope(ledger: Ledger) -> None:
    env = registration(ANA)
    ledger.append(env)
    assert ledger.event(0).data == env.canonical_bytes()


def test_rejects_a_different_event_at_a_used_seq(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    ledger.append(note(ANA, 2))
    # The same bytes again are answered with their position (test_idempotent_append).
    refused(
        ledger,
        note(ANA, 2, "other"),
        ReplayError,
        f"actor {ANA.actor}: seq 2 is already used (last seq is 2)",
    )


def test_rejects_a_seq_that_skips_ahead(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    refused(
        ledger,
        note(ANA, 3),
        SequenceGapError,
        f"actor {ANA.actor}: seq 3 skips ahead; the next seq must be 2",
    )


def test_rejects_an_unregistered_actor(ledger: Ledger) -> None:
    refused(
        ledger,
        note(ANA, 1),
        UnknownKeyError,
        f"actor {ANA.actor} is not registered (an actor's first event is KeyRegistered)",
    )


def test_rejects_a_key_that_is_not_the_actors(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    impostor = BEN.for_actor(ANA.actor)
    refused(
        ledger,
        note(impostor, 2),
        UnknownKeyError,
        f"actor {ANA.actor}: key {BEN.key_id} is not a key of this actor",
    )


def test_rejects_a_signature_that_does_not_verify(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    forged = Envelope.from_json(
        {**note(ANA, 2, "mine").to_json(), "sig": note(ANA, 2, "theirs").sig}
    )
    refused(
        ledger,
        forged,
        SignatureError,
        f"actor {ANA.actor} seq 2: signature does not verify with key {ANA.key_id}",
    )


def test_rejects_malformed_input_before_anything_else(ledger: Ledger) -> None:
    refused(
        ledger,
        b'{"v": 1}',
        MalformedEventError,
        "envelope: missing field(s): type, actor, key, seq, ts, campaign, body, sig",
    )


def test_rejects_a_timestamp_far_in_the_future(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    env = sign_envelope(ANA, "NoteShared", {}, seq=2, ts=later)
    refused(
        ledger,
        env,
        MalformedEventError,
        f"envelope: field 'ts' {env.ts} is more than 300 s ahead of the ledger's clock",
    )


def test_a_registration_must_name_its_own_key(ledger: Ledger) -> None:
    env = sign_envelope(ANA, "KeyRegistered", {"jwk": public_jwk(BEN.public_bytes)}, seq=1)
    refused(
        ledger,
        env,
        KeyEventError,
        f"actor {ANA.actor}: KeyRegistered must name its own key as actor and key "
        f"(thumbprint {BEN.key_id})",
    )


def test_a_registration_with_a_later_seq_is_a_gap(ledger: Ledger) -> None:
    env = sign_envelope(ANA, "KeyRegistered", {"jwk": public_jwk(ANA.public_bytes)}, seq=2)
    refused(
        ledger, env, SequenceGapError, f"actor {ANA.actor}: KeyRegistered must have seq 1, got 2"
    )


def test_registering_twice_is_a_replay(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    again = sign_envelope(
        ANA, KEY_REGISTERED, {"jwk": public_jwk(ANA.public_bytes)}, seq=1, ts=EARLIER
    )
    refused(
        ledger,
        again,
        ReplayError,
        f"actor {ANA.actor}: seq 1 is already used (last seq is 1)",
    )


def test_after_rotation_old_events_stay_valid_and_the_old_key_is_refused(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    ledger.append(note(ANA, 2))
    env, new = rotate(ANA, 3)
    ledger.append(env)
    ledger.append(note(new, 4))
    refused(
        ledger,
        note(ANA, 5),
        RevokedKeyError,
        f"actor {ANA.actor}: key {ANA.key_id} was rotated away at seq 3, before seq 5",
    )
    assert ledger.actor_state(ANA.actor).current.key == new.key_id


def test_a_rotation_without_proof_of_possession_is_refused(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    env, _ = rotate(ANA, 2, new=BEN.for_actor(ANA.actor), proof_by=ANA)
    refused(
        ledger,
        env,
        SignatureError,
        f"actor {ANA.actor} seq 2: KeyRotated proof of possession: signature does not verify",
    )


def test_rotating_back_to_an_earlier_key_is_refused(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    env, new = rotate(ANA, 2)
    ledger.append(env)
    back, _ = rotate(new, 3, new=ANA)
    refused(
        ledger,
        back,
        KeyEventError,
        f"actor {ANA.actor}: key {ANA.key_id} was already used by this actor",
    )


def test_a_revoked_key_can_sign_nothing_more(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    ledger.append(
        sign_envelope(ANA, KEY_REVOKED, {"key": ANA.key_id, "reason": "lost laptop"}, seq=2)
    )
    refused(
        ledger,
        note(ANA, 3),
        RevokedKeyError,
        f"actor {ANA.actor}: key {ANA.key_id} was revoked at seq 2, before seq 3",
    )


def test_a_revocation_must_name_its_signing_key(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    refused(
        ledger,
        sign_envelope(ANA, KEY_REVOKED, {"key": BEN.key_id}, seq=2),
        KeyEventError,
        f"actor {ANA.actor}: KeyRevoked must name the key that signs it ({ANA.key_id})",
    )


def test_key_event_bodies_are_checked(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    refused(
        ledger,
        sign_envelope(ANA, KEY_REVOKED, {"key": ANA.key_id, "why": 1}, seq=2),
        KeyEventError,
        f"actor {ANA.actor}: KeyRevoked body must have key (optional: reason)",
    )


def test_a_batch_is_all_or_nothing_and_names_the_bad_event(ledger: Ledger) -> None:
    batch = [registration(ANA), note(ANA, 2), registration(BEN), note(BEN, 3)]
    with pytest.raises(SequenceGapError) as caught:
        ledger.append_batch(batch)
    assert caught.value.detail == (
        f"event 3 of the batch: actor {BEN.actor}: seq 3 skips ahead; the next seq must be 2"
    )
    assert caught.value.ids["index"] == 3
    assert ledger.size() == 0
    assert ledger.append_batch(batch[:3]) == [0, 1, 2]


def test_a_batch_with_one_bad_signature_writes_nothing(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    batch = [note(ANA, s) for s in range(2, 202)]
    batch[150] = Envelope.from_json({**batch[150].to_json(), "sig": batch[0].sig})
    with pytest.raises(SignatureError) as caught:
        ledger.append_batch(batch)
    assert caught.value.detail == (
        f"event 150 of the batch: actor {ANA.actor} seq 152: "
        f"signature does not verify with key {ANA.key_id}"
    )
    assert ledger.size() == 1


def test_a_batch_over_the_limit_is_refused(ledger: Ledger) -> None:
    ledger.max_batch = 2
    with pytest.raises(BatchTooLargeError) as caught:
        ledger.append_batch([registration(ANA), note(ANA, 2), note(ANA, 3)])
    assert caught.value.detail == "a batch holds at most 2 events, got 3"
    assert ledger.size() == 0


def test_check_batch_writes_nothing_and_carries_state_across_batches(ledger: Ledger) -> None:
    overlay = ledger.check_batch([registration(ANA), note(ANA, 2)])
    overlay = ledger.check_batch([note(ANA, 3)], overlay)
    assert overlay[ANA.actor].seq == 3
    assert ledger.size() == 0


def test_a_second_ledger_on_the_same_store_sees_the_first_ones_appends(ledger: Ledger) -> None:
    other = Ledger(ledger.store, verify_threads=1)
    ledger.append(registration(ANA))
    other.append(note(ANA, 2))
    # ledger's cache still says seq 1; the store's (actor, seq) key refuses the copy.
    refused(
        ledger,
        note(ANA, 2, "again"),
        ReplayError,
        f"actor {ANA.actor}: seq 2 is already used (taken by another writer)",
    )
    assert ledger.append(note(ANA, 3)) == 2


def test_a_conditional_append_is_refused_when_the_log_moved(ledger: Ledger) -> None:
    from ledger.ledger import LogMovedError

    ledger.append(registration(ANA))
    size = ledger.size()
    ledger.append(registration(BEN))  # someone else appends after we looked
    with pytest.raises(LogMovedError) as caught:
        ledger.append_batch([note(ANA, 2)], expected_size=size)
    assert caught.value.detail == (
        "the log grew from 1 to 2 events while this batch was checked; check again"
    )
    assert ledger.size() == 2
    assert ledger.append_batch([note(ANA, 2)], expected_size=2) == [2]


def test_a_replay_under_a_condition_that_holds_is_still_a_replay(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    ledger.append(note(ANA, 2))
    stale = Ledger(ledger.store, verify_threads=1)
    stale._states[ANA.actor] = ledger.actor_state(ANA.actor).__class__(
        ANA.actor, 1, ledger.actor_state(ANA.actor).keys
    )
    with pytest.raises(ReplayError) as caught:
        stale.append_batch([note(ANA, 2, "again")], expected_size=2)
    assert caught.value.detail == (
        f"actor {ANA.actor}: seq 2 is already used (taken by another writer)"
    )


def test_a_check_callback_can_refuse_and_nothing_is_written(ledger: Ledger) -> None:
    def no_notes(envelopes) -> None:
        if any(e.type == "NoteShared" for e in envelopes):
            raise KeyEventError("notes are closed")

    ledger.append(registration(ANA))
    with pytest.raises(KeyEventError, match="^notes are closed$"):
        ledger.append_batch([note(ANA, 2)], check=no_notes)
    assert ledger.size() == 1
