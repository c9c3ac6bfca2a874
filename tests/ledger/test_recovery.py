"""Recovery of a lost key: the recovery key, the delayed rotation it signs, the cancel, and
KeyCompromised, told as scenarios; each refusal asserts its type, message and no write.
The last tests hold the fast paths (bytes through ``fast_parse``, batches on worker
processes, ``verify_log`` on workers) to what the strict path decides."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.actors import (
    KEY_COMPROMISED,
    KEY_REGISTERED,
    KEY_REVOKED,
    KEY_ROTATED,
    RECOVERY_CANCELLED,
    RECOVERY_DELAY,
    RECOVERY_KEY_REGISTERED,
    RECOVERY_REQUESTED,
    recovery_statement,
    rotation_statement,
)
from ledger.envelope import Envelope, format_ts, sign_envelope
from ledger.errors import (
    BadRecoveryCodeError,
    CompromiseInFutureError,
    KeyEventError,
    LedgerError,
    NoPendingRecoveryError,
    NoRecoveryKeyError,
    RecoveredKeyError,
    RecoveryBackdatedError,
    RecoveryKeyMisuseError,
    RecoveryNotInEffectError,
    RecoveryPendingError,
    RevokedKeyError,
    SignatureError,
    UnknownKeyError,
    WrongRecoveryKeyError,
)
from ledger.keys import SigningKey, b64url, public_jwk
from ledger.ledger import Ledger
from ledger.recovery import Disowned, read_recovery_code, recovery_code
from ledger.store import LogStore, open_store
from ledger.verify import verify_log
from tests.ledger.test_ledger_rules import refused
from tests.support import seeded_key

ANA, ANA_RECOVERY, ANA_NEW = seeded_key(31), seeded_key(32), seeded_key(33)
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
EFFECTIVE = T0 + RECOVERY_DELAY


class Clock:
    """The ledger's clock, set by the test (no sleeping over 72 hours)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def led(store: LogStore, clock: Clock) -> Iterator[Ledger]:
    ledger = Ledger(store, verify_threads=2, clock=clock)
    yield ledger
    ledger.close()


def signup(key: SigningKey, recovery: SigningKey | None, ts: datetime = T0) -> Envelope:
    """KeyRegistered, with the recovery key's public key when given."""
    body: dict[str, Any] = {"jwk": public_jwk(key.public_bytes)}
    if recovery is not None:
        body["recovery"] = public_jwk(recovery.public_bytes)
    return sign_envelope(key, KEY_REGISTERED, body, seq=1, ts=ts)


def note(key: SigningKey, seq: int, ts: datetime, actor: str | None = None) -> Envelope:
    signer = key.for_actor(actor or ANA.actor)
    return sign_envelope(signer, "NoteShared", {"text": f"note {seq}"}, seq=seq, ts=ts)


def request(
    recovery: SigningKey,
    seq: int,
    new: SigningKey,
    ts: datetime = T0,
    actor: str | None = None,
    proof_by: SigningKey | None = None,
) -> Envelope:
    """RecoveryRequested for ``new``, signed by ``recovery`` (with ``new``'s proof)."""
    actor = actor or ANA.actor
    proof = (proof_by or new).sign(recovery_statement(actor, seq, new.key_id))
    body = {"jwk": public_jwk(new.public_bytes), "proof": b64url(proof)}
    return sign_envelope(recovery.for_actor(actor), RECOVERY_REQUESTED, body, seq=seq, ts=ts)


def key_event(
    key: SigningKey, type_: str, body: dict[str, Any], seq: int, ts: datetime
) -> Envelope:
    return sign_envelope(key.for_actor(ANA.actor), type_, body, seq=seq, ts=ts)


def compromised(key: SigningKey, seq: int, old: str, since: str, ts: datetime) -> Envelope:
    return key_event(key, KEY_COMPROMISED, {"key": old, "since": since}, seq, ts)


def recovered(led: Ledger, clock: Clock) -> None:
    """Ana signs up with a recovery key, loses her key, and recovers (seqs 1-4)."""
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(note(ANA, 2, T0))
    led.append(request(ANA_RECOVERY, 3, ANA_NEW))
    clock.now = EFFECTIVE
    led.append(note(ANA_NEW, 4, EFFECTIVE))


