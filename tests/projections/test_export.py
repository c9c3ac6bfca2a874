"""Exports and settlement: the canonical export, its hash in the log, the auditor's recompute."""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction

import orjson
import pytest
from eth_utils import to_checksum_address

from domain.errors import AlreadySettledError as DomainAlreadySettled
from domain.gate import CampaignApp
from domain.payout_methods import PaypalMethod
from domain.profiles import Profile
from ledger.canonical import canonical
from ledger.ledger import Ledger
from projections.errors import (
    AlreadySettledError,
    CampaignNotClosedError,
    ExportError,
    MissingPayoutHandleError,
    NotCampaignOwnerError,
    NothingToPayError,
)
from projections.export import (
    Settlement,
    SettlementLine,
    check_settlements,
    prepare_settlement,
    recompute_settlement,
    render,
    settlement_envelope,
    settlement_of,
)
from projections.state import load_state
from tests.projections.builders import Script, campaign_of


class Profiles:
    """Profiles of the old shape (one free-text handle), read as the method each parses as."""

    def __init__(self, handles: dict[str, str]) -> None:
        self.handles = handles

    def get_many(self, members):
        return {
            m: Profile.create(None, None, self.handles[m]) for m in members if m in self.handles
        }


def small_campaign(pool: int = 1000) -> Script:
    """ana 5 points, ben 3 points, cy nothing: 1000 cents split 625 / 375."""
    script = Script(pool=pool, legacy=True)  # settles without a proposal, as old logs did
    script.join("ana", "ben", "cy")
    script.vote("cy", script.submit("ana"), "share")
    script.vote("ana", script.submit("ben"), "comment")
    script.vote("ben", script.submit("ana", "second"), "support")
    return script


def test_the_export_is_canonical_json_without_personal_data_and_its_hash_is_sha256() -> None:
    script = small_campaign()
    script.close()
    settlement = settlement_of(campaign_of(script))
    ana, ben = script.id("ana"), script.id("ben")
    document = orjson.loads(settlement.export)
    assert document == {
        "format": "cocred-payouts/1",
        "campaign": "summer-26",
        "closed_at": len(script.records()) - 1,
        "policy": {"name": "cocred-fair", "version": 1},
        "currency": "EUR",
        "total": 1000,
        "lines": sorted(
            [
                {"member": ana, "amount": 625, "share": "5/8", "explanation": f"summer-26/{ana}"},
                {"member": ben, "amount": 375, "share": "3/8", "explanation": f"summer-26/{ben}"},
            ],
            key=lambda line: line["member"],
        ),
    }
    assert settlement.export == canonical(document)
    assert settlement.sha256 == hashlib.sha256(settlement.export).hexdigest()
    assert settlement.body() == {
        "policy": {"name": "cocred-fair", "version": 1},
        "total": 1000,
        "currency": "EUR",
        "export": settlement.sha256,
        "lines": 2,
    }


def test_a_settled_export_recomputes_to_the_same_hash_from_the_log_later(ledger: Ledger) -> None:
    script = small_campaign()
    script.close()
    script.flush(ledger)
    settlement = prepare_settlement(load_state(ledger.store).campaign("summer-26"), script.brand.id)
    brand = script.brand
    brand.seq += 1
    gate = CampaignApp(ledger)
    settled_at = gate.append(settlement_envelope(brand.key, settlement, seq=brand.seq))
    later = Script("autumn-26", seed=9)  # the log goes on: another campaign
    later.join("dan")
    later.submit("dan")
    later.flush(ledger)
    data, digest = recompute_settlement(ledger.store, "summer-26")
    assert (data, digest) == (settlement.export, settlement.sha256)
    assert check_settlements(ledger.store) == (1, [])
    brand.seq += 1
    with pytest.raises(DomainAlreadySettled):  # the domain refuses a second settlement…
        gate.append(settlement_envelope(brand.key, settlement, seq=brand.seq))
    with pytest.raises(AlreadySettledError) as caught:  # …and so do the projections
        prepare_settlement(load_state(ledger.store).campaign("summer-26"), brand.id)
    assert caught.value.detail == (
        f"campaign summer-26 was settled already at position {settled_at}"
    )


def test_the_auditor_finds_a_settlement_that_does_not_match_the_log(ledger: Ledger) -> None:
    script = small_campaign()
    script.close()
    script.settle("0" * 64, total=1000, lines=2)
    script.flush(ledger)
    checked, failures = check_settlements(ledger.store)
    _, digest = recompute_settlement(ledger.store, "summer-26")
    assert checked == 1 and len(failures) == 1
    assert failures[0].position == ledger.size() - 1
    assert failures[0].step == "payouts"
    assert failures[0].detail == (
        f"campaign summer-26: PayoutsSettled at position {ledger.size() - 1} records export "
        f"'{'0' * 64}', the log recomputes '{digest}'"
    )


