"""The payout verbs of the CLI as a brand and its members use them: propose, object, answer,
settle, payment files per rail, record payments, status; and each refusal.

The campaign's objection window is twenty seconds, so the test waits it out (a real window:
the ledger refuses envelopes dated in the future).
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import xmlschema
from sepaxml import validation

from tests.api.cli.test_campaign import ADDRESS, People, cocred, refused

IBAN_ANA = "DE89 3704 0044 0532 0130 00"
IBAN_BRAND = "FR14 2004 1010 0505 0001 3M02 606"
TOKEN = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
# The objection window is wall-clock seconds (the CLI signs at the current time): long enough
# that the commands before the sleep finish inside it on a loaded machine.
WINDOW = 20


class Flow:
    """Ana and Ben earn in a closed campaign (under cocred-fair v1); the brand proposes."""

    def __init__(self, tmp: Path) -> None:
        p = self.p = People(tmp, f"sqlite:///{tmp}/payouts.sqlite")
        guidelines = p.file("g.txt", b"be kind")
        p.run("brand", "campaign", "open", "--campaign", "summer-26", "--title", "Summer",
              "--guidelines", guidelines, "--pool", "100000",
              "--objection-window", str(WINDOW), "--policy", p.v1_policy())  # fmt: skip
        for who in ("ana", "ben"):
            p.run(who, "join", "--campaign", "summer-26")
        idea = p.json("ana", "submit", "--campaign", "summer-26", "--content",
                      p.file("i.txt", b"kite"), "--kind", "idea", "--title", "Kite")  # fmt: skip
        work = p.json("ben", "submit", "--campaign", "summer-26", "--content",
                      p.file("w.txt", b"boat"), "--kind", "idea", "--title", "Boat")  # fmt: skip
        p.run("ben", "vote", "--campaign", "summer-26", "--contribution", idea["contribution"],
              "--kind", "share")  # fmt: skip
        p.run("ana", "vote", "--campaign", "summer-26", "--contribution", work["contribution"],
              "--kind", "support")  # fmt: skip
        p.run("brand", "campaign", "close", "--campaign", "summer-26")

    def brand(self, *args: str) -> dict:
        return self.p.json("brand", "payouts", *args, "--campaign", "summer-26")

    def refused(self, who: str, *args: str) -> str:
        return refused("payouts", *args, "--campaign", "summer-26", "--key", self.p.key(who),
                       "--db", self.p.db)  # fmt: skip

    def status(self) -> dict:
        shown = cocred("payouts", "status", "--campaign", "summer-26", "--format", "json",
                       "--db", self.p.db)  # fmt: skip
        return json.loads(shown.stdout)


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    return Flow(tmp_path)


def test_a_brand_proposes_a_member_objects_the_brand_answers_settles_and_pays(
    flow: Flow, tmp_path: Path
) -> None:
    p = flow.p
    ana, ben = p.ids["ana"], p.ids["ben"]
    p.run("ana", "profile", "payout", "set", "--sepa-iban", IBAN_ANA, "--holder", "Ana Silva")
    proposed = flow.brand("propose")
    assert (proposed["type"], proposed["lines"], proposed["total"]) == (
        "PayoutsProposed",
        2,
        100000,
    )
    assert flow.refused("brand", "settle").startswith(
        "error[ObjectionWindowOpen]: campaign summer-26: the objection window of proposal "
    )
    reason = p.file("why.txt", b"my kite is in the boat")
    objected = p.json("ana", "payouts", "object", "--campaign", "summer-26",
                      "--reason", "missing-credit", "--text", reason)  # fmt: skip
    assert flow.refused("ana", "object", "--reason", "other") == (
        f"error[AlreadyObjected]: {ana} objected to proposal {proposed['proposal']} already"
    )
    assert flow.refused("brand", "settle").startswith("error[ObjectionWindowOpen]")
    time.sleep(WINDOW + 0.5)
    assert flow.refused("brand", "settle") == (
        f"error[UnansweredObjection]: campaign summer-26: objection {objected['objection']} by "
        f"{ana} has no answer yet"
    )
    assert flow.refused("ben", "object", "--reason", "other").startswith(
        "error[ObjectionWindowClosed]: campaign summer-26: proposal "
    )
    flow.brand("answer", "--objection", objected["objection"], "--outcome", "rejected")
    assert flow.status()["proposal"]["objections"][0]["answer"]["outcome"] == "rejected"
    settled = flow.brand("settle")
    assert settled["export_sha256"] == proposed["export_sha256"]

    # Files: Ana has an IBAN, Ben nothing yet: he is unpaid, and his money stays owed.
    out = tmp_path / "files"
    made = flow.brand("files", "--out-dir", str(out), "--rails", "sepa,paypal",
                      "--debtor-name", "Brand SA", "--debtor-iban", IBAN_BRAND)  # fmt: skip
    amounts = {row["member"]: row["settled"] for row in flow.status()["lines"]}
    assert made["rails"]["sepa"]["payees"] == 1 and made["rails"]["paypal"]["payees"] == 0
    assert made["unpaid"] == [{"member": ben, "amount": amounts[ben], "reason": "no-method"}]
    xml = (out / "sepa.xml").read_bytes()
    schema = xmlschema.XMLSchema(
        str(Path(validation.__file__).parent / "schemas" / "pain.001.001.09.xsd")
    )
    schema.validate(xml.decode())  # raises if the file breaks the XSD
    assert b"DE89370400440532013000" in xml and f"{amounts[ana] // 100}.".encode() in xml
    assert not (out / "paypal.csv").exists()

    # Record the SEPA batch; Ben adds PayPal; new files pay only him.
    recorded = flow.brand("record", "--rail", "sepa", "--plan", str(out / "payouts.json"))
    assert (recorded["batch"], recorded["payees"]) == (made["rails"]["sepa"]["batch"], 1)
    p.run("ben", "profile", "payout", "set", "--paypal", "ben@example.org")
    again = tmp_path / "again"
    flow.brand("files", "--out-dir", str(again), "--rails", "paypal")
    rows = list(csv.reader(io.StringIO((again / "paypal.csv").read_text())))
    assert rows == [
        ["ben@example.org", f"{amounts[ben] // 100}.{amounts[ben] % 100:02d}", "EUR", ben[:30],
         "cocred reward, campaign summer-26", "PAYPAL"],
    ]  # fmt: skip
    assert flow.refused(
        "brand", "record", "--rail", "sepa", "--plan", str(out / "payouts.json")
    ) == (
        f"error[AlreadyPaid]: {ana} was paid {amounts[ana]} of {amounts[ana]} already in "
        f"campaign summer-26"
    )
    flow.brand("record", "--rail", "paypal", "--plan", str(again / "payouts.json"),
               "--batch", "PAYPAL-7Q2")  # fmt: skip
    status = flow.status()
    assert (status["stage"], status["paid"], status["owed"], status["unpaid"]) == (
        "settled", 100000, 0, 0,
    )  # fmt: skip

    # The audit recomputes the proposal and the settlement, and reconciles the payments.
    cocred("checkpoint", "--db", p.db)
    audited = cocred("audit", "--db", p.db).stdout
    assert "ok  5 payouts: 2 settled exports recompute from the log" in audited
    assert "ok  6 payments: 2 recorded payments match the settled lines" in audited


def test_payment_files_refuse_what_they_cannot_make(flow: Flow, tmp_path: Path) -> None:
    p = flow.p
    flow.brand("propose")
    out = str(tmp_path / "f")
    assert flow.refused("brand", "files", "--out-dir", out, "--rails", "paypal") == (
        "error[NotSettled]: campaign summer-26 is not settled: payment files come after "
        "PayoutsSettled"
    )
    time.sleep(WINDOW + 0.5)
    flow.brand("settle")
    assert flow.refused("brand", "files", "--out-dir", out, "--rails", "paypal,fax") == (
        "error[UnknownRail]: rails must be one or more of sepa, paypal, safe, each once, got "
        "paypal, fax"
    )
    assert flow.refused("ana", "files", "--out-dir", out, "--rails", "paypal") == (
        f"error[NotCampaignOwner]: only the brand {p.ids['brand']} of campaign summer-26 may "
        f"make its payment files"
    )
    assert flow.refused("brand", "files", "--out-dir", out, "--rails", "sepa") == (
        "error[BadOption]: the sepa rail needs --debtor-name and --debtor-iban"
    )
    assert flow.refused("brand", "files", "--out-dir", out, "--rails", "safe") == (
        "error[BadOption]: the safe rail needs --token (the ERC-20 of the campaign's currency)"
    )
    p.run("ana", "profile", "payout", "set", "--eth", ADDRESS)
    made = flow.brand("files", "--out-dir", out, "--rails", "safe,paypal", "--token", TOKEN)
    assert made["rails"]["safe"]["payees"] == 1
    rows = (tmp_path / "f" / "safe.csv").read_text().splitlines()
    assert rows[0] == "token_type,token_address,receiver,amount,id"
    assert rows[1].startswith(f"erc20,{TOKEN},{ADDRESS},")
    assert flow.refused("brand", "record", "--rail", "safe", "--plan", out + "/payouts.json") == (
        "error[BadOption]: rail safe is a chain: give --tx"
    )
    tx = "0x" + "ab" * 32
    flow.brand("record", "--rail", "safe", "--plan", out + "/payouts.json", "--tx", tx,
               "--batch", "safe-1")  # fmt: skip
    paid = flow.status()["payments"][0]
    assert paid["payments"] == [
        {"member": p.ids["ana"], "amount": paid["payments"][0]["amount"], "to": ADDRESS}
    ]
    assert (paid["token"], paid["decimals"], paid["tx"]) == (TOKEN, 6, tx)


def test_a_sepa_file_for_a_campaign_not_in_euros_is_refused(tmp_path: Path) -> None:
    p = People(tmp_path, f"sqlite:///{tmp_path}/usd.sqlite")
    p.run("brand", "campaign", "open", "--campaign", "usd-26", "--title", "Dollars",
          "--guidelines", p.file("g.txt", b"g"), "--currency", "USD", "--pool", "0",
          "--objection-window", "0")  # fmt: skip
    p.run("brand", "campaign", "close", "--campaign", "usd-26")
    p.json("brand", "payouts", "propose", "--campaign", "usd-26")
    p.json("brand", "payouts", "settle", "--campaign", "usd-26")
    assert refused("payouts", "files", "--campaign", "usd-26", "--out-dir", str(tmp_path / "x"),
                   "--rails", "sepa", "--debtor-name", "B", "--debtor-iban", IBAN_BRAND,
                   "--key", p.key("brand"), "--db", p.db) == (
        "error[SepaNeedsEuro]: campaign usd-26 pays in USD: a SEPA credit transfer moves "
        "euros only"
    )  # fmt: skip


def test_a_proposal_with_more_payees_than_one_event_holds_goes_in_parts(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("domain.payout_services.MAX_PAYEES", 1)  # the campaign has 2 payees
    proposed = flow.brand("propose")
    assert (proposed["type"], proposed["lines"], proposed["parts"]) == ("PayoutsProposed", 2, 2)
    first = proposed["position"]
    assert proposed["positions"] == [first, first + 1]
    shown = flow.status()
    assert shown["proposal"]["complete"] is True
    assert shown["proposal"]["payees"] == 2


def test_a_proposal_cut_short_between_two_parts_is_finished_by_proposing_again(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("domain.payout_services.MAX_PAYEES", 1)

    def crash(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt  # the process dies after the first part is durable

    with monkeypatch.context() as m:
        m.setattr("domain.commands.payouts_proposal_part", crash)
        cocred("payouts", "propose", "--campaign", "summer-26", "--key", flow.p.key("brand"),
               "--db", flow.p.db, code=130)  # fmt: skip
    shown = flow.status()["proposal"]
    assert (shown["complete"], shown["payees"], shown["parts"]) == (False, 1, 2)
    text = cocred("payouts", "status", "--campaign", "summer-26", "--db", flow.p.db).stdout
    assert (
        f"proposal {shown['proposal']}: 1 payees in the log of 2, not all its 2 parts yet "
        f"(propose again to append the others)" in " ".join(text.split())
    )
    assert flow.refused("ana", "object", "--reason", "wrong-amount") == (
        f"error[ProposalIncomplete]: campaign summer-26: proposal {shown['proposal']} has 1 of "
        f"its 2 parts; PayoutObjected waits for the last one"
    )
    again = flow.brand("propose")
    assert (again["proposal"], again["type"]) == (shown["proposal"], "PayoutsProposalPart")
    assert flow.status()["proposal"]["complete"] is True
