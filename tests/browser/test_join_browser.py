"""Joining a campaign from the browser (``/c/{campaign}/join``, ``static/join.js``), in
Debian's Chromium: the key is made in the page, its backup is downloaded before anything is
stored, the page signs ``KeyRegistered`` and ``MemberJoined`` and posts them as one batch;
no request carries the private key or the passphrase; the backup opens in Python; the key
kept in IndexedDB is non-extractable; a refusal shows the API's typed sentence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import bootstrap
from api.settings import Settings
from ledger.key_backup import open_backup
from tests.api.cli.test_campaign import cocred
from tests.browser.support import Server, sign_and_send, wait_until

PASSPHRASE = "correct horse battery"


@pytest.fixture(scope="module")
def campaigns(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An open campaign and an invite-only one of the demo's brand, on the served database."""
    tmp = tmp_path_factory.mktemp("join")
    guidelines = tmp / "g.txt"
    guidelines.write_bytes(b"Be kind; post your own work.")
    made = {}
    for name, mode in (("open", "open"), ("invited", "invite-only")):
        campaign = f"browser-{name}"
        cocred("campaign", "open", "--campaign", campaign, "--title", f"Browser {name}",
               "--guidelines", str(guidelines), "--membership", mode, "--key",
               str(server.brand_key), "--db", server.database_url)  # fmt: skip
        made[name] = campaign
    return made


def join(
    page: Any, campaign: str, tmp: Path, code: str | None = None, shown: list[str] | None = None
) -> tuple[str, list[str]]:
    """Join ``campaign`` on its page; (the downloaded backup's text, every request body).

    The recovery code the page shows once goes into ``shown`` (when given)."""
    bodies: list[str] = []
    page.on("request", lambda request: bodies.append(request.post_data or ""))
    page.goto(f"/c/{campaign}/join")
    if code is not None:
        page.fill("#invite-code", code)
    page.fill("#passphrase", PASSPHRASE)
    page.fill("#passphrase-again", PASSPHRASE)
    page.click("#make-key")
    page.wait_for_selector("#backup-step:not([hidden])")
    with page.expect_download() as download:
        page.click("#backup-link")
    saved = tmp / download.value.suggested_filename
    download.value.save_as(saved)
    page.check("#backup-saved")
    assert page.is_disabled("#join-button")  # not before the recovery code is written down
    if shown is not None:
        shown.append(page.inner_text("#recovery-code"))
    page.check("#recovery-written")
    page.click("#join-button")
    wait_until(page, "document.getElementById('join-result').textContent.length > 0")
    return saved.read_text(), bodies


def test_a_newcomer_joins_from_the_browser_and_nothing_secret_leaves_it(
    page: Any, server: Server, campaigns: dict[str, str], tmp_path: Path
) -> None:
    backup, bodies = join(page, campaigns["open"], tmp_path)
    key = open_backup(backup.encode(), PASSPHRASE)
    result = page.inner_text("#join-result")
    assert result.startswith(f"You joined as {key.actor}. Your key is kept in this browser")
    shown = page.inner_text("#to-sign")  # what was signed, shown before the signature
    assert shown.startswith("KeyRegistered (seq 1)\n") and key.to_jwk()["x"] in shown
    assert f"MemberJoined (seq 2, campaign {campaigns['open']})" in shown
    secret = key.to_jwk()["d"]
    posted = [b for b in bodies if b]
    assert len(posted) == 1  # the one batch, and nothing else
    assert all(secret not in b and PASSPHRASE not in b for b in bodies)
    lines = [json.loads(line) for line in posted[0].splitlines()]
    assert [(e["type"], e["seq"], e["actor"]) for e in lines] == [
        ("KeyRegistered", 1, key.actor), ("MemberJoined", 2, key.actor),
    ]  # fmt: skip
    settings = Settings(database_url=server.database_url)
    with bootstrap(settings) as svc:
        assert svc.campaigns.gate.read(
            lambda state: (campaigns["open"], key.actor) in state.memberships
        )
    kept = page.evaluate(
        """() => new Promise((resolve) => {
          const opening = indexedDB.open("cocred", 1);
          opening.onsuccess = () => {
            const get = opening.result.transaction("keys").objectStore("keys").getAll();
            get.onsuccess = () =>
              resolve(get.result.map((r) => [r.actor, r.signingKey.extractable]));
          };
        })"""
    )
    assert kept == [[key.actor, False]]


@pytest.mark.parametrize("width", [1366, 390])
def test_the_join_page_has_no_serious_accessibility_violation(
    browser: Any, server: Server, campaigns: dict[str, str], width: int
) -> None:
    from tests.browser.test_accessibility import _violations

    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
    try:
        tab = context.new_page()
        for campaign in campaigns.values():
            tab.goto(f"/c/{campaign}")
            assert tab.get_attribute("a[href$='/join']", "href") == f"/c/{campaign}/join"
            tab.goto(f"/c/{campaign}/join")
            tab.wait_for_selector("#join-form:not([hidden])")
            assert _violations(tab) == []
            tab.goto(f"/c/{campaign}/submit")  # no key in this browser: it says how to get one
            assert tab.is_visible(".needs-key") and _violations(tab) == []
    finally:
        context.close()