# -- the recovery ------------------------------------------------------------------------------


def test_a_lost_key_is_recovered_after_the_delay_and_the_old_key_stops(
    led: Ledger, clock: Clock
) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(request(ANA_RECOVERY, 2, ANA_NEW))
    state = led.actor_state(ANA.actor)
    assert state is not None and state.pending is not None
    assert state.pending.key == ANA_NEW.key_id and state.pending.effective == EFFECTIVE
    # during the delay the current key still signs
    clock.now = T0 + timedelta(hours=1)
    led.append(note(ANA, 3, T0 + timedelta(hours=1)))
    clock.now = EFFECTIVE - timedelta(minutes=1)
    refused(
        led,
        note(ANA_NEW, 4, EFFECTIVE - timedelta(minutes=1)),
        RecoveryNotInEffectError,
        f"actor {ANA.actor}: the recovery requested at seq 2 takes effect at "
        f"{format_ts(EFFECTIVE)}; seq 4 by its key {ANA_NEW.key_id} is dated "
        f"{format_ts(EFFECTIVE - timedelta(minutes=1))}",
    )
    clock.now = EFFECTIVE
    assert led.append(note(ANA_NEW, 4, EFFECTIVE)) == 3
    state = led.actor_state(ANA.actor)
    assert state is not None and state.pending is None
    assert state.current is not None and state.current.key == ANA_NEW.key_id
    refused(
        led,
        note(ANA, 5, EFFECTIVE - timedelta(hours=2)),
        RecoveredKeyError,
        f"actor {ANA.actor}: key {ANA.key_id} was recovered away at seq 4, before seq 5",
    )
    led.append(note(ANA_NEW, 5, EFFECTIVE))
    report = verify_log(led.store, threads=1)
    assert report.ok and report.events == 5 and report.disowned == ()


def test_the_old_key_is_refused_for_an_event_dated_after_the_recovery_took_effect(
    led: Ledger, clock: Clock
) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(request(ANA_RECOVERY, 2, ANA_NEW))
    clock.now = EFFECTIVE + timedelta(minutes=1)
    refused(
        led,
        note(ANA, 3, EFFECTIVE),
        RecoveredKeyError,
        f"actor {ANA.actor}: key {ANA.key_id} was replaced by the recovery requested at seq "
        f"2, in effect from {format_ts(EFFECTIVE)}; seq 3 is dated {format_ts(EFFECTIVE)}",
    )


def test_the_current_key_cancels_a_recovery_and_the_new_key_never_signs(
    led: Ledger, clock: Clock
) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(request(ANA_RECOVERY, 2, ANA_NEW))
    clock.now = T0 + timedelta(hours=5)
    led.append(key_event(ANA, RECOVERY_CANCELLED, {}, 3, clock.now))
    assert led.actor_state(ANA.actor).pending is None  # type: ignore[union-attr]
    clock.now = EFFECTIVE
    refused(
        led,
        note(ANA_NEW, 4, EFFECTIVE),
        UnknownKeyError,
        f"actor {ANA.actor}: key {ANA_NEW.key_id} is not a key of this actor",
    )
    led.append(note(ANA, 4, EFFECTIVE))  # the kept key goes on signing
    # and the recovery key may try again later, with a fresh delay
    led.append(request(ANA_RECOVERY, 5, ANA_NEW, ts=EFFECTIVE))
    assert verify_log(led.store, threads=1).ok


def test_a_recovery_key_can_be_registered_after_the_first_key(led: Ledger, clock: Clock) -> None:
    led.append(signup(ANA, None))
    body = {"jwk": public_jwk(ANA_RECOVERY.public_bytes)}
    led.append(key_event(ANA, RECOVERY_KEY_REGISTERED, body, 2, T0))
    led.append(request(ANA_RECOVERY, 3, ANA_NEW))
    clock.now = EFFECTIVE
    led.append(note(ANA_NEW, 4, EFFECTIVE))
    assert led.actor_state(ANA.actor).current.key == ANA_NEW.key_id  # type: ignore[union-attr]


# -- refusals ----------------------------------------------------------------------------------


