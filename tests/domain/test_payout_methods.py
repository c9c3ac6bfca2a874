"""Payout methods in the profile: each kind validated, set and removed one at a time, old
single handles still read, everything encrypted and shredded with the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.bootstrap import bootstrap
from api.settings import Settings
from domain.errors import InvalidPayoutMethodError, InvalidProfileError
from domain.payout_methods import EthMethod, PaypalMethod, SepaMethod
from domain.profiles import Profile, commitment
from tests.domain.conftest import World, open_world

IBAN_DE = "DE89 3704 0044 0532 0130 00"
IBAN_CH = "CH93 0076 2011 6238 5295 7"
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.mark.parametrize(
    ("attempt", "message"),
    [
        (
            lambda: SepaMethod.parse("Ana Silva", "DE89 3704 0044 0532 0130 01"),
            "sepa payout method: 'DE89 3704 0044 0532 0130 01' is not a valid IBAN "
            "(Invalid checksum digits)",
        ),
        (
            lambda: SepaMethod.parse("Ana Silva", IBAN_CH),
            "sepa payout method: IBAN CH93 0076 2011 6238 5295 7 is outside the EEA: a "
            "transfer to it needs the bank's BIC",
        ),
        (
            lambda: SepaMethod.parse("Ana Silva", IBAN_DE, "COBADEF"),
            "sepa payout method: 'COBADEF' is not a valid BIC (Invalid length '7')",
        ),
        (
            lambda: SepaMethod.parse("", IBAN_DE),
            "sepa payout method: the account holder must be a name of 1-70 characters",
        ),
        (
            lambda: SepaMethod.parse("Ana", "BR15 0000 0000 0000 1093 2840 814P 2"),
            "sepa payout method: IBAN BR15 0000 0000 0000 1093 2840 814P 2 is outside the "
            "SEPA zone",
        ),
        (
            lambda: PaypalMethod.parse("ana@localhost"),
            "paypal payout method: 'ana@localhost' is not an email address",
        ),
        (
            lambda: PaypalMethod.parse("+33 1 23"),
            "paypal payout method: '+33 1 23' is not a valid phone number",
        ),
        (
            lambda: PaypalMethod.parse("0612345678"),
            "paypal payout method: '0612345678' is neither an email address nor a phone number "
            "in international form (+country code)",
        ),
        (
            lambda: EthMethod.parse(ADDRESS.lower()),
            f"eth payout method: {ADDRESS.lower()} does not carry a valid EIP-55 checksum "
            f"(mixed case); copy the address from your wallet as it shows it",
        ),
        (
            lambda: EthMethod.parse(ADDRESS.replace("a", "A", 1)),
            f"eth payout method: {ADDRESS.replace('a', 'A', 1)} does not carry a valid EIP-55 "
            f"checksum (mixed case); copy the address from your wallet as it shows it",
        ),
        (
            lambda: EthMethod.parse("0x1234"),
            "eth payout method: '0x1234' is not an Ethereum address (0x + 40 hex digits)",
        ),
    ],
)
def test_a_bad_payout_method_is_refused_with_the_reason(attempt, message: str) -> None:
    with pytest.raises(InvalidPayoutMethodError) as caught:
        attempt()
    assert caught.value.detail == message


def test_good_methods_are_kept_in_their_canonical_form() -> None:
    sepa = SepaMethod.parse(" Ana Silva ", IBAN_DE.lower())
    assert sepa.to_json() == {"holder": "Ana Silva", "iban": "DE89370400440532013000"}
    assert sepa.handle == IBAN_DE
    swiss = SepaMethod.parse("Ana Silva", IBAN_CH, "UBSWCHZH80A")
    assert swiss.bic == "UBSWCHZH80A"
    assert PaypalMethod.parse("+33 6 12 34 56 78").to_json() == {"phone": "+33612345678"}
    assert PaypalMethod.parse("ana@example.org").to_json() == {"email": "ana@example.org"}
    assert EthMethod.parse(ADDRESS).address == ADDRESS


def test_each_field_and_method_is_set_and_removed_on_its_own() -> None:
    profile = Profile().changed(display_name="Ana")
    profile = profile.changed(email="ana@example.org")
    profile = profile.changed(method=SepaMethod.parse("Ana Silva", IBAN_DE))
    profile = profile.changed(method=EthMethod.parse(ADDRESS))
    assert sorted(profile.methods()) == ["eth", "sepa"]
    profile = profile.changed(remove="sepa")
    assert profile.to_json() == {
        "display_name": "Ana",
        "email": "ana@example.org",
        "payout": {"eth": {"address": ADDRESS}},
    }
    assert Profile.from_json(profile.to_json()) == profile
    with pytest.raises(InvalidProfileError) as caught:
        profile.changed(remove="paypal")
    assert caught.value.detail == "the profile has no paypal payout method"


@pytest.mark.parametrize(
    ("handle", "kind", "shown"),
    [
        (IBAN_DE, "sepa", IBAN_DE),
        ("ana@example.org", "paypal", "ana@example.org"),
        (ADDRESS.lower(), "eth", ADDRESS),
    ],
)
def test_an_old_single_handle_reads_as_the_method_it_parses_as(
    handle: str, kind: str, shown: str
) -> None:
    old = Profile.create("Ana Silva", "ana@example.org", handle)
    assert old.to_json() == {
        "display_name": "Ana Silva", "email": "ana@example.org", "payout_handle": handle,
    }  # fmt: skip
    method = old.methods()[kind]
    assert method.handle == shown
    moved = old.changed(method=PaypalMethod.parse("+33612345678") if kind != "paypal" else None)
    assert moved.payout_handle is None or kind == "paypal"


def test_an_old_handle_that_is_no_method_is_kept_but_pays_nothing() -> None:
    old = Profile.create("Ana", "ana@example.org", "DE00 DEMO 0001 00000000")
    assert old.methods() == {}
    assert old.payout_handle == "DE00 DEMO 0001 00000000"


def test_an_old_profile_still_opens_its_commitment() -> None:
    """The old JSON shape is kept byte for byte, so a stored old profile still matches the
    ProfileCommitted in the log."""
    old = Profile.create("Ana", "ana@example.org", "FR76 1234")
    legacy_bytes = b'{"display_name":"Ana","email":"ana@example.org","payout_handle":"FR76 1234"}'
    assert old.canonical_bytes() == legacy_bytes
    salt = b"s" * 32
    import hashlib

    assert commitment(salt, old) == hashlib.sha256(salt + legacy_bytes).hexdigest()


def test_payout_methods_are_stored_encrypted_and_shredded_on_erasure(tmp_path: Path) -> None:
    path = tmp_path / "methods.sqlite"
    with bootstrap(Settings(database_url=f"sqlite:///{path}", verify_threads=1)) as svc:
        w: World = open_world(svc)
        w.c.update_profile(w.ana, display_name="Zelda Quartermaine")
        w.c.update_profile(w.ana, method=SepaMethod.parse("Zelda Quartermaine", IBAN_DE))
        w.c.update_profile(w.ana, method=PaypalMethod.parse("zelda@unlikely-domain.example"))
        stored = svc.profiles.get(w.ana.actor)
        assert stored is not None and sorted(stored.methods()) == ["paypal", "sepa"]
        assert stored.display_name == "Zelda Quartermaine", "one field at a time keeps the rest"
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert b"DE89370400440532013000" not in on_disk
        assert b"unlikely-domain" not in on_disk
        w.c.erase(w.ana)
        assert svc.profiles.get(w.ana.actor) is None
        after = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        for clear in (b"DE89370400440532013000", b"unlikely-domain", b"Quartermaine"):
            assert clear not in after
