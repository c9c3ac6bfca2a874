"""Witnessed checkpoints against real, independent witness processes (``cocred witness serve``):
cosigning, the 409 resend, a split view refused, a witness down, receipts checked against a
"k of n" policy, and the server doing it all by itself after each checkpoint it cuts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.bootstrap import Services, bootstrap
from api.cli import app as cli
from api.http.app import create_app
from api.settings import Settings
from ledger.envelope import sign_envelope
from ledger.provenance.bundles import ProofBundle, verify_bundle
from ledger.provenance.cosignature import WitnessPolicy, WitnessQuorumError
from ledger.provenance.note import SignedCheckpoint
from ledger.provenance.witness_client import (
    WitnessEndpoint,
    WitnessForkError,
    Witnessing,
    WitnessRefusedError,
)
from tests.support import registration, seeded_key

runner = CliRunner()
ANA = seeded_key(2201)
ROOT = Path(__file__).resolve().parents[3]


def cocred(*args: str, code: int = 0):
    result = runner.invoke(cli, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def short(vkey: str) -> str:
    """``<name>+<key id>``: how messages name a witness (the base64 key may hold '+')."""
    return "+".join(vkey.split("+")[:2])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WitnessProcess:
    """``cocred witness serve`` in its own process, with its own key and state file."""

    def __init__(self, tmp: Path, name: str, log_vkey: str) -> None:
        self.name = name
        key = tmp / f"{name.replace('/', '_')}.key"
        self.vkey = json.loads(cocred("witness", "key", "--key", str(key), "--name", name).stdout)[
            "vkey"
        ]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "witness",
                "serve",
                "--key",
                str(key),
                "--name",
                name,
                "--log",
                log_vkey,
                "--state",
                str(tmp / f"{name.replace('/', '_')}.sqlite"),
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.about()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"witness did not start: {self.proc.stderr.read()}"
                    ) from None
                time.sleep(0.1)

    def about(self) -> dict:
        with urllib.request.urlopen(self.url + "/", timeout=5) as response:
            return json.load(response)

    @property
    def spec(self) -> str:
        return f"{self.url} {self.vkey}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def ledger_settings(tmp: Path, name: str = "log", **kw) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp}/{name}.sqlite",
        ledger_key_file=tmp / "ledger.key",
        rate_limits=False,
        **kw,
    )


def log_vkey(tmp: Path) -> str:
    with bootstrap(ledger_settings(tmp)) as svc:
        return svc.provenance.identity.vkey


def notes(svc: Services, first: int, last: int, text: str = "n") -> None:
    batch = [registration(ANA)] if first == 1 else []
    start = max(first, 2)
    batch += [
        sign_envelope(ANA, "NoteShared", {"n": s, "t": text}, seq=s) for s in range(start, last + 1)
    ]
    svc.ledger.append_batch(batch)


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[tuple[WitnessProcess, WitnessProcess]]:
    vkey = log_vkey(tmp_path)
    one = WitnessProcess(tmp_path, "witness.test/one", vkey)
    try:
        two = WitnessProcess(tmp_path, "witness.test/two", vkey)
    except BaseException:
        one.stop()
        raise
    try:
        yield one, two
    finally:
        one.stop()
        two.stop()


def test_two_independent_witnesses_cosign_and_every_receipt_carries_both(
    tmp_path: Path, witnesses
) -> None:
    one, two = witnesses
    settings = ledger_settings(tmp_path, witnesses=f"{one.spec}, {two.spec}")
    with bootstrap(settings) as svc:
        notes(svc, 1, 40)
        svc.provenance.checkpoints.cut()
        first = svc.witnessing.cosign()
        names = [e.name for e in settings.witness_endpoints()]
        assert (first.size, first.cosigned, first.failed) == (40, names, {})
        notes(svc, 41, 300)
        svc.provenance.checkpoints.cut()
        second = svc.witnessing.cosign()  # from size 40, with a consistency proof
        assert second.size == 300 and len(second.cosigned) == 2
        assert [w["size"] for w in (one.about()["logs"][0], two.about()["logs"][0])] == [300, 300]
        bundle = svc.provenance.bundle(17)
        vkey = svc.provenance.identity.vkey
    policy = WitnessPolicy.parse([one.vkey, two.vkey])
    verify_bundle(ProofBundle.from_json(bundle.to_json()), vkey, policy)
    assert len(policy.check(bundle.checkpoint)) == 2
    size = len(json.dumps(bundle.to_json(), separators=(",", ":")).encode())
    assert size <= 2200, size
    # the CLI checks the same receipt offline against the policy
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(bundle.to_json()))
    checked = json.loads(
        cocred(
            "verify-proof",
            str(path),
            "--ledger-key",
            vkey,
            "--witness",
            one.vkey,
            "--witness",
            two.vkey,
        ).stdout
    )
    assert checked["valid"] is True and len(checked["witnesses"]) == 2
    stranger = json.loads(
        cocred(
            "witness", "key", "--key", str(tmp_path / "s.key"), "--name", "witness.test/s"
        ).stdout
    )["vkey"]
    refused = cocred(
        "verify-proof",
        str(path),
        "--ledger-key",
        vkey,
        "--witness",
        one.vkey,
        "--witness",
        stranger,
        code=1,
    )
    assert refused.stderr.strip() == (
        f"error[WitnessQuorumNotMet]: checkpoint of size 300: 1 of the 2 trusted witnesses "
        f"cosigned it, the policy needs 2 (missing: {short(stranger)})"
    )
    lenient = cocred(
        "verify-proof",
        str(path),
        "--ledger-key",
        vkey,
        "--witness",
        one.vkey,
        "--witness",
        stranger,
        "--quorum",
        "1",
    )
    assert json.loads(lenient.stdout)["witnesses"][0]["witness"] == short(one.vkey)


def test_a_log_that_forgot_the_witness_size_resends_from_the_409_answer(
    tmp_path: Path, witnesses
) -> None:
    one, _ = witnesses
    with bootstrap(ledger_settings(tmp_path, witnesses=one.spec)) as svc:
        notes(svc, 1, 30)
        svc.provenance.checkpoints.cut()
        svc.witnessing.cosign()
        with svc.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM cocred_witness_sizes"))
        notes(svc, 31, 90)
        svc.provenance.checkpoints.cut()
        result = svc.witnessing.cosign()  # old 0 -> 409 "30" -> old 30 + proof -> 200
        assert result.cosigned == [svc.witnessing.clients[0].endpoint.name]
        assert one.about()["logs"][0]["size"] == 90


def test_a_witness_shown_another_history_refuses_it_and_keeps_the_evidence(
    tmp_path: Path, witnesses
) -> None:
    one, _ = witnesses
    with bootstrap(ledger_settings(tmp_path, witnesses=one.spec)) as svc:
        notes(svc, 1, 50)
        svc.provenance.checkpoints.cut()
        svc.witnessing.cosign()
    # The same ledger key, another history: a split view shown to the same witness.
    endpoint = WitnessEndpoint.parse(one.spec)
    with bootstrap(ledger_settings(tmp_path, "forked")) as other:
        notes(other, 1, 80, text="rewritten")
        other.provenance.checkpoints.cut()
        witnessing = Witnessing(other.provenance.checkpoints, [endpoint])
        result = witnessing.cosign()
        assert result.failed[endpoint.name]["code"] == "WitnessRefused"
        assert result.failed[endpoint.name]["detail"].startswith(
            f"witness {endpoint.name} says the checkpoint is not consistent with what it "
            f"cosigned before (HTTP 422): "
        )
        client = witnessing.clients[0]
        signed = other.provenance.checkpoints.latest().signed
        with pytest.raises(WitnessRefusedError) as caught:
            client.add_checkpoint(
                signed, lambda old: other.provenance.tree.consistency(old, 80).path
            )
        assert caught.value.status == 422
        # a same-size checkpoint with another root: the witness answers its own size
        notes(other, 81, 81)
        with bootstrap(ledger_settings(tmp_path, "forked2")) as third:
            notes(third, 1, 50, text="again")
            third.provenance.checkpoints.cut()
            with pytest.raises(WitnessForkError) as fork:
                Witnessing(third.provenance.checkpoints, [endpoint]).clients[0].add_checkpoint(
                    third.provenance.checkpoints.latest().signed, lambda old: (), 50
                )
            assert fork.value.detail == (
                f"witness {endpoint.name} cosigned size 50 of "
                f"{third.provenance.identity.origin!r} with another root than this log's"
            )
        witnessing.close()
    assert one.about()["evidence"] == 3
    assert one.about()["logs"][0]["size"] == 50


def test_a_witness_that_is_down_is_backed_off_and_shown_while_the_other_cosigns(
    tmp_path: Path, witnesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = witnesses
    two.stop()
    settings = ledger_settings(tmp_path, witnesses=f"{one.spec}, {two.spec}", witness_quorum=1)
    with bootstrap(settings) as svc:
        notes(svc, 1, 10)
        svc.provenance.checkpoints.cut()
        result = svc.witnessing.cosign()
        name = svc.witnessing.clients[1].endpoint.name
        assert result.failed[name]["code"] == "WitnessUnavailable"
        assert result.failed[name]["detail"].startswith(
            f"witness {name} at {two.url} is unreachable: "
        )
        again = svc.witnessing.cosign()  # backing off: no request, the same reason
        assert again.failed[name]["detail"].startswith("backing off after: witness ")
        [_, down] = svc.witnessing.snapshot()
        assert down["consecutive_failures"] == 1 and down["last_error_code"] == "WitnessUnavailable"
        bundle = svc.provenance.bundle(3)
        vkey = svc.provenance.identity.vkey
        path = tmp_path / "r.json"
        path.write_text(json.dumps(bundle.to_json()))
        monkeypatch.setenv("COCRED_WITNESSES", settings.witnesses)  # what the CLI reads
        monkeypatch.setenv("COCRED_LEDGER_KEY_FILE", str(settings.ledger_key_file))
        submitted = cocred("witness", "submit", "--db", settings.database_url, code=1)
    verify_bundle(bundle, vkey, WitnessPolicy.parse([one.vkey, two.vkey], 1))
    with pytest.raises(WitnessQuorumError):
        verify_bundle(bundle, vkey, WitnessPolicy.parse([one.vkey, two.vkey]))
    assert submitted.stderr.strip().startswith(
        f"error[WitnessUnavailable]: witness {name} at {two.url} is unreachable: "
    )
    assert json.loads(submitted.stdout)["cosigned"] == [svc.witnessing.clients[0].endpoint.name]


def test_the_server_gets_each_checkpoint_cosigned_by_itself(
    tmp_path: Path, witnesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = witnesses
    settings = ledger_settings(
        tmp_path,
        witnesses=f"{one.spec}, {two.spec}",
        checkpoint_interval_seconds=0.2,
        checkpoint_poll_seconds=0.1,
    )
    with bootstrap(settings) as svc, TestClient(create_app(svc)) as client:
        notes(svc, 1, 25)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = client.get("/checkpoint")
            if response.status_code == 200:
                signed = SignedCheckpoint.from_text(response.text)
                if signed.checkpoint.size == 25 and len(signed.signatures) == 3:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"no cosigned checkpoint: {client.get('/checkpoint').text}")
        WitnessPolicy.parse([one.vkey, two.vkey]).check(signed)
        ready = client.get("/readyz").json()
        assert [w["cosigned_size"] for w in ready["witnesses"]] == [25, 25]
        assert ready["witnesses"][0]["url"] == one.url


def test_witness_settings_and_options_refuse_what_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not an http\\(s\\) URL"):
        Settings(witnesses="ftp://x w+00000000+AAAA")
    with pytest.raises(ValueError, match="expected '<submission URL> <witness verifier key>'"):
        Settings(witnesses="http://127.0.0.1:1")
    key = json.loads(
        cocred("witness", "key", "--key", str(tmp_path / "w.key"), "--name", "w.test/x").stdout
    )["vkey"]
    with pytest.raises(
        ValueError, match="witness_quorum is 2 but 1 witness\\(es\\) are configured"
    ):
        Settings(witnesses=f"http://127.0.0.1:1 {key}", witness_quorum=2)
    with bootstrap(ledger_settings(tmp_path, "empty")):
        pass  # a ledger with no witness configured
    nobody = cocred("witness", "submit", "--db", f"sqlite:///{tmp_path}/empty.sqlite", code=1)
    assert nobody.stderr.strip() == (
        "error[InvalidWitness]: no witness to submit to: pass --witness '<URL> <vkey>' or set "
        "COCRED_WITNESSES"
    )
    refused = cocred("witness", "submit", "--db", f"sqlite:///{tmp_path}/none.sqlite", code=1)
    assert refused.stderr.strip() == (
        f"error[StorageUnavailable]: no ledger database at {tmp_path}/none.sqlite"
    )
    quorum = cocred(
        "verify-proof", str(tmp_path / "x.json"), "--ledger-key", "k", "--quorum", "1", code=1
    )
    assert quorum.stderr.strip() == (
        "error[InvalidWitnessPolicy]: --quorum needs the --witness keys it counts"
    )