def test_a_recovery_without_a_recovery_key_is_refused(led: Ledger) -> None:
    led.append(signup(ANA, None))
    refused(
        led,
        request(ANA_RECOVERY, 2, ANA_NEW),
        NoRecoveryKeyError,
        f"actor {ANA.actor}: RecoveryRequested at seq 2 but the actor registered no recovery key",
    )


def test_a_recovery_signed_by_another_key_is_refused(led: Ledger) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    for signer in (ANA, seeded_key(34)):  # the current key, a stranger's
        refused(
            led,
            request(signer, 2, ANA_NEW),
            WrongRecoveryKeyError,
            f"actor {ANA.actor}: RecoveryRequested must be signed by the recovery key "
            f"{ANA_RECOVERY.key_id}, not {signer.key_id}",
        )


def test_a_second_request_while_one_is_pending_is_refused(led: Ledger) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(request(ANA_RECOVERY, 2, ANA_NEW))
    refused(
        led,
        request(ANA_RECOVERY, 3, seeded_key(35)),
        RecoveryPendingError,
        f"actor {ANA.actor}: the recovery requested at seq 2 (in effect from "
        f"{format_ts(EFFECTIVE)}) is pending; a second request waits until it is cancelled",
    )


def test_a_rotation_while_a_recovery_is_pending_is_refused(led: Ledger) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(request(ANA_RECOVERY, 2, ANA_NEW))
    new = seeded_key(38).for_actor(ANA.actor)
    proof = b64url(new.sign(rotation_statement(ANA.actor, 3, new.key_id)))
    body = {"jwk": public_jwk(new.public_bytes), "proof": proof}
    env = key_event(ANA, KEY_ROTATED, body, 3, T0)
    refused(
        led,
        env,
        RecoveryPendingError,
        f"actor {ANA.actor}: the recovery requested at seq 2 (in effect from "
        f"{format_ts(EFFECTIVE)}) is pending; cancel it before rotating the key",
    )


def test_a_cancel_with_nothing_pending_is_refused(led: Ledger) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    refused(
        led,
        key_event(ANA, RECOVERY_CANCELLED, {}, 2, T0),
        NoPendingRecoveryError,
        f"actor {ANA.actor}: RecoveryCancelled at seq 2 but no recovery is pending",
    )


def test_the_recovery_key_cannot_cancel_nor_sign_anything_else(led: Ledger) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(request(ANA_RECOVERY, 2, ANA_NEW))
    for env in (
        key_event(ANA_RECOVERY, RECOVERY_CANCELLED, {}, 3, T0),
        note(ANA_RECOVERY, 3, T0),
    ):
        refused(
            led,
            env,
            RecoveryKeyMisuseError,
            f"actor {ANA.actor}: the recovery key {ANA_RECOVERY.key_id} signs only "
            f"RecoveryRequested, not {env.type} (seq 3)",
        )


def test_a_backdated_request_is_refused(led: Ledger, clock: Clock) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    clock.now = EFFECTIVE  # a request dated three days ago would take effect at once
    early = request(ANA_RECOVERY, 2, ANA_NEW, ts=T0)
    for item in (early, early.canonical_bytes()):  # the strict parser, the fast one
        refused(
            led,
            item,
            RecoveryBackdatedError,
            f"actor {ANA.actor}: RecoveryRequested seq 2 is dated {format_ts(T0)}, more than "
            f"300 s before the ledger's clock; its delay runs from its ts, so it must be "
            f"dated now",
        )


def test_a_request_without_proof_of_possession_of_the_new_key_is_refused(led: Ledger) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    refused(
        led,
        request(ANA_RECOVERY, 2, ANA_NEW, proof_by=ANA_RECOVERY),
        SignatureError,
        f"actor {ANA.actor} seq 2: RecoveryRequested proof of possession: signature does "
        f"not verify",
    )


def test_a_request_for_a_key_the_actor_used_is_refused(led: Ledger) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    for new in (ANA, ANA_RECOVERY):
        refused(
            led,
            request(ANA_RECOVERY, 2, new),
            KeyEventError,
            f"actor {ANA.actor}: key {new.key_id} was already used by this actor",
        )