def test_a_refused_join_shows_the_apis_typed_sentence(
    page: Any, campaigns: dict[str, str], tmp_path: Path
) -> None:
    campaign = campaigns["invited"]
    _, _ = join(page, campaign, tmp_path, code="AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
    assert page.inner_text("#join-result").startswith("error[UnknownInviteCode]: ")


def test_without_javascript_the_page_says_how_to_join_with_the_cli(
    browser: Any, server: Server, campaigns: dict[str, str]
) -> None:
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto(f"/c/{campaigns['open']}/join")
        assert tab.is_visible(".needs-script") and not tab.is_visible("#join-form")
        assert f"cocred join --key me.key --campaign {campaigns['open']}" in tab.inner_text(
            ".needs-script"
        )
    finally:
        context.close()


def kept_keys(page: Any) -> list[list[Any]]:
    """(actor, extractable) of every key the page's IndexedDB keeps."""
    return page.evaluate(
        """async () => (await (await import('/static/key_store.js')).storedKeys())
             .map((r) => [r.actor, r.signingKey.extractable])"""
    )


def test_a_backup_brings_the_key_to_a_second_device(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    """A fresh context stands for another device: the backup ``cocred keys backup`` wrote is
    opened there, the key kept non-extractable; a wrong passphrase is the typed sentence."""
    key_file, backup, secret = tmp_path / "ana.key", tmp_path / "ana.backup", tmp_path / "p"
    secret.write_text(PASSPHRASE + "\n")
    actor = json.loads(cocred("keys", "new", "--out", str(key_file)).stdout)["actor"]
    cocred("keys", "backup", "--key", str(key_file), "--out", str(backup), "--passphrase-file",
           str(secret))  # fmt: skip
    context = browser.new_context(base_url=server.url)
    try:
        tab = context.new_page()
        bodies: list[str] = []
        tab.on("request", lambda request: bodies.append(request.post_data or ""))
        tab.goto("/keys/import")
        tab.set_input_files("#backup-file", str(backup))
        tab.fill("#import-passphrase", "not it")
        tab.click("#import-button")
        wait_until(tab, "document.getElementById('import-result').textContent.length > 0")
        assert tab.inner_text("#import-result") == (
            f"error[WrongPassphrase]: this passphrase does not open the key backup of {actor} "
            f"(or the file was altered)"
        )
        tab.fill("#import-passphrase", PASSPHRASE)
        tab.click("#import-button")
        wait_until(
            tab, "document.getElementById('import-result').textContent.includes('is now kept')"
        )
        assert kept_keys(tab) == [[actor, False]]
        assert not any(bodies)  # the file and the passphrase stayed in the page
        from tests.browser.test_accessibility import _violations

        assert _violations(tab) == []
    finally:
        context.close()


def test_a_member_who_joined_in_the_browser_votes_there_and_a_second_vote_is_refused(
    page: Any, server: Server, campaigns: dict[str, str], tmp_path: Path
) -> None:
    campaign = campaigns["open"]
    author_key, work = tmp_path / "author.key", tmp_path / "work.txt"
    work.write_bytes(b"a kite shaped like a fish")
    author = json.loads(cocred("keys", "new", "--out", str(author_key)).stdout)["actor"]
    db = ("--key", str(author_key), "--db", server.database_url)
    cocred("keys", "register", *db)
    cocred("join", "--campaign", campaign, *db)
    cocred("submit", "--campaign", campaign, "--content", str(work), "--kind", "idea",
           "--title", "Fish kite", *db)  # fmt: skip
    join(page, campaign, tmp_path)
    page.goto(f"/people/{author}?campaign={campaign}")
    form = page.locator("form[data-act='vote']").first
    form.wait_for(state="visible")
    form.locator("select").select_option("support")
    shown, answer = sign_and_send(page, form)
    contribution = form.get_attribute("data-contribution")
    assert shown == f'VoteCast\n{{"contribution":"{contribution}","kind":"support"}}'
    assert answer.startswith("Signed and recorded: VoteCast at log position ")
    _, again = sign_and_send(page, form)
    assert again.startswith("error[DuplicateVote]: ")


def test_a_member_submits_a_piece_from_the_browser_and_a_mislabelled_file_is_refused(
    page: Any, server: Server, campaigns: dict[str, str], tmp_path: Path
) -> None:
    campaign = campaigns["open"]
    backup, _ = join(page, campaign, tmp_path)
    actor = open_backup(backup.encode(), PASSPHRASE).actor
    piece = tmp_path / "idea.txt"
    piece.write_bytes(b"A bench that doubles as a planter.")
    page.goto(f"/c/{campaign}/submit")
    form = page.locator("form[data-act='submit']")
    form.wait_for(state="visible")
    assert not page.is_visible(".needs-key")

    def submit(kind: str, title: str) -> str:
        page.set_input_files("#piece-file", str(piece))
        page.select_option("#piece-kind", kind)
        page.fill("#piece-title", title)
        shown, answer = sign_and_send(page, form)
        digest = hashlib.sha256(piece.read_bytes()).hexdigest()
        assert shown == (
            f'ContributionSubmitted\n{{"content":"{digest}","derived_from":[],"kind":"{kind}",'
            f'"title":"{title}"}}'
        )
        return answer

    refused = submit("photo", "Not a photo")
    assert refused.startswith("error[ContentKindMismatch]: "), refused
    assert submit("idea", "Bench planter").startswith(
        "Signed and recorded: ContributionSubmitted at log position "
    )
    with bootstrap(Settings(database_url=server.database_url)) as svc:
        titles = svc.campaigns.gate.read(
            lambda state: [w.title for w in state.contributions.values() if actor in w.authors]
        )
    assert titles == ["Bench planter"]


def test_a_key_lost_and_recovered_with_the_printed_code(
    browser: Any, server: Server, campaigns: dict[str, str], tmp_path: Path
) -> None:
    """Sign up (the recovery code shown once, only its public key sent), lose the key (a
    fresh context: no key, no backup), recover with the code on /keys/recover: the ledger
    holds the pending recovery, and once the delay has passed the new key kept in the
    browser signs for the actor."""
    from datetime import timedelta

    from ledger.actors import RECOVERY_DELAY
    from ledger.envelope import Envelope, format_ts
    from ledger.keys import public_jwk
    from ledger.ledger import Ledger
    from ledger.recovery import read_recovery_code
    from ledger.store import open_store

    first = browser.new_context(base_url=server.url, accept_downloads=True)
    shown: list[str] = []
    try:
        backup, bodies = join(first.new_page(), campaigns["open"], tmp_path, shown=shown)
    finally:
        first.close()
    code, actor = shown[0], open_backup(backup.encode(), PASSPHRASE).actor
    recovery = read_recovery_code(code, actor)
    registered = json.loads(next(b for b in bodies if b).splitlines()[0])
    assert registered["body"]["recovery"] == public_jwk(recovery.public_bytes)
    assert not any(code in b or code.replace("-", "") in b for b in bodies)

    lost = browser.new_context(base_url=server.url)
    try:
        tab = lost.new_page()
        sent: list[str] = []
        tab.on("request", lambda request: sent.append(request.post_data or ""))
        tab.goto("/keys/recover")
        tab.fill("#recover-actor", actor)
        tab.fill("#recover-code", ("B" if code[0] != "B" else "C") + code[1:])  # a typo
        tab.click("#recover-button")
        wait_until(tab, "document.getElementById('recover-result').textContent.length > 0")
        assert tab.inner_text("#recover-result") == (
            "error[BadRecoveryCode]: the recovery code's checksum does not match: a group was "
            "mistyped"
        )
        tab.fill("#recover-code", code.lower().replace("-", " "))
        tab.click("#recover-button")
        wait_until(
            tab, "document.getElementById('recover-result').textContent.startsWith('Recovery')"
        )
        kept = tab.evaluate(
            """async () => (await (await import('/static/key_store.js')).storedKeys())
                 .map((r) => [r.actor, r.kid, r.signingKey.extractable])"""
        )
        assert len(kept) == 1 and kept[0][0] == actor and kept[0][2] is False
        new_kid = kept[0][1]
        assert tab.inner_text("#recover-result").startswith(
            f"Recovery requested for {actor} (seq 3). Your new key {new_kid} is kept in this "
            f"browser and signs for you from "
        )
        posted = [json.loads(b) for b in sent if b]
        assert [(e["type"], e["key"]) for e in posted] == [("RecoveryRequested", recovery.key_id)]
        assert not any(code.replace("-", "") in b.upper() for b in sent)

        shown_state = tab.evaluate("async (a) => (await fetch('/actors/' + a)).json()", actor)
        assert shown_state["pending_recovery"]["key"] == new_kid  # what a page can show
        store = open_store(server.database_url)
        ledger = Ledger(store, max_clock_skew=timedelta(minutes=5))
        state = ledger.actor_state(actor)
        assert state is not None and state.pending is not None and state.pending.key == new_kid
        effective = state.pending.effective
        assert effective == Envelope.from_json(posted[0]).time + RECOVERY_DELAY
        # the delay passed: the key in the browser signs, dated then, and the ledger (its
        # clock set there) takes it; the lost key is refused from then on
        signed = tab.evaluate(
            """async ({ ts }) => {
                 const { storedKeys } = await import('/static/key_store.js');
                 const { signEnvelope } = await import('/static/keys.js');
                 const [r] = await storedKeys();
                 return signEnvelope(r.signingKey, { actor: r.actor, kid: r.kid },
                   'NoteShared', { text: 'my key is back' }, { seq: 4, ts });
               }""",
            {"ts": format_ts(effective)},
        )
        later = Ledger(store, clock=lambda: effective)
        later.append(Envelope.from_json(signed))
        after = later.actor_state(actor)
        assert after is not None and after.current is not None and after.current.key == new_kid
        assert after.keys[0].recovered and after.keys[0].until == 4
        store.close()
    finally:
        lost.close()
