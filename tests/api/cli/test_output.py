"""What a newcomer meets first: one output convention, no wrapped machine values, keys that git
will not commit, reads that write nothing, and help that names the real things."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from api.cli import app
from domain.vocabulary import CAMPAIGN_EVENT_TYPES, DEFAULT_POLICY
from ledger.actors import KEY_EVENT_TYPES

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def cocred(*args: str, code: int = 0, input: str | None = None):
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, (args, result.stdout, result.stderr, result.exception)
    return result


def as_json(*args: str) -> object:
    """Run a command with ``--format json``; its stdout must be one JSON document."""
    out = cocred(*args, "--format", "json").stdout
    return json.loads(out)


def every_command() -> dict[str, click.Command]:
    """Every leaf command of ``cocred``, by its full name (``keys new``, ``audit`` …)."""
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, prefix: str) -> None:
        if hasattr(command, "commands"):  # a group (typer's own, or click's)
            for name, sub in command.commands.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            found[prefix] = command

    walk(typer.main.get_command(app), "")
    return found


# `serve` and `witness serve` print no data: the banner goes to stderr, and then they serve.
PRINTS_NO_DATA = {"serve", "witness serve"}


def test_every_command_that_prints_data_takes_format_text_or_json() -> None:
    commands = every_command()
    assert {"keys new", "audit", "shares", "checkpoint", "campaign open"} <= set(commands)
    lacking = sorted(
        name
        for name, command in commands.items()
        if name not in PRINTS_NO_DATA
        and not any("--format" in getattr(p, "opts", ()) for p in command.params)
    )
    assert lacking == []


def test_a_bad_format_is_refused_before_anything_is_done(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/f.sqlite"
    key = tmp_path / "a.key"
    refused = cocred("keys", "new", "--out", str(key), "--format", "xml", code=1)
    assert refused.stderr.strip() == "error[BadFormat]: --format must be text or json, got 'xml'"
    assert not key.exists()
    refused = cocred("verify", "--db", db, "--format", "yaml", code=1)
    assert refused.stderr.strip() == "error[BadFormat]: --format must be text or json, got 'yaml'"
    assert list(tmp_path.iterdir()) == []


def test_every_data_command_prints_one_json_document_with_format_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/j.sqlite"
    ran: set[str] = set()

    def run(name: str, *args: str) -> dict | list:
        ran.add(name)
        data = as_json(*name.split(), *args)
        assert isinstance(data, dict | list)
        return data

    key = {who: str(tmp_path / f"{who}.key") for who in ("brand", "ana", "ben")}
    ids = {who: run("keys new", "--out", key[who])["actor"] for who in key}
    assert run("keys show", key["ana"])["actor"] == ids["ana"]
    secret = tmp_path / "passphrase.txt"
    secret.write_text("a passphrase\n")
    backup, restored = str(tmp_path / "ana.backup"), str(tmp_path / "ana-again.key")
    assert run("keys backup", "--key", key["ana"], "--out", backup, "--passphrase-file",
               str(secret))["actor"] == ids["ana"]  # fmt: skip
    assert run("keys restore", "--backup", backup, "--out", restored, "--passphrase-file",
               str(secret))["actor"] == ids["ana"]  # fmt: skip
    for who in key:
        assert run("keys register", "--key", key[who], "--db", db)["type"] == "KeyRegistered"

    def file(name: str, data: bytes) -> str:
        (tmp_path / name).write_bytes(data)
        return str(tmp_path / name)

    def as_(who: str, name: str, *args: str) -> dict:
        return run(name, "--key", key[who], "--db", db, "--campaign", "camp-1", *args)

    as_("brand", "campaign open", "--title", "C", "--guidelines", file("g.txt", b"Be kind."),
        "--membership", "invite-only", "--pool", "10000")  # fmt: skip
    as_("brand", "campaign fund", "--amount", "500")
    as_("brand", "invite", "--member", ids["ana"])
    as_("ana", "join")
    code = as_("brand", "campaign codes", "--count", "1", "--expires", "2099-01-01T00:00:00Z")
    as_("ben", "join", "--code", code["codes"][0])
    idea = as_("ana", "submit", "--content", file("i.txt", b"kite"), "--kind", "idea",
               "--title", "Kite")["contribution"]  # fmt: skip
    remix = as_("ben", "remix", "--content", file("r.txt", b"kites"), "--kind", "design",
                "--title", "Kites", "--from", f"{idea}=1/5")["contribution"]  # fmt: skip
    as_("ben", "vote", "--contribution", idea, "--kind", "save")
    as_("ben", "withdraw", "--contribution", idea, "--kind", "save")
    # The default policy has comment_threads: a comment vote names the voter's own comment.
    as_(
        "ana",
        "comment post",
        "--contribution",
        remix,
        "--text",
        file("c.txt", "très bien".encode()),
    )
    as_("ana", "vote", "--contribution", remix, "--kind", "comment",
        "--comment", file("c.txt", "très bien".encode()))  # fmt: skip
    duo, trio = (
        as_("ana", "submit", "--content", file(f"{n}.txt", n.encode()), "--kind", "idea",
            "--title", n, "--author", f"{ids['ana']}=50", "--author", f"{ids['ben']}=50",
            )["contribution"]
        for n in ("duo", "trio")
    )  # fmt: skip
    assert as_("ben", "coauthor accept", "--contribution", duo)["type"] == "CoAuthorshipAccepted"
    as_("ben", "coauthor decline", "--contribution", trio, "--reason", "not-my-work")
    as_("brand", "block", "--member", ids["ana"], "--reason", "test")
    as_("brand", "unblock", "--member", ids["ana"])
    said = as_("ben", "comment post", "--contribution", idea, "--text",
               file("said.txt", "jolie idée".encode()))["comment"]  # fmt: skip
    answer = as_("brand", "comment reply", "--contribution", idea, "--to", said, "--text",
                 file("merci.txt", b"Thanks!"), "--as-brand")["comment"]  # fmt: skip
    as_("ana", "comment report", "--comment", said, "--reason", "other")
    flagged = as_("ana", "comment report", "--comment", answer, "--reason", "spam")["report"]
    as_("brand", "comment hide", "--comment", answer, "--reason", "duplicate", "--report", flagged)
    thread = run("comment thread", "--db", db, "--campaign", "camp-1", "--contribution", idea)
    assert [(c["depth"], c["text"], c["hidden"]) for c in thread["comments"]] == [
        (0, "jolie idée", None),
        (1, None, "duplicate"),
    ]
    reported = as_("ben", "report", "--contribution", idea, "--reason", "spam")["report"]
    as_("brand", "moderate", "--contribution", idea, "--outcome", "accepted", "--reason", "ok",
        "--report", reported)  # fmt: skip
    as_("ben", "licence grant", "--contribution", remix, "--name", "web", "--licensee",
        ids["brand"], "--channel", "web", "--terms", file("t.txt", b"web"),
        "--starts", "2026-01-01T00:00:00Z")  # fmt: skip
    as_("brand", "reuse", "--contribution", remix, "--licence", f"{remix}/web",
        "--channel", "web", "--territory", "FR")  # fmt: skip
    as_("ben", "licence revoke", "--licence", f"{remix}/web")
    run("profile set", "--key", key["ben"], "--db", db, "--name", "Benoît", "--email",
        "ben@example.org")  # fmt: skip
    assert run("profile export", "--key", key["ben"], "--db", db)["profile"]["display_name"] == (
        "Benoît"
    )
    assert run("campaign show", "--db", db, "--campaign", "camp-1")["pool"] == 10_500
    queue = run("campaign queue", "--db", db, "--campaign", "camp-1")
    assert (queue["total"], queue["reports"]) == (3, 3)  # the piece and two comments, reported
    # The review phase and appeals need a policy with appeal_window: a second campaign.
    review = {**DEFAULT_POLICY, "review": True, "appeal_window": 3600}

    def in_2(who: str, name: str, *args: str) -> dict:
        return run(name, "--key", key[who], "--db", db, "--campaign", "camp-2", *args)

    in_2("brand", "campaign open", "--title", "C2", "--guidelines", file("g2.txt", b"Kind."),
         "--policy", file("review.json", json.dumps(review).encode()))  # fmt: skip
    in_2("ana", "join")
    kite = in_2("ana", "submit", "--content", file("k2.txt", b"kite 2"), "--kind", "idea",
                "--title", "Kite 2")["contribution"]  # fmt: skip
    in_2("brand", "moderate", "--contribution", kite, "--outcome", "rejected", "--reason", "x")
    in_2("ana", "appeal", "--contribution", kite, "--reason", "misjudged")
    in_2("brand", "campaign decide-appeal", "--contribution", kite, "--uphold", "--reason", "x")
    assert run("campaign appeals", "--db", db, "--campaign", "camp-2")["total"] == 1
    in_2("brand", "campaign close", "--unreviewed", "accept")
    as_("brand", "campaign close", "--unreviewed", "accept")  # the default policy reviews
    run("project", "--db", db)
    assert run("shares", "--db", db, "--campaign", "camp-1")["payees"] == 2
    run("explain", "--db", db, "--campaign", "camp-1", "--member", ids["ana"])
    run("export payouts", "--db", db, "--campaign", "camp-1", "--out", str(tmp_path / "p.json"))
    signed = run("sign", "--key", key["ana"], "--db", db, "--type", "KeyRevoked",
                 "--body", json.dumps({"key": ids["ana"]}))  # fmt: skip
    assert signed["type"] == "KeyRevoked"
    lines = cocred("log", "--db", db, "--from", "0", "--limit", "3").stdout.splitlines()
    (tmp_path / "again.jsonl").write_text("\n".join(lines) + "\n")
    assert run("append", str(tmp_path / "again.jsonl"), "--db", db)["already_stored"] == 3
    logged = run("log", "--db", db, "--limit", "2")
    assert [entry["position"] for entry in logged] == [0, 1]
    assert run("verify", "--db", db)["verified"] is True
    cut = run("checkpoint", "--db", db)
    vkey = run("ledger-key", "--db", db)["vkey"]
    exported = run("tiles export", str(tmp_path / "tiles"), "--db", db)
    assert (exported["size"], exported["root"]) == (cut["size"], cut["root"])
    run("proof", "3", "--db", db, "--out", str(tmp_path / "b.json"))
    assert run("verify-proof", str(tmp_path / "b.json"), "--ledger-key", vkey)["valid"] is True
    audited = run("audit", "--db", db, "--ledger-key", vkey)
    assert audited["passed"] is True and audited["events"] == cut["size"]
    run("keys rotate", "--key", key["ben"], "--db", db, "--out", str(tmp_path / "ben2.key"))
    run("keys compromised", "--key", str(tmp_path / "ben2.key"), "--old-key", ids["ben"],
        "--since", "2026-01-01T00:00:00Z", "--db", db)  # fmt: skip
    code = run("keys recovery new", "--key", key["ana"], "--db", db)["recovery_code"]
    run("keys recover", "--actor", ids["ana"], "--recovery-code", code, "--new-key",
        str(tmp_path / "ana3.key"), "--db", db)  # fmt: skip
    run("keys cancel-recovery", "--key", key["ana"], "--db", db)
    run("erase", "--key", key["ana"], "--db", db, "--yes")
    run("keys revoke", "--key", str(tmp_path / "ben2.key"), "--db", db)
    run("demo", "--db", f"sqlite:///{tmp_path}/d.sqlite", "--seed", "2", "--members", "10",
        "--contributions", "20", "--votes", "10")  # fmt: skip
    witness = run("witness key", "--key", str(tmp_path / "w.key"), "--name", "witness.test/o")
    assert witness["vkey"].startswith("witness.test/o+")

    # The anchor verbs need a chain (tests/contracts run them); they print through the same
    # `emit` as every verb above.
    needs_a_chain = {"anchor deploy", "anchor now"}
    # The payout flow (propose, object, answer, settle, files, record, status, payout methods)
    # needs a closed campaign and an objection window: tests/api/cli/test_payouts.py runs each
    # verb and reads its JSON document.
    payout_flow = {name for name in every_command() if name.startswith("payouts ")} | {
        "profile payout set",
        "profile payout remove",
    }
    # These talk to another server: tests/api/cli/test_monitor.py runs `monitor` against a
    # cocred server, tests/api/cli/test_witness.py `witness submit` against witness processes.
    needs_a_remote = {"monitor", "witness submit"}
    left = set(every_command()) - PRINTS_NO_DATA - needs_a_chain - payout_flow - needs_a_remote
    assert left - ran == set()


def test_json_is_utf8_not_escaped(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/u.sqlite"
    key = tmp_path / "a.key"
    cocred("keys", "new", "--out", str(key))
    cocred("keys", "register", "--key", str(key), "--db", db)
    opened = cocred("campaign", "open", "--key", str(key), "--db", db, "--campaign", "camp",
                    "--title", "Été — plage", "--guidelines", __file__)  # fmt: skip
    assert opened.stdout.count("\n") > 3, "indented, not one line"
    shown = cocred("campaign", "show", "--db", db, "--campaign", "camp").stdout
    assert "Été — plage" in shown and "\\u" not in shown
    cut = cocred("checkpoint", "--db", db).stdout
    assert "—" in cut or "\\u2014" not in cut
    assert json.loads(cut)["note"].startswith("cocred.ledger/")


def test_export_payouts_says_where_the_file_format_went(tmp_path: Path) -> None:
    refused = cocred("export", "payouts", "--campaign", "camp", "--out", str(tmp_path / "p.csv"),
                     "--format", "csv", code=1)  # fmt: skip
    assert refused.stderr.strip() == (
        "error[BadFormat]: --format is the output (text or json); the file's format is "
        "--file-format csv"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_record_prints_field_lines_with_format_text(tmp_path: Path) -> None:
    key = tmp_path / "a.key"
    made = cocred("keys", "new", "--out", str(key), "--format", "text").stdout.splitlines()
    assert [line.split(": ", 1)[0] for line in made] == ["actor", "key", "file"]
    assert made[2] == f"file: {key}"


# -- keys that git would commit ------------------------------------------------------------------


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_the_repository_ignores_private_keys_and_var() -> None:
    if git("rev-parse", "--is-inside-work-tree", cwd=ROOT).stdout.strip() != "true":
        pytest.skip("not a git checkout")  # an unpacked sdist has no .gitignore to test
    for path in ("brand.key", "var/walk/ana.key", "var/walk/walk.sqlite", "sub/dir/x.key"):
        assert git("check-ignore", "-q", path, cwd=ROOT).returncode == 0, path
    assert git("check-ignore", "-q", "README.md", cwd=ROOT).returncode == 1


def test_keys_new_warns_when_git_would_commit_the_key(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    assert git("init", "-q", cwd=repo).returncode == 0
    warned = cocred("keys", "new", "--out", str(repo / "ana.key"))
    assert warned.stderr.strip() == (
        f"warning: {repo / 'ana.key'} is inside a git work tree that does not ignore it; "
        f"`git add` would commit this private key (add it to .gitignore, or keep keys outside "
        f"the repository, e.g. under var/)"
    )
    (repo / ".gitignore").write_text("*.key\n")
    assert cocred("keys", "new", "--out", str(repo / "ben.key")).stderr == ""
    outside = tmp_path / "plain"
    outside.mkdir()
    assert cocred("keys", "new", "--out", str(outside / "cid.key")).stderr == ""


# -- machine values are never wrapped ------------------------------------------------------------


def narrow(*args: str, columns: int = 40) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env
    )


@pytest.fixture
def checkpointed(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/a-rather-long-database-name-for-wrapping.sqlite"
    cocred("demo", "--db", db, "--seed", "4", "--members", "10", "--contributions", "20",
           "--votes", "10")  # fmt: skip
    cocred("checkpoint", "--db", db)
    return db


@pytest.mark.parametrize("columns", [40, 80])
def test_the_audit_never_wraps_the_ledger_key(checkpointed: str, columns: int) -> None:
    vkey = json.loads(cocred("ledger-key", "--db", checkpointed).stdout)["vkey"]
    assert len(vkey) > columns
    audited = narrow("audit", "--db", checkpointed, columns=columns)
    assert audited.returncode == 0, audited.stderr
    assert any(vkey in line for line in audited.stderr.splitlines()), audited.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_serve_banner_never_wraps_its_urls(checkpointed: str) -> None:
    port = free_port()
    env = {**os.environ, "COLUMNS": "40", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--db", checkpointed, "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert server.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "serving" not in line:
            line = server.stderr.readline()
            if not line and server.poll() is not None:
                break
        assert line.startswith("serving "), line
        assert f"http://127.0.0.1:{port}/ " in line and checkpointed in line
        assert line.rstrip().endswith(f"(API docs at http://127.0.0.1:{port}/docs)")
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- reads write nothing -------------------------------------------------------------------------

READS = [
    ("log",),
    ("verify",),
    ("shares", "--campaign", "c"),
    ("explain", "--campaign", "c", "--member", "m"),
    ("campaign", "show", "--campaign", "c"),
    ("audit",),
    ("proof", "0", "--out", "PROOF"),
    ("project",),
]


@pytest.mark.parametrize("command", READS, ids=lambda c: " ".join(c[:2]))
def test_a_read_refuses_a_missing_database_and_creates_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    where = tmp_path / "missing.sqlite"
    args = [str(tmp_path / "b.json") if a == "PROOF" else a for a in command]
    refused = cocred(*args, "--db", f"sqlite:///{where}", code=1)
    assert refused.stderr.strip() == (f"error[StorageUnavailable]: no ledger database at {where}")
    assert list(tmp_path.iterdir()) == []


def test_a_read_never_creates_a_ledger_key(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/k.sqlite"
    key = tmp_path / "a.key"
    cocred("keys", "new", "--out", str(key))
    cocred("keys", "register", "--key", str(key), "--db", db)
    ledger_key = tmp_path / "k.ledger.key"
    assert ledger_key.exists(), "the command that created the database made its ledger key"
    ledger_key.unlink()
    cocred("log", "--db", db)
    cocred("verify", "--db", db)
    assert not ledger_key.exists()
    refused = cocred("audit", "--db", db, code=1)
    assert refused.stderr.strip() == (
        f"error[LedgerKeyMissing]: no ledger key at {ledger_key}, and this command does not "
        f"create one: pass the verifier key you trust (--ledger-key), point "
        f"COCRED_LEDGER_KEY_FILE at the ledger's key file, or run `cocred ledger-key` to "
        f"create one for this database"
    )
    assert not ledger_key.exists()
    cocred("ledger-key", "--db", db)  # says in its help that it creates the key
    assert ledger_key.exists()


# -- help that matches the product ---------------------------------------------------------------


def test_sign_help_lists_the_real_event_types() -> None:
    shown = " ".join(cocred("sign", "--help").stdout.split())
    assert "IdeaShared" not in shown
    for type_ in sorted(CAMPAIGN_EVENT_TYPES | KEY_EVENT_TYPES):
        assert type_ in shown, type_


def test_a_comment_vote_says_that_it_needs_a_comment_file(tmp_path: Path) -> None:
    key = tmp_path / "a.key"
    cocred("keys", "new", "--out", str(key))
    db = f"sqlite:///{tmp_path}/v.sqlite"
    refused = cocred("vote", "--key", str(key), "--campaign", "c", "--contribution", "x",
                     "--kind", "comment", "--db", db, code=1)  # fmt: skip
    assert refused.stderr.strip() == (
        "error[BadOption]: --kind comment needs --comment FILE: the file holding the "
        "comment's text (the vote carries its hash)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.key"]


def test_shares_says_when_it_shows_only_the_top(checkpointed: str) -> None:
    board = json.loads(
        cocred("shares", "--db", checkpointed, "--campaign", "demo-4", "--format", "json").stdout
    )
    payees = board["payees"]
    assert payees > 2
    text = cocred("shares", "--db", checkpointed, "--campaign", "demo-4", "--limit", "2").stdout
    assert text.splitlines()[-1].startswith(
        f"{payees} payees (the top 2; --limit {payees} shows all), as of log position "
    )