def test_a_recovery_key_that_is_the_actors_own_key_is_refused(led: Ledger) -> None:
    refused(
        led,
        signup(ANA, ANA),
        KeyEventError,
        f"actor {ANA.actor}: the recovery key {ANA.key_id} must not be a key of this actor",
    )
    bad = signup(ANA, None)
    bad_body = {**bad.body, "recovery": {"kty": "OKP"}}
    refused(
        led,
        sign_envelope(ANA, KEY_REGISTERED, bad_body, seq=1, ts=T0),
        KeyEventError,
        f"actor {ANA.actor}: KeyRegistered body.recovery must be an object with exactly crv, "
        f"kty and x",
    )


def test_a_revoked_actor_cannot_be_recovered(led: Ledger, clock: Clock) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(request(ANA_RECOVERY, 2, ANA_NEW))
    led.append(key_event(ANA, KEY_REVOKED, {"key": ANA.key_id}, 3, T0))
    clock.now = EFFECTIVE
    refused(
        led,
        note(ANA_NEW, 4, EFFECTIVE),
        UnknownKeyError,
        f"actor {ANA.actor}: key {ANA_NEW.key_id} is not a key of this actor",
    )
    refused(
        led,
        request(ANA_RECOVERY, 4, seeded_key(36), ts=EFFECTIVE),
        RevokedKeyError,
        f"actor {ANA.actor}: the actor's key was revoked at seq 3; there is nothing to recover",
    )


# -- KeyCompromised ----------------------------------------------------------------------------


def test_key_compromised_disowns_the_old_keys_events_after_since(led: Ledger, clock: Clock) -> None:
    led.append(signup(ANA, ANA_RECOVERY))
    led.append(note(ANA, 2, T0))
    led.append(request(ANA_RECOVERY, 3, ANA_NEW))
    clock.now = T0 + timedelta(hours=30)
    led.append(note(ANA, 4, clock.now))  # the thief, with the old key
    clock.now = EFFECTIVE
    led.append(note(ANA_NEW, 5, EFFECTIVE))
    since = format_ts(T0 + timedelta(hours=1))
    led.append(compromised(ANA_NEW, 6, ANA.key_id, since, EFFECTIVE))
    assert led.disowned(ANA.actor) == [Disowned(3, ANA.actor, 4, ANA.key_id, 6)]
    report = verify_log(led.store, threads=1)
    assert report.ok and report.disowned == (Disowned(3, ANA.actor, 4, ANA.key_id, 6),)
    assert str(report.disowned[0]) == (
        f"position 3: actor {ANA.actor} seq 4 by key {ANA.key_id} is disowned "
        f"(KeyCompromised at seq 6)"
    )


def test_key_compromised_with_since_in_the_future_is_refused(led: Ledger, clock: Clock) -> None:
    recovered(led, clock)
    later = format_ts(EFFECTIVE + timedelta(seconds=1))
    refused(
        led,
        compromised(ANA_NEW, 5, ANA.key_id, later, EFFECTIVE),
        CompromiseInFutureError,
        f"actor {ANA.actor}: KeyCompromised since {later} is later than the statement itself "
        f"({format_ts(EFFECTIVE)})",
    )


def test_key_compromised_must_name_a_retired_key_of_the_actor(led: Ledger, clock: Clock) -> None:
    recovered(led, clock)
    stranger = seeded_key(37).key_id
    cases = [
        (ANA_NEW.key_id, "names the current key {k}; rotate or recover away from it first"),
        (stranger, "names '{k}', which is not a key of this actor"),
    ]
    for named, says in cases:
        refused(
            led,
            compromised(ANA_NEW, 5, named, format_ts(T0), EFFECTIVE),
            KeyEventError,
            f"actor {ANA.actor}: KeyCompromised {says.format(k=named)}",
        )
    refused(
        led,
        compromised(ANA_NEW, 5, ANA.key_id, "yesterday", EFFECTIVE),
        KeyEventError,
        f"actor {ANA.actor}: KeyCompromised since must be an RFC 3339 UTC time like "
        f"2026-11-22T10:00:00Z, got 'yesterday'",
    )


def test_the_old_key_cannot_state_a_compromise_after_the_recovery(
    led: Ledger, clock: Clock
) -> None:
    recovered(led, clock)
    refused(
        led,
        compromised(ANA, 5, ANA_NEW.key_id, format_ts(T0), EFFECTIVE),
        RecoveredKeyError,
        f"actor {ANA.actor}: key {ANA.key_id} was recovered away at seq 4, before seq 5",
    )


