"""The campaign verbs of the CLI, used as a brand and its community would."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from ledger.store import open_store

runner = CliRunner()

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def cocred(*args: str, input: str | None = None, code: int = 0):
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def refused(*args: str, input: str | None = None) -> str:
    """Run a command that must be refused; return its one-line error."""
    return cocred(*args, input=input, code=1).stderr.strip()


class People:
    def __init__(self, tmp: Path, db: str) -> None:
        self.tmp, self.db = tmp, db
        self.ids: dict[str, str] = {}
        for name in ("brand", "ana", "ben"):
            key = tmp / f"{name}.key"
            self.ids[name] = json.loads(cocred("keys", "new", "--out", str(key)).stdout)["actor"]
            cocred("keys", "register", "--key", str(key), "--db", db)

    def key(self, name: str) -> str:
        return str(self.tmp / f"{name}.key")

    def run(self, name: str, *args: str, code: int = 0):
        return cocred(*args, "--key", self.key(name), "--db", self.db, code=code)

    def json(self, name: str, *args: str) -> dict:
        return json.loads(self.run(name, *args).stdout)

    def file(self, name: str, data: bytes) -> str:
        path = self.tmp / name
        path.write_bytes(data)
        return str(path)

    def v1_policy(self) -> str:
        """A ``--policy`` file holding cocred-fair v1's default policy (v2 is the default):
        for tests about paying two members who vote for each other, which v2 counts as
        circulating support."""
        from domain.policy import DEFAULT_POLICY_V1

        return self.file("policy-v1.json", json.dumps(dict(DEFAULT_POLICY_V1)).encode())


@pytest.fixture
def people(tmp_path: Path) -> People:
    p = People(tmp_path, f"sqlite:///{tmp_path}/campaign.sqlite")
    opened = p.json(
        "brand",
        "campaign", "open", "--campaign", "summer-26", "--title", "Summer 2026",
        "--guidelines", p.file("guidelines.txt", b"Be kind."),
        "--membership", "invite-only", "--pool", "100000",
    )  # fmt: skip
    assert opened["type"] == "CampaignOpened"
    for name in ("ana", "ben"):
        p.run("brand", "invite", "--campaign", "summer-26", "--member", p.ids[name])
        p.run(name, "join", "--campaign", "summer-26")
    return p


def test_a_campaign_from_the_command_line(people: People) -> None:
    p = people
    idea = p.json(
        "ana", "submit", "--campaign", "summer-26", "--content", p.file("idea.txt", b"kite"),
        "--kind", "idea", "--title", "Kite",
    )["contribution"]  # fmt: skip
    assert idea.startswith(p.ids["ana"] + ":")
    p.run("ben", "vote", "--campaign", "summer-26", "--contribution", idea, "--kind", "save")
    comment = p.file("comment.txt", b"Lovely lines")
    # The default policy has comment_threads: the comment vote names Ben's posted comment.
    p.run("ben", "comment", "post", "--campaign", "summer-26", "--contribution", idea,
          "--text", comment)  # fmt: skip
    p.run("ben", "vote", "--campaign", "summer-26", "--contribution", idea, "--kind", "comment",
          "--comment", comment)  # fmt: skip
    p.run("ben", "withdraw", "--campaign", "summer-26", "--contribution", idea, "--kind", "save")
    remix = p.json(
        "ben", "remix", "--campaign", "summer-26", "--content", p.file("remix.txt", b"kites"),
        "--kind", "design", "--title", "Kites", "--from", f"{idea}=1/5",
        "--author", f"{p.ids['ben']}=80", "--author", f"{p.ids['ana']}=20",
    )["contribution"]  # fmt: skip
    accepted = p.json("ana", "coauthor", "accept", "--campaign", "summer-26",
                      "--contribution", remix)  # fmt: skip
    assert accepted["type"] == "CoAuthorshipAccepted"
    p.run("brand", "moderate", "--campaign", "summer-26", "--contribution", remix,
          "--outcome", "accepted", "--reason", "shortlisted")  # fmt: skip
    terms = p.file("terms.txt", b"reuse on the web")
    for name in ("ben", "ana"):
        p.run(name, "licence", "grant", "--campaign", "summer-26", "--contribution", remix,
              "--name", "web-2026", "--licensee", p.ids["brand"], "--channel", "web",
              "--terms", terms, "--starts", "2026-01-01T00:00:00Z")  # fmt: skip
    reused = p.json(
        "brand", "reuse", "--campaign", "summer-26", "--contribution", remix,
        "--licence", f"{remix}/web-2026", "--channel", "web", "--territory", "FR",
    )  # fmt: skip
    assert reused["licence"] == f"{remix}/web-2026"
    p.run("brand", "block", "--campaign", "summer-26", "--member", p.ids["ben"],
          "--reason", "spam")  # fmt: skip
    p.run("brand", "unblock", "--campaign", "summer-26", "--member", p.ids["ben"])
    p.run("brand", "campaign", "fund", "--campaign", "summer-26", "--amount", "500")

    p.run("ana", "profile", "set", "--name", "Ana Silva")
    p.run("ana", "profile", "set", "--email", "ana@example.org")  # one field at a time
    p.run("ana", "profile", "payout", "set", "--sepa-iban", "DE89 3704 0044 0532 0130 00",
          "--holder", "Ana Silva")  # fmt: skip
    p.run("ana", "profile", "payout", "set", "--paypal", "+33 6 12 34 56 78")
    p.run("ana", "profile", "payout", "set", "--eth", ADDRESS)
    p.run("ana", "profile", "payout", "remove", "eth")
    assert refused(
        "profile", "payout", "set", "--eth", ADDRESS.lower(), "--key", p.key("ana"), "--db", p.db
    ) == (
        f"error[InvalidPayoutMethod]: eth payout method: {ADDRESS.lower()} does not carry a "
        f"valid EIP-55 checksum (mixed case); copy the address from your wallet as it shows it"
    )
    assert refused(
        "profile", "payout", "set", "--sepa-iban", "DE89 3704 0044 0532 0130 01", "--holder",
        "Ana", "--key", p.key("ana"), "--db", p.db,
    ) == (
        "error[InvalidPayoutMethod]: sepa payout method: 'DE89 3704 0044 0532 0130 01' is not "
        "a valid IBAN (Invalid checksum digits)"
    )  # fmt: skip
    assert refused("profile", "payout", "remove", "eth", "--key", p.key("ana"), "--db", p.db) == (
        "error[InvalidProfile]: the profile has no eth payout method"
    )
    assert refused("profile", "set", "--key", p.key("ana"), "--db", p.db) == (
        "error[BadOption]: give --name and/or --email (payout methods: cocred profile payout set)"
    )
    exported = p.json("ana", "profile", "export")
    assert exported["profile"] == {
        "display_name": "Ana Silva",
        "email": "ana@example.org",
        "payout": {
            "paypal": {"phone": "+33612345678"},
            "sepa": {"holder": "Ana Silva", "iban": "DE89370400440532013000"},
        },
    }
    shown = json.loads(
        cocred("campaign", "show", "--campaign", "summer-26", "--works", "--db", p.db).stdout
    )
    assert shown["pool"] == 100_500
    assert [a["name"] for a in shown["works"][1]["authors"]] == [p.ids["ben"], "Ana Silva"]

    assert refused("erase", "--key", p.key("ana"), "--db", p.db) == (
        "error[NotConfirmed]: erasure cannot be undone: pass --yes to confirm"
    )
    p.run("ana", "erase", "--yes")
    shown = json.loads(
        cocred("campaign", "show", "--campaign", "summer-26", "--works", "--db", p.db).stdout
    )
    assert [a["name"] for a in shown["works"][0]["authors"]] == ["erased member"]
    # The default policy reviews: the idea was never moderated, so the close says its fate.
    assert refused("campaign", "close", "--campaign", "summer-26", "--key", p.key("brand"),
                   "--db", p.db) == (
        "error[UnreviewedPieces]: campaign summer-26 has 1 piece(s) awaiting review: moderate "
        "them or close with unreviewed accept or reject"
    )  # fmt: skip
    p.run("brand", "campaign", "close", "--campaign", "summer-26", "--unreviewed", "accept")
    assert refused(
        "vote", "--key", p.key("ben"), "--db", p.db, "--campaign", "summer-26",
        "--contribution", idea,
    ) == "error[CampaignClosed]: campaign summer-26 is closed: VoteCast is refused"  # fmt: skip
    assert cocred("verify", "--db", p.db).stdout.startswith("verified ")


def test_refusals_print_their_code_and_sentence(people: People) -> None:
    p = people
    idea = p.json(
        "ana", "submit", "--campaign", "summer-26", "--content", p.file("i.txt", b"lamp"),
        "--kind", "idea", "--title", "Lamp",
    )["contribution"]  # fmt: skip
    assert refused(
        "vote", "--key", p.key("ana"), "--db", p.db, "--campaign", "summer-26",
        "--contribution", idea,
    ) == (
        f"error[SelfVote]: member {p.ids['ana']} is an author of contribution {idea}: "
        f"nobody votes on their own work"
    )  # fmt: skip
    wrong = "0" * 64
    assert refused(
        "submit", "--key", p.key("ben"), "--db", p.db, "--campaign", "summer-26",
        "--content", p.file("b.txt", b"chair"), "--kind", "idea", "--title", "Chair",
        "--sha256", wrong,
    ) == (
        f"error[ContentMismatch]: uploaded bytes hash to {hashlib.sha256(b'chair').hexdigest()}, "
        f"not to the announced {wrong}"
    )  # fmt: skip
    assert refused(
        "invite", "--key", p.key("ana"), "--db", p.db, "--campaign", "summer-26",
        "--member", p.ids["ben"],
    ) == (
        f"error[NotCampaignOwner]: only the brand {p.ids['brand']} of campaign summer-26 may "
        f"invite members; {p.ids['ana']} may not"
    )  # fmt: skip
    assert refused(
        "remix", "--key", p.key("ben"), "--db", p.db, "--campaign", "summer-26",
        "--content", p.file("r.txt", b"x"), "--kind", "idea", "--title", "R",
    ) == (
        "error[InvalidShares]: a remix names at least one contribution it derives from"
    )  # fmt: skip
    assert refused(
        "campaign", "open", "--key", p.key("brand"), "--db", p.db, "--campaign", "x",
        "--title", "T", "--guidelines", p.file("g.txt", b"g"), "--starts", "soon",
    ) == (
        "error[BadOption]: --starts must be a time like 2026-11-22T10:00:00Z, got 'soon'"
    )  # fmt: skip


def test_append_goes_through_the_campaign_rules(people: People, tmp_path: Path) -> None:
    p = people
    idea = p.json(
        "ana", "submit", "--campaign", "summer-26", "--content", p.file("i.txt", b"mug"),
        "--kind", "idea", "--title", "Mug",
    )["contribution"]  # fmt: skip

    def sign(who: str, type_: str, body: dict, seq: int, campaign: str | None = "summer-26"):
        args = ["sign", "--key", p.key(who), "--type", type_, "--body", json.dumps(body),
                "--seq", str(seq)] + (["--campaign", campaign] if campaign else [])  # fmt: skip
        return cocred(*args).stdout

    good = sign("ben", "VoteCast", {"contribution": idea, "kind": "support"}, 3)
    own = sign("ana", "VoteCast", {"contribution": idea, "kind": "support"}, 4)
    (tmp_path / "in.jsonl").write_text(good + own)
    with open_store(p.db) as store:
        size = store.size()
    assert refused("append", str(tmp_path / "in.jsonl"), "--batch", "1", "--db", p.db) == (
        f"error[SelfVote]: line 2: member {p.ids['ana']} is an author of contribution {idea}: "
        f"nobody votes on their own work"
    )
    with open_store(p.db) as store:
        assert store.size() == size, "the whole input was checked before anything was written"
    note = sign("ben", "IdeaShared", {"text": "hi"}, 3, campaign=None)
    assert refused("append", "-", "--db", p.db, input=note) == (
        "error[UnknownEventType]: line 1: event type IdeaShared is neither a campaign event "
        "(domain/EVENTS.md) nor a ledger key event"
    )
    assert cocred("append", "-", "--db", p.db, input=good).stdout.strip() == (
        f"appended 1 events at positions {size}..{size}"
    )


def test_demo_builds_a_deterministic_campaign_and_picks_a_free_seed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/demo.sqlite"
    sizes = ["--members", "12", "--contributions", "40", "--votes", "120"]
    summary = tmp_path / "summary.json"
    first = json.loads(cocred("demo", *sizes, "--summary", str(summary), "--db", db).stdout)
    assert first["campaign"] == "demo-1"
    assert json.loads(summary.read_text()) == first
    assert len(first["ring"]["members"]) == 3
    second = json.loads(cocred("demo", *sizes, "--db", db).stdout)
    assert second["campaign"] == "demo-2"
    assert refused("demo", *sizes, "--seed", "1", "--db", db) == (
        "error[DuplicateCampaign]: campaign id demo-1 is already taken: the demo for seed 1 is "
        "in this database already (use another seed or a fresh database)"
    )
    assert cocred("verify", "--db", db).stdout.startswith(f"verified {second['positions'][1] + 1}")


def test_a_demo_with_more_payees_than_one_event_holds_proposes_and_pays_in_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cocred demo --members 3000`` stopped at its payout step (1,608 payees in one 79 kB
    body, over the 63 KiB cap); here two payees a body stand for 1,000."""
    monkeypatch.setattr("domain.payout_services.MAX_PAYEES", 2)
    monkeypatch.setattr("projections.demo_payouts.PAYMENTS_PER_RECORD", 2)
    db = f"sqlite:///{tmp_path}/demo.sqlite"
    sizes = ["--members", "12", "--contributions", "40", "--votes", "120"]
    shown = json.loads(cocred("demo", *sizes, "--db", db).stdout)
    counts = shown["counts"]
    assert sum(counts.values()) == shown["events"] == shown["positions"][1] + 1
    assert counts["PayoutsProposed"] == 1 and counts["PayoutsProposalPart"] >= 2
    assert counts["PaymentRecorded"] >= 3  # each rail's batch in records of two
    cocred("checkpoint", "--db", db)
    audited = cocred("audit", "--db", db).stdout
    assert "ok  5 payouts: 2 settled exports recompute from the log" in audited  # + the proposal
    paid = counts["PaymentRecorded"]
    assert f"ok  6 payments: {paid} recorded payments match the settled lines" in audited


