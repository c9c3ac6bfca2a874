"""`cocred campaign codes` and `cocred join --code`, as a brand mailing 1,000 people would run
them: the codes printed once and written to a CSV for the mailing tool, a join by code, and
each refusal's exit code and `error[Code]: sentence` (with no CSV left behind)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from domain.invite_codes import CODE_FORMAT

runner = CliRunner()
CAMPAIGN = "spring-27"
EXPIRES = "2099-01-31T00:00:00Z"


def cocred(*args: str, code: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


class People:
    def __init__(self, tmp: Path) -> None:
        self.tmp, self.db = tmp, f"sqlite:///{tmp}/codes.sqlite"
        self.ids: dict[str, str] = {}
        for name in ("brand", "ana", "ben", "cy"):
            made = cocred("keys", "new", "--out", self.key(name))
            self.ids[name] = json.loads(made.stdout)["actor"]
            cocred("keys", "register", "--key", self.key(name), "--db", self.db)

    def key(self, name: str) -> str:
        return str(self.tmp / f"{name}.key")

    def run(self, name: str, *args: str, code: int = 0):
        return cocred(*args, "--key", self.key(name), "--db", self.db, code=code)

    def refused(self, name: str, *args: str) -> str:
        return self.run(name, *args, code=1).stderr.strip()

    def codes(self, *args: str) -> dict:
        return json.loads(
            self.run("brand", "campaign", "codes", "--campaign", CAMPAIGN, *args).stdout
        )


@pytest.fixture
def people(tmp_path: Path) -> People:
    p = People(tmp_path)
    guidelines = tmp_path / "guidelines.txt"
    guidelines.write_bytes(b"Be kind.")
    p.run("brand", "campaign", "open", "--campaign", CAMPAIGN, "--title", "Spring",
          "--guidelines", str(guidelines), "--membership", "invite-only")  # fmt: skip
    return p


def test_the_brand_prints_codes_writes_a_csv_and_a_person_joins_with_one(
    people: People, tmp_path: Path
) -> None:
    out = tmp_path / "mailing" / "codes.csv"
    out.parent.mkdir()
    issued = people.codes("--count", "1000", "--expires", EXPIRES, "--label", "spring-mailing",
                          "--csv", str(out))  # fmt: skip
    assert issued["count"] == 1000 and len(set(issued["codes"])) == 1000
    assert all(CODE_FORMAT.fullmatch(code) for code in issued["codes"])
    assert (issued["campaign"], issued["expires_at"], issued["label"]) == (
        CAMPAIGN, EXPIRES, "spring-mailing",
    )  # fmt: skip
    assert [b["codes"] for b in issued["batches"]] == [900, 100], "two events, one batch"
    assert issued["csv"] == str(out)
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["code", "campaign", "expires", "label"]
    assert rows[1:] == [[c, CAMPAIGN, EXPIRES, "spring-mailing"] for c in issued["codes"]]
    assert sorted(p.name for p in out.parent.iterdir()) == ["codes.csv"], "no partial left"
    assert out.stat().st_mode & 0o077 == 0, "the codes are secrets: readable by the owner only"

    # Cy was never invited by id; he types the code as it came in the mail, in any case.
    typed = issued["codes"][0].lower().replace("-", " ")
    joined = json.loads(people.run("cy", "join", "--campaign", CAMPAIGN, "--code", typed).stdout)
    assert (joined["type"], joined["campaign"]) == ("MemberJoined", CAMPAIGN)
    assert people.refused("ana", "join", "--campaign", CAMPAIGN, "--code", issued["codes"][0]) == (
        f"error[InviteCodeUsed]: the invitation code member {people.ids['ana']} presented to "
        f"campaign {CAMPAIGN} was used already: each code admits one member"
    )
    # Inviting by actor id still works beside the codes.
    people.run("brand", "invite", "--campaign", CAMPAIGN, "--member", people.ids["ben"])
    people.run("ben", "join", "--campaign", CAMPAIGN)


def test_codes_print_as_field_lines_with_format_text(people: People) -> None:
    shown = people.run("brand", "campaign", "codes", "--campaign", CAMPAIGN, "--count", "2",
                       "--expires", EXPIRES, "--format", "text").stdout.splitlines()  # fmt: skip
    fields = [line.split(": ", 1)[0] for line in shown]
    assert fields == ["count", "campaign", "expires_at", "label", "batches", "code", "code"]
    assert all(CODE_FORMAT.fullmatch(line.split(": ", 1)[1]) for line in shown[-2:])


def test_join_refuses_an_unknown_or_malformed_code(people: People) -> None:
    people.codes("--count", "1", "--expires", EXPIRES)
    assert people.refused(
        "cy", "join", "--campaign", CAMPAIGN, "--code", "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"
    ) == (
        f"error[UnknownInviteCode]: the invitation code member {people.ids['cy']} presented is "
        f"not one the brand of campaign {CAMPAIGN} issued"
    )
    assert people.refused("cy", "join", "--campaign", CAMPAIGN, "--code", "AAAAA-0000") == (
        "error[MalformedBody]: an invitation code is 25 letters A-Z and digits 2-7, like "
        "ABCDE-FGHIJ-KLMNO-PQRST-UVWXY (dashes, spaces and case do not matter); the code given "
        f"for campaign {CAMPAIGN} has 10 characters and is not one"
    )
    assert people.refused("cy", "join", "--campaign", CAMPAIGN) == (
        f"error[NotInvited]: campaign {CAMPAIGN} is invite-only and member {people.ids['cy']} "
        "was not invited"
    )


def test_a_refused_issue_writes_no_event_and_no_csv(people: People, tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"

    def issue_refused(who: str, *args: str) -> str:
        return people.refused(who, "campaign", "codes", "--campaign", CAMPAIGN, *args)

    def logged() -> int:
        return len(json.loads(cocred("log", "--db", people.db, "--format", "json").stdout))

    before = logged()
    past = "2020-01-01T00:00:00Z"
    refusal = issue_refused("brand", "--count", "3", "--expires", past, "--csv", str(out))
    batch, ts = refusal.split(" batch ", 1)[1].split(" ", 1)[0], refusal.rsplit(" ", 1)[1]
    assert batch.startswith(f"{people.ids['brand']}:")
    assert refusal == (
        "error[InviteExpiryInPast]: invitation codes must expire after they are issued: batch "
        f"{batch} of campaign {CAMPAIGN} expires at {past}, not after its time {ts}"
    )
    assert issue_refused("ana", "--count", "3", "--expires", EXPIRES, "--csv", str(out)) == (
        f"error[NotCampaignOwner]: only the brand {people.ids['brand']} of campaign {CAMPAIGN} "
        f"may issue invitation codes; {people.ids['ana']} may not"
    )
    assert issue_refused("brand", "--count", "3", "--expires", "next week") == (
        "error[BadOption]: --expires must be a time like 2026-11-22T10:00:00Z, got 'next week'"
    )
    assert issue_refused("brand", "--count", "0", "--expires", EXPIRES) == (
        "error[BadOption]: --count must be at least 1, got 0"
    )
    assert issue_refused("brand", "--count", "2", "--expires", EXPIRES, "--label", "Spring!") == (
        "error[MalformedBody]: InvitationCodesIssued body: field 'label' must be a code of 1-48 "
        "characters [a-z0-9-], got 'Spring!'"
    )
    assert logged() == before, "nothing written"
    assert sorted(p.name for p in tmp_path.iterdir() if "csv" in p.name) == [], "no CSV left"
