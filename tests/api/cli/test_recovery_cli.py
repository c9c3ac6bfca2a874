"""``cocred keys register --with-recovery``, ``keys recovery new``, ``keys recover``,
``keys cancel-recovery`` and ``keys compromised``: a key lost and recovered from the printed
code, and each refusal as its one-line ``error[Code]: sentence`` with nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.actors import RECOVERY_DELAY, RECOVERY_REQUESTED, recovery_statement
from ledger.envelope import format_ts, sign_envelope
from ledger.keys import SigningKey, b64url, public_jwk
from ledger.ledger import Ledger
from ledger.recovery import read_recovery_code
from ledger.store import open_store
from tests.api.cli.test_campaign import cocred, refused


def run(*args: str) -> dict:
    return json.loads(cocred(*args).stdout)


def size(db: str) -> int:
    store = open_store(db)
    try:
        return store.size()
    finally:
        store.close()


def test_a_recovery_is_requested_with_the_code_and_cancelled_by_the_current_key(
    tmp_path: Path,
) -> None:
    db, key, new = f"sqlite:///{tmp_path}/r.sqlite", tmp_path / "ana.key", tmp_path / "new.key"
    actor = run("keys", "new", "--out", str(key))["actor"]
    signed_up = run("keys", "register", "--key", str(key), "--db", db, "--with-recovery")
    code = signed_up["recovery_code"]
    assert signed_up["type"] == "KeyRegistered" and len(code.replace("-", "")) == 55
    assert read_recovery_code(code, actor).key_id == signed_up["recovery_key"]
    asked = run("keys", "recover", "--actor", actor, "--recovery-code", code.lower(),
                "--new-key", str(new), "--db", db)  # fmt: skip
    assert asked["seq"] == 2 and asked["new_key"] == SigningKey.load(new).key_id
    assert asked["effective_at"] > format_ts(datetime.now(UTC) + RECOVERY_DELAY - timedelta(1))
    # a second request waits; the new key cannot sign before the delay
    again = tmp_path / "again.key"
    assert refused(
        "keys",
        "recover",
        "--actor",
        actor,
        "--recovery-code",
        code,
        "--new-key",
        str(again),
        "--db",
        db,
    ).startswith(  # fmt: skip
        f"error[RecoveryPending]: actor {actor}: the recovery requested at seq 2 (in effect "
        f"from {asked['effective_at']}) is pending; a second request waits until it is cancelled"
    )
    assert not again.exists()
    early = refused("keys", "cancel-recovery", "--key", str(new), "--db", db)
    assert early.startswith(
        f"error[RecoveryNotInEffect]: actor {actor}: the recovery requested at seq 2 takes "
        f"effect at {asked['effective_at']}; seq 3 by its key {asked['new_key']} is dated "
    )
    cancelled = run("keys", "cancel-recovery", "--key", str(key), "--db", db)
    assert (cancelled["type"], cancelled["seq"]) == ("RecoveryCancelled", 3)
    before = size(db)
    assert refused("keys", "cancel-recovery", "--key", str(key), "--db", db) == (
        f"error[NoPendingRecovery]: actor {actor}: RecoveryCancelled at seq 4 but no recovery "
        f"is pending"
    )
    assert size(db) == before
    # a fresh recovery key replaces the first
    renewed = run("keys", "recovery", "new", "--key", str(key), "--db", db)
    assert renewed["type"] == "RecoveryKeyRegistered" and renewed["recovery_code"] != code
    assert refused(
        "keys",
        "recover",
        "--actor",
        actor,
        "--recovery-code",
        code,
        "--new-key",
        str(again),
        "--db",
        db,
    ) == (  # fmt: skip
        f"error[WrongRecoveryKey]: actor {actor}: RecoveryRequested must be signed by the "
        f"recovery key {renewed['recovery_key']}, not {signed_up['recovery_key']}"
    )


def test_a_key_lost_and_recovered_then_its_thief_disowned(tmp_path: Path) -> None:
    db, key, new = f"sqlite:///{tmp_path}/l.sqlite", tmp_path / "ana.key", tmp_path / "new.key"
    actor = run("keys", "new", "--out", str(key))["actor"]
    code = run("keys", "register", "--key", str(key), "--db", db, "--with-recovery")[
        "recovery_code"
    ]
    # Three days ago (a ledger whose clock says so), the recovery was asked for ...
    then = datetime.now(UTC).replace(microsecond=0) - RECOVERY_DELAY - timedelta(minutes=1)
    recovery = read_recovery_code(code, actor)
    lost = SigningKey.generate().for_actor(actor)
    lost.save(new)
    proof = b64url(lost.sign(recovery_statement(actor, 2, lost.key_id)))
    body = {"jwk": public_jwk(lost.public_bytes), "proof": proof}
    ledger = Ledger(open_store(db), clock=lambda: then)
    ledger.append(sign_envelope(recovery, RECOVERY_REQUESTED, body, seq=2, ts=then))
    # ... and meanwhile whoever holds the old key signed with it
    thief = sign_envelope(SigningKey.load(key), "NoteShared", {"text": "mine"}, seq=3, ts=then)
    ledger.append(thief)
    ledger.close()
    # now the new key signs: the recovery is in effect, the old key is refused
    stated = run("keys", "compromised", "--key", str(new), "--old-key", SigningKey.load(key).key_id,
                 "--since", format_ts(then), "--db", db)  # fmt: skip
    assert (stated["type"], stated["seq"]) == ("KeyCompromised", 4)
    assert refused("keys", "cancel-recovery", "--key", str(key), "--db", db) == (
        f"error[KeyRecovered]: actor {actor}: key {SigningKey.load(key).key_id} was recovered "
        f"away at seq 4, before seq 5"
    )
    verified = run("verify", "--db", db, "--format", "json")
    assert verified["disowned"] == [
        {"position": 2, "actor": actor, "seq": 3, "key": SigningKey.load(key).key_id,
         "statement_seq": 4}
    ]  # fmt: skip
    text = cocred("verify", "--db", db, "--format", "text").stdout
    assert f"disowned: position 2: actor {actor} seq 3" in text
    run("checkpoint", "--db", db, "--format", "json")
    vkey = run("ledger-key", "--db", db, "--format", "json")["vkey"]
    audited = run("audit", "--db", db, "--ledger-key", vkey, "--format", "json")
    assert audited["passed"] is True and audited["disowned"] == [2]
    assert (
        "1 disowned: 1 events their actors disowned (KeyCompromised) at positions 2"
        in (audited["steps"])
    )
    future = format_ts(datetime.now(UTC) + timedelta(hours=1))
    assert refused(
        "keys",
        "compromised",
        "--key",
        str(new),
        "--old-key",
        SigningKey.load(key).key_id,
        "--since",
        future,
        "--db",
        db,
    ).startswith(  # fmt: skip
        f"error[CompromiseInFuture]: actor {actor}: KeyCompromised since {future} is later "
        f"than the statement itself"
    )


def test_recover_refuses_a_mistyped_code_and_an_actor_without_recovery(tmp_path: Path) -> None:
    db, key, new = f"sqlite:///{tmp_path}/m.sqlite", tmp_path / "ana.key", tmp_path / "new.key"
    actor = run("keys", "new", "--out", str(key))["actor"]
    run("keys", "register", "--key", str(key), "--db", db)
    other = f"sqlite:///{tmp_path}/other.sqlite"
    code = run("keys", "register", "--key", str(key), "--db", other, "--with-recovery")[
        "recovery_code"
    ]
    typo = ("B" if code[0] != "B" else "C") + code[1:]
    assert refused(
        "keys",
        "recover",
        "--actor",
        actor,
        "--recovery-code",
        typo,
        "--new-key",
        str(new),
        "--db",
        db,
    ) == (  # fmt: skip
        "error[BadRecoveryCode]: the recovery code's checksum does not match: a group was mistyped"
    )
    assert refused(
        "keys",
        "recover",
        "--actor",
        actor,
        "--recovery-code",
        code,
        "--new-key",
        str(new),
        "--db",
        db,
    ) == (  # fmt: skip
        f"error[NoRecoveryKey]: actor {actor}: RecoveryRequested at seq 2 but the actor "
        f"registered no recovery key"
    )
    assert not new.exists() and size(db) == 1