# -- the printable code ------------------------------------------------------------------------


def test_a_recovery_code_reads_back_to_its_key_and_a_mistyped_one_is_refused() -> None:
    code = recovery_code(ANA_RECOVERY)
    assert len(code.replace("-", "")) == 55 and set(code) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567-"
    )
    back = read_recovery_code(code.lower().replace("-", " "), ANA.actor)
    assert back.key_id == ANA_RECOVERY.key_id and back.actor == ANA.actor
    typo = ("B" if code[0] != "B" else "C") + code[1:]
    cases = [
        (typo, "the recovery code's checksum does not match: a group was mistyped"),
        (code[:-5], "the recovery code must have 55 letters, got 51"),
        (
            code.replace(code[0], "1", 1),
            "the recovery code holds a character that is not a base32 letter (A-Z, 2-7)",
        ),
    ]
    for text, message in cases:
        with pytest.raises(BadRecoveryCodeError) as caught:
            read_recovery_code(text, ANA.actor)
        assert caught.value.detail == message


# -- the fast paths decide as the strict one ---------------------------------------------------

KEYS = [seeded_key(200 + n) for n in range(30)]
RECOVERIES = [seeded_key(300 + n) for n in range(30)]
NEWS = [seeded_key(400 + n) for n in range(30)]


def first_days() -> list[Envelope]:
    """30 actors with recovery keys; notes; every third asks for recovery, some cancel."""
    out = [signup(k, r) for k, r in zip(KEYS, RECOVERIES, strict=True)]
    out += [note(k, s, T0, actor=k.actor) for s in range(2, 9) for k in KEYS]
    for n, (k, r, new) in enumerate(zip(KEYS, RECOVERIES, NEWS, strict=True)):
        if n % 3 == 0:
            out.append(request(r, 9, new, actor=k.actor))
            out.append(note(k, 10, T0 + timedelta(minutes=2), actor=k.actor))
            if n % 6 == 0:
                cancel = sign_envelope(k, RECOVERY_CANCELLED, {}, seq=11, ts=T0)
                out.append(cancel)
    return out


def after_the_delay() -> list[Envelope]:
    """The recovered keys sign (the cancelled ones cannot), then state a compromise."""
    out: list[Envelope] = []
    for n, (k, new) in enumerate(zip(KEYS, NEWS, strict=True)):
        if n % 3 == 0 and n % 6 != 0:
            out.append(note(new, 11, EFFECTIVE, actor=k.actor))
            since = format_ts(T0 + timedelta(minutes=1))
            body = {"key": k.key_id, "since": since}
            out.append(
                sign_envelope(new.for_actor(k.actor), KEY_COMPROMISED, body, seq=12, ts=EFFECTIVE)
            )
    # every actor that was not recovering goes on with its first key
    for n, k in enumerate(KEYS):
        if n % 3:
            out += [note(k, s, EFFECTIVE, actor=k.actor) for s in range(9, 31)]
    return out


def run(ledger: Ledger, clock: Clock, batches: list[list[Any]]) -> list[Any]:
    """Each batch's positions or refusal (type, message, ids), in turn."""
    out: list[Any] = []
    for at, batch in batches:
        clock.now = at
        try:
            out.append(list(ledger.append_batch(batch)))
        except LedgerError as exc:
            out.append((type(exc), exc.detail, exc.ids))
    return out


