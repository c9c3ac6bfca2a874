"""The payout sections of the pages: the campaign's (proposal, settlement, payments, and the
published claim tree of the on-chain claims rail) and a payee's (their amount, what is
still owed, and where to claim it)."""

from __future__ import annotations

import html as markup
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.settings import Settings
from tests.api.web.test_pages import section
from tests.domain.conftest import CAMPAIGN, World, open_world

DISTRIBUTOR = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"  # EIP-55's examples
TOKEN = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
TO = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
ROOT = "0x" + "cd" * 32


@pytest.fixture
def paid(tmp_path: Path) -> Iterator[tuple[World, TestClient]]:
    """Settled: Ana 75,000, Ben 25,000 cents; Ana paid by SEPA, Ben's 25,000 in a claim tree
    of which 10,000 was claimed."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/p.sqlite", verify_threads=1)
    with bootstrap(settings) as svc, TestClient(create_app(svc)) as client:
        w = open_world(svc)
        w.propose()
        w.settle()
        w.c.record_payment(
            w.brand, CAMPAIGN, rail="sepa", batch="MSG-1", payments=[(w.ana.actor, 75_000, None)]
        )
        w.c.publish_claims(
            w.brand, CAMPAIGN, root=ROOT, chain=31337, distributor=DISTRIBUTOR, token=TOKEN,
            decimals=18, claimants=1, amount=25_000,
        )  # fmt: skip
        w.c.record_payment(
            w.brand, CAMPAIGN, rail="claims", batch=DISTRIBUTOR, tx="0x" + "ab" * 32,
            token=TOKEN, decimals=18, payments=[(w.ben.actor, 10_000, TO)],
        )  # fmt: skip
        yield w, client


def test_the_campaign_page_shows_the_payments_and_the_published_claim_tree(
    paid: tuple[World, TestClient],
) -> None:
    w, client = paid
    page = client.get(f"/c/{CAMPAIGN}")
    assert page.status_code == 200
    shown = markup.unescape(section(page.text, 'id="payments"'))
    assert "Stage: <strong>settled</strong>" in shown
    assert "<dt>Paid</dt><dd>850.00 EUR</dd>" in shown.replace("\n", "")
    assert "<dt>Owed</dt><dd>150.00 EUR</dd>" in shown.replace("\n", "")
    claims = " ".join(shown[shown.index("On-chain claims") :].split())
    book = w.c.payout_book(CAMPAIGN)
    assert book.claims is not None
    assert (
        f"Claim tree <code>{ROOT}</code> is paid by Distributor <code>{DISTRIBUTOR}</code> on "
        f"chain 31337 in token <code>{TOKEN}</code>: 250.00 EUR for 1 claimant(s), 100.00 EUR "
        f"claimed so far (published in <code>{book.claims.id}</code>"
    ) in claims


def test_a_payee_page_says_what_is_still_owed_and_where_to_claim_it(
    paid: tuple[World, TestClient],
) -> None:
    w, client = paid
    ben = client.get(f"/people/{w.ben.actor}", params={"campaign": CAMPAIGN})
    assert ben.status_code == 200
    shown = " ".join(markup.unescape(section(ben.text, 'id="payout-proposal"')).split())
    assert "Paid so far: 100.00 EUR; still owed: 150.00 EUR." in shown
    assert f"Distributor <code>{DISTRIBUTOR}</code> on chain 31337" in shown
    ana = client.get(f"/people/{w.ana.actor}", params={"campaign": CAMPAIGN})
    shown = " ".join(markup.unescape(section(ana.text, 'id="payout-proposal"')).split())
    assert "still owed: 0.00 EUR." in shown and DISTRIBUTOR not in shown  # paid in full


def test_the_campaign_page_says_what_stays_owed_to_an_erased_payee(
    paid: tuple[World, TestClient],
) -> None:
    w, client = paid
    before = " ".join(
        markup.unescape(section(client.get(f"/c/{CAMPAIGN}").text, 'id="payments"')).split()
    )
    assert "Unpaid, erased" not in before
    w.c.erase(w.ben)
    shown = " ".join(
        markup.unescape(section(client.get(f"/c/{CAMPAIGN}").text, 'id="payments"')).split()
    )
    assert "<dt>Unpaid, erased</dt><dd>150.00 EUR</dd>" in shown.replace("> <", "><")
    assert (
        "150.00 EUR of what is owed is owed to 1 erased member(s): no rail can pay them (their "
        "payout methods were erased with them), and it stays owed to them, never shared out "
        "among the others."
    ) in shown