def test_settling_is_refused_before_the_close_by_others_and_with_nothing_to_pay() -> None:
    script = small_campaign()
    state = campaign_of(script)
    with pytest.raises(CampaignNotClosedError) as caught:
        prepare_settlement(state, script.brand.id)
    assert caught.value.detail == (
        "campaign summer-26 is still open: payouts are settled after CampaignClosed"
    )
    script.close()
    with pytest.raises(NotCampaignOwnerError) as refused:
        prepare_settlement(campaign_of(script), script.id("ana"))
    assert refused.value.detail == (
        f"only the brand of campaign summer-26 ({script.brand.id}) may settle its payouts"
    )
    empty = Script(pool=500)
    empty.close()
    with pytest.raises(NothingToPayError) as nothing:
        prepare_settlement(campaign_of(empty), empty.brand.id)
    assert nothing.value.detail == "campaign summer-26 has a pool of 500 but nobody earned credit"


def formats_fixture() -> tuple[Settlement, str, str]:
    script = small_campaign()
    script.close()
    return settlement_of(campaign_of(script)), script.id("ana"), script.id("ben")


def test_the_generic_csv_and_json_name_handle_amount_share_and_explanation() -> None:
    settlement, ana, ben = formats_fixture()
    profiles = Profiles({ana: "=ana@example.org", ben: "ben@example.org"})
    rows = render(settlement, "csv", profiles).decode().splitlines()
    assert rows[0] == "member,payout_handle,amount,amount_minor,currency,share,explanation"
    assert f"{ana},'=ana@example.org,6.25,625,EUR,5/8,summer-26/{ana}" in rows  # no formula
    document = json.loads(render(settlement, "json", profiles))
    assert document["export_sha256"] == settlement.sha256
    assert {line["member"]: line["amount"] for line in document["lines"]} == {
        ana: "6.25",
        ben: "3.75",
    }
    assert render(settlement, "canonical") == settlement.export
    blank = render(settlement, "csv", None).decode().splitlines()
    assert f"{ben},,3.75,375,EUR,3/8,summer-26/{ben}" in blank


def test_the_safe_airdrop_file_pays_ethereum_addresses_in_major_units() -> None:
    settlement, ana, ben = formats_fixture()
    wallets = Profiles({ana: "0x" + "a" * 40, ben: "0x" + "B" * 40})
    a, b = to_checksum_address("0x" + "a" * 40), to_checksum_address("0x" + "b" * 40)
    token = "0x" + "1" * 40
    text = render(settlement, "safe-csv", wallets, token_address=token).decode()
    lines = sorted(text.splitlines()[1:])
    assert text.splitlines()[0] == "token_type,token_address,receiver,amount,id"
    assert lines == sorted([f"erc20,{token},{a},6.25,", f"erc20,{token},{b},3.75,"])
    native = render(settlement, "safe-csv", wallets).decode().splitlines()
    assert f"native,,{a},6.25," in native
    with pytest.raises(MissingPayoutHandleError) as caught:  # an email is no eth method
        render(settlement, "safe-csv", Profiles({ana: "ana@example.org", ben: "0x" + "b" * 40}))
    assert caught.value.detail == (
        f"safe-csv: 1 payee(s) have no payout handle in the profile store "
        f"(never given, or erased): {ana}"
    )


def test_the_paypal_file_has_paypals_columns_and_no_header() -> None:
    settlement, ana, ben = formats_fixture()
    text = render(settlement, "paypal-csv", Profiles({ana: "ana@example.org", ben: "+33612345678"}))
    assert sorted(text.decode().splitlines()) == sorted(
        [
            f'ana@example.org,6.25,EUR,{ana[:30]},"cocred reward, campaign summer-26",PAYPAL',
            f'+33612345678,3.75,EUR,{ben[:30]},"cocred reward, campaign summer-26",PAYPAL',
        ]
    )
    with pytest.raises(MissingPayoutHandleError) as caught:
        render(settlement, "paypal-csv", Profiles({ana: "ana@example.org"}))
    assert caught.value.detail == (
        f"paypal-csv: 1 payee(s) have no payout handle in the profile store "
        f"(never given, or erased): {ben}"
    )


def test_paypal_files_hold_at_most_five_thousand_rows_and_formats_are_checked() -> None:
    lines = tuple(SettlementLine(f"m{i:05d}", 1, Fraction(1, 5001)) for i in range(5001))
    big = Settlement("c", "b", 1, "EUR", 5001, lines, b"{}", "0" * 64)
    profiles = Profiles({line.member: f"{line.member}@example.org" for line in lines})
    profiles.get_many = lambda members: {  # type: ignore[method-assign]
        m: Profile(payout={"paypal": PaypalMethod(f"{m}@example.org")}) for m in members
    }
    with pytest.raises(ExportError) as caught:
        render(big, "paypal-csv", profiles)
    assert caught.value.detail == (
        "paypal-csv: 5001 payees is over PayPal Payouts Web's 5000 rows per file"
    )
    with pytest.raises(ExportError) as unknown:
        render(big, "xlsx")
    assert unknown.value.detail == (
        "unknown export format 'xlsx'; use one of csv, json, safe-csv, paypal-csv, canonical"
    )