FAULTS = {
    "none": lambda late: None,
    "an old key after the recovery": lambda late: late.insert(
        3, note(KEYS[3], 13, EFFECTIVE, actor=KEYS[3].actor)
    ),
    "a cancelled recovery's key": lambda late: late.insert(
        0, note(NEWS[0], 12, EFFECTIVE, actor=KEYS[0].actor)
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("form", ["bytes", "envelopes"])
def test_batches_on_workers_decide_recoveries_as_one_process(
    tmp_path: Path, fault: str, form: str
) -> None:
    early, late = first_days(), after_the_delay()
    FAULTS[fault](late)
    assert len(early) >= 256 and len(late) >= 64  # the first batch goes to the workers

    def items(envs: list[Envelope]) -> list[Any]:
        return [e.canonical_bytes() for e in envs] if form == "bytes" else list(envs)

    outcomes, stored, reports = [], [], []
    for threads in (1, 2):
        clock = Clock(T0)
        ledger = Ledger(
            open_store(str(tmp_path / f"{threads}.sqlite")), verify_threads=threads, clock=clock
        )
        outcomes.append(run(ledger, clock, [(T0, items(early)), (EFFECTIVE, items(late))]))
        stored.append([r.data for r in ledger.store.iterate()])
        reports.append([verify_log(ledger.store, threads=t, page=64) for t in (1, 2)])
        ledger.close()
    assert outcomes[0] == outcomes[1]
    assert stored[0] == stored[1]
    assert reports[0][0] == reports[0][1] == reports[1][0] == reports[1][1]
    assert reports[0][0].ok
    if fault == "none":
        assert isinstance(outcomes[0][1], list)
        recovered_actors = [k.actor for n, k in enumerate(KEYS) if n % 3 == 0 and n % 6 != 0]
        assert sorted(d.actor for d in reports[0][0].disowned) == sorted(recovered_actors)
        assert all(d.seq == 10 for d in reports[0][0].disowned)
    else:
        kind, message, ids = outcomes[0][1]
        expected = RecoveredKeyError if "old key" in fault else UnknownKeyError
        assert kind is expected and ids["index"] in (0, 3), message


def test_verify_names_a_stored_request_the_recovery_key_did_not_sign(tmp_path: Path) -> None:
    import sqlite3

    from ledger.store import EVENTS_TABLE

    path = tmp_path / "l.sqlite"
    clock = Clock(T0)
    ledger = Ledger(open_store(str(path)), verify_threads=1, clock=clock)
    recovered(ledger, clock)
    ledger.append(note(ANA_NEW, 5, EFFECTIVE))
    genuine = request(ANA_RECOVERY, 3, ANA_NEW)
    by_old_key = request(ANA, 3, ANA_NEW)
    forged = Envelope.from_json({**genuine.to_json(), "sig": by_old_key.sig})
    cases = [
        (
            by_old_key,
            "key state",
            f"actor {ANA.actor}: RecoveryRequested must be signed by "
            f"the recovery key {ANA_RECOVERY.key_id}, not {ANA.key_id}",
        ),
        (
            forged,
            "signature",
            f"actor {ANA.actor} seq 3: signature does not verify with key {ANA_RECOVERY.key_id}",
        ),
    ]
    for env, step, detail in cases:
        with sqlite3.connect(path) as db:
            db.execute(
                f"UPDATE {EVENTS_TABLE} SET state = ? WHERE rowid = ?", (env.canonical_bytes(), 3)
            )
        reports = [verify_log(ledger.store, threads=t, page=1) for t in (1, 2)]
        assert reports[0] == reports[1]
        assert reports[0].failure is not None
        assert (reports[0].failure.position, reports[0].failure.step) == (2, step)
        assert reports[0].failure.detail == detail
    ledger.close()


def test_a_monitor_keeps_the_recovery_state_across_runs(led: Ledger, clock: Clock) -> None:
    from ledger.provenance.monitor_state import _actor_from, _keys_json

    led.append(signup(ANA, ANA_RECOVERY))
    led.append(request(ANA_RECOVERY, 2, ANA_NEW))
    pending = led.actor_state(ANA.actor)
    clock.now = EFFECTIVE
    led.append(note(ANA_NEW, 3, EFFECTIVE))
    led.append(compromised(ANA_NEW, 4, ANA.key_id, format_ts(T0), EFFECTIVE))
    recovered_ = led.actor_state(ANA.actor)
    plain = signup(seeded_key(39), None)
    for state in (pending, recovered_):
        assert state is not None
        assert _actor_from(ANA.actor, state.seq, _keys_json(state)) == state
    # a state without recovery keeps the list form monitors wrote before
    led.append(plain)
    bare = led.actor_state(plain.actor)
    assert bare is not None and _keys_json(bare).startswith("[[")
    assert _actor_from(plain.actor, 1, _keys_json(bare)) == bare