def test_submit_refuses_a_file_that_is_not_its_kind(people: People) -> None:
    p = people
    text = p.file("notes.txt", b"not a photo at all")
    digest = hashlib.sha256(b"not a photo at all").hexdigest()
    before = _log_size(p.db)
    assert p.run("ana", "submit", "--campaign", "summer-26", "--content", text, "--kind", "photo",
                 "--title", "Pier", code=1).stderr.strip() == (
        f"error[ContentKindMismatch]: content {digest}: the bytes are UTF-8 text, not the "
        "declared photo (a JPEG, PNG, WebP or GIF image)"
    )  # fmt: skip
    assert _log_size(p.db) == before, "a refusal writes nothing"


def _log_size(db: str) -> int:
    with open_store(db) as store:
        return store.size()


def test_a_co_author_accepts_or_declines_from_the_command_line(people: People) -> None:
    p = people
    authors = ("--author", f"{p.ids['ana']}=60", "--author", f"{p.ids['ben']}=40")
    first, second = (
        p.json(
            "ana", "submit", "--campaign", "summer-26", "--content", p.file(f"{n}.txt", n.encode()),
            "--kind", "idea", "--title", n, *authors,
        )["contribution"]
        for n in ("duo", "trio")
    )  # fmt: skip
    where = ("--campaign", "summer-26")
    assert refused(
        "vote", *where, "--contribution", first, "--key", p.key("brand"), "--db", p.db
    ).startswith("error[NotJoined]")
    assert refused(
        "licence", "grant", *where, "--contribution", first, "--name", "web",
        "--licensee", p.ids["brand"], "--channel", "web", "--terms", p.file("t.txt", b"t"),
        "--key", p.key("ana"), "--db", p.db,
    ) == (
        f"error[PendingCoAuthorship]: contribution {first} awaits the consent of co-author(s) "
        f"{p.ids['ben']}: no licences until each accepts"
    )  # fmt: skip
    assert refused(
        "coauthor", "accept", *where, "--contribution", first, "--key", p.key("ana"), "--db", p.db
    ) == (
        f"error[NotCoAuthor]: member {p.ids['ana']} is not a co-author named by the submitter "
        f"of contribution {first}"
    )  # fmt: skip
    declined = p.json(
        "ben", "coauthor", "decline", *where, "--contribution", second, "--reason", "not-my-work"
    )
    assert (declined["type"], declined["contribution"]) == ("CoAuthorshipDeclined", second)
    assert refused(
        "coauthor", "accept", *where, "--contribution", second, "--key", p.key("ben"), "--db", p.db
    ) == (
        f"error[CoAuthorshipDeclined]: co-author {p.ids['ben']} declined contribution {second}: "
        f"it takes no more answers"
    )  # fmt: skip
    assert refused(
        "coauthor",
        "decline",
        *where,
        "--contribution",
        first,
        "--reason",
        "Not Mine",
        "--key",
        p.key("ben"),
        "--db",
        p.db,
    ).startswith("error[MalformedBody]: CoAuthorshipDeclined body: field 'reason' must be a code")
    p.run("ben", "coauthor", "accept", *where, "--contribution", first)
    assert (
        refused(
            "coauthor",
            "accept",
            *where,
            "--contribution",
            first,
            "--key",
            p.key("ben"),
            "--db",
            p.db,
        )
        == f"error[CoAuthorshipAnswered]: co-author {p.ids['ben']} already accepted "
        f"contribution {first}"
    )
