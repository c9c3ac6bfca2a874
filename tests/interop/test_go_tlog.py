"""A tool not written here reads cocred's log: Go's ``golang.org/x/mod/sumdb/tlog`` and
``.../note`` check a ``cocred tiles export`` (``tests/interop/tlogcheck/main.go``).

The program verifies both checkpoints' signatures against the ledger's verifier key,
recomputes the tree from the tiles (authenticating each tile against the root), checks
every entry against its leaf with an inclusion proof, proves the older checkpoint
consistent with the newer, and checks cocred's own inclusion and consistency proofs as
``GET /proofs/…`` serves them. The HTTP tile routes serve the same bytes as the files.
A second program (``tests/interop/cosigcheck/main.go``) reads a checkpoint that witnesses
cosigned: the log's signature with Go's ``note`` (the cosignature lines must not disturb
it), each C2SP ``cosignature/v1`` line with Go's ``crypto/ed25519`` and the message format
written from the spec alone. Built with Debian's Go and ``golang-golang-x-mod-dev``,
offline (``.ci/run`` installs them).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.bootstrap import Services, bootstrap
from api.cli import app as cli
from api.http.app import create_app
from api.settings import Settings
from ledger.envelope import sign_envelope
from tests.support import registration, seeded_key, unavailable

PROGRAM = Path(__file__).parent / "tlogcheck"
GOPATH = "/usr/share/gocode"
ANA = seeded_key(2101)


def notes(services: Services, first: int, last: int) -> None:
    services.ledger.append_batch(
        [sign_envelope(ANA, "NoteShared", {"n": s}, seq=s) for s in range(first, last + 1)]
    )


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, str]]:
    url = f"sqlite:///{tmp_path}/log.sqlite"
    monkeypatch.setenv("COCRED_LEDGER_KEY_FILE", str(tmp_path / "ledger.key"))
    with bootstrap(Settings(database_url=url, ledger_key_file=tmp_path / "ledger.key")) as svc:
        yield svc, url


def go_check(*args: str, program: Path = PROGRAM) -> subprocess.CompletedProcess[str]:
    if shutil.which("go") is None or not (Path(GOPATH) / "src/golang.org/x/mod").is_dir():
        unavailable("Go and golang-golang-x-mod-dev are not installed")
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH}
    return subprocess.run(
        ["go", "run", "main.go", *args],
        cwd=program,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_gos_tlog_verifies_an_exported_log_and_cocreds_proofs(
    world: tuple[Services, str], tmp_path: Path
) -> None:
    svc, url = world
    svc.ledger.append(registration(ANA))
    notes(svc, 2, 300)
    older = svc.provenance.checkpoints.cut()
    assert older is not None and older.size == 300
    notes(svc, 301, 700)  # 700 events: 2 full level-0 tiles and a partial one
    newer = svc.provenance.checkpoints.cut()
    assert newer is not None and newer.size == 700
    out = tmp_path / "tiles"
    runner = CliRunner()
    result = runner.invoke(cli, ["tiles", "export", str(out), "--db", url])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert (report["size"], report["root"], report["written"]) == (700, newer.root.hex(), 7)
    (tmp_path / "old-checkpoint").write_text(older.signed.to_text())

    client = TestClient(create_app(svc))
    checkpoint = client.get("/checkpoint")
    assert checkpoint.text == (out / "checkpoint").read_text() == newer.signed.to_text()
    assert checkpoint.headers["content-type"] == "text/plain; charset=utf-8"
    for path in ("tile/0/001", "tile/0/002.p/188", "tile/entries/002.p/188", "tile/1/000.p/2"):
        served = client.get(f"/{path}")
        assert served.status_code == 200, served.text
        assert served.content == (out / path).read_bytes()
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["content-type"] == "application/octet-stream"
    proofs = {
        "inclusion": client.get("/proofs/inclusion", params={"position": 437, "size": 700}).json()[
            "proof"
        ],
        "consistency": client.get("/proofs/consistency", params={"old": 300, "new": 700}).json()[
            "proof"
        ],
    }
    (tmp_path / "proofs.json").write_text(json.dumps(proofs))
    vkey = svc.provenance.identity.vkey

    checked = go_check(
        str(out), vkey, str(tmp_path / "old-checkpoint"), str(tmp_path / "proofs.json")
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (
        checked.stdout.strip()
        == f"ok origin={newer.signed.checkpoint.origin} size=700 old=300 entries=700"
    )

    # The same program refuses a checkpoint that another key would have to have signed ...
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.provenance.note import NoteSigner

    origin = newer.signed.checkpoint.origin
    stranger = NoteSigner(origin, Ed25519PrivateKey.generate()).vkey
    unknown = go_check(
        str(out), stranger, str(tmp_path / "old-checkpoint"), str(tmp_path / "proofs.json")
    )
    assert unknown.returncode == 1
    assert unknown.stdout.startswith("FAIL checkpoint signature: ")
    # ... and catches a tampered tile.
    tile = out / "tile/0/001"
    data = bytearray(tile.read_bytes())
    data[5] ^= 1
    tile.write_bytes(bytes(data))
    tampered = go_check(
        str(out), vkey, str(tmp_path / "old-checkpoint"), str(tmp_path / "proofs.json")
    )
    assert tampered.returncode == 1
    assert tampered.stdout == "FAIL entry 256 does not hash to its tile's leaf\n"


def cosig_check(*args: str) -> subprocess.CompletedProcess[str]:
    return go_check(*args, program=PROGRAM.parent / "cosigcheck")


def test_go_verifies_the_ledger_signature_and_each_witness_cosignature_of_a_checkpoint(
    world: tuple[Services, str], tmp_path: Path
) -> None:
    """cosignature/v1 as Go code written from the spec reads it (tests/interop/cosigcheck)."""
    from ledger.provenance.cosignature import Cosigner
    from ledger.provenance.witness import Witness, request_body
    from ledger.store.engine import engine_for

    svc, _ = world
    svc.ledger.append(registration(ANA))
    notes(svc, 2, 120)
    stored = svc.provenance.checkpoints.cut()
    assert stored is not None
    vkey = svc.provenance.identity.vkey
    cosigners = [Cosigner(f"witness.test/go{i}", seeded_key(2110 + i).private) for i in (1, 2)]
    lines = []
    for i, cosigner in enumerate(cosigners):
        witness = Witness(engine_for(f"sqlite:///{tmp_path}/w{i}.sqlite"), cosigner, [vkey])
        lines.append(witness.add_checkpoint(request_body(0, (), stored.signed)))
    text = stored.signed.to_text() + "".join(lines)
    (tmp_path / "checkpoint").write_text(text)
    vkeys = [c.vkey for c in cosigners]
    checked = cosig_check(str(tmp_path / "checkpoint"), vkey, *vkeys)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == "ok size=120 witnesses=2\n"
    # one flipped bit in the second cosignature, and Go says which witness
    head, last = text.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(last))
    raw[-1] ^= 1
    (tmp_path / "checkpoint").write_text(f"{head} {base64.b64encode(bytes(raw)).decode()}\n")
    tampered = cosig_check(str(tmp_path / "checkpoint"), vkey, *vkeys)
    assert tampered.returncode == 1
    assert tampered.stdout.startswith("FAIL cosignature by witness.test/go2 (time ")
