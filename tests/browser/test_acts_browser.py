"""The acts a member signs on the pages with the generic ``data-act="event"`` forms of
``static/act.js``, in Debian's Chromium: each shows the exact type and canonical body it
will sign before "Sign and send", lands in the log (the position shown), and a refusal is
the API's typed sentence; texts go to the content store and only their hash is signed;
no request carries the key; without JavaScript each section names the ``cocred`` verb.

Co-authorship (accept, decline) and reports of a piece on the contributor page; a
comment, a reply and a report of a comment on the thread page."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import bootstrap
from api.settings import Settings
from domain.vocabulary import DEFAULT_POLICY_V1
from ledger.key_backup import open_backup
from tests.api.cli.test_campaign import cocred
from tests.browser.support import Server, sign_and_send, wait_until
from tests.browser.test_join_browser import PASSPHRASE, join
from tests.support import unavailable

CAMPAIGN = "browser-acts"


def open_campaign(server: Server, campaign: str, tmp: Path, *options: str) -> None:
    """Open ``campaign`` as the demo's brand by the CLI, with ``options`` of campaign open."""
    guidelines = tmp / f"{campaign}-guidelines.txt"
    guidelines.write_bytes(b"Be kind; post your own work.")
    cocred("campaign", "open", "--campaign", campaign, "--title", campaign, "--guidelines",
           str(guidelines), *options, "--key", str(server.brand_key),
           "--db", server.database_url)  # fmt: skip


def member(server: Server, campaign: str, tmp: Path, name: str) -> tuple[Path, str]:
    """A member with a key file who joined ``campaign`` by the CLI: (key file, actor)."""
    key = tmp / f"{name}.key"
    actor = json.loads(cocred("keys", "new", "--out", str(key)).stdout)["actor"]
    db = ("--key", str(key), "--db", server.database_url)
    cocred("keys", "register", *db)
    cocred("join", "--campaign", campaign, *db)
    return key, actor


@pytest.fixture(scope="module")
def author(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A campaign (the default policy: co-authors must consent) and an author with a key
    file who joined it by the CLI."""
    tmp = tmp_path_factory.mktemp("acts")
    open_campaign(server, CAMPAIGN, tmp)
    key, actor = member(server, CAMPAIGN, tmp, "author")
    db = ("--key", str(key), "--db", server.database_url)
    return {"actor": actor, "db": db, "tmp": tmp}


def submit(author: dict[str, Any], title: str, *coauthors: str) -> str:
    """The id of a piece ``author`` submits by the CLI, naming ``coauthors`` (40% each of
    at most one; the author keeps the rest)."""
    work = author["tmp"] / f"{title}.txt"
    work.write_text(f"The idea called {title}.")
    named = [a for c in coauthors for a in ("--author", f"{c}=40")]
    if named:
        named += ["--author", f"{author['actor']}=60"]
    done = cocred("submit", "--campaign", CAMPAIGN, "--content", str(work), "--kind", "idea",
                  "--title", title, *named, *author["db"])  # fmt: skip
    return str(json.loads(done.stdout)["contribution"])


def work(contribution: str) -> str:
    """The selector of a piece's article on the contributor page (its id holds a colon)."""
    return f"[id='c-{contribution}']"


def test_a_named_coauthor_accepts_one_piece_and_declines_another(
    page: Any, server: Server, author: dict[str, Any], tmp_path: Path
) -> None:
    backup, _ = join(page, CAMPAIGN, tmp_path)
    me = open_backup(backup.encode(), PASSPHRASE).actor
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.post_data or ""))
    accepted = submit(author, "Kite bench", me)
    declined = submit(author, "Not mine", me)
    page.goto(f"/people/{author['actor']}?campaign={CAMPAIGN}")
    accept = page.locator(f"{work(accepted)} form[data-type=CoAuthorshipAccepted]")
    accept.wait_for(state="visible")
    assert not page.locator(f"{work(accepted)} .coauthorship .needs-script").is_visible()
    shown, answer = sign_and_send(page, accept)
    assert shown == f'CoAuthorshipAccepted\n{{"contribution":"{accepted}"}}'
    assert answer.startswith("Signed and recorded: CoAuthorshipAccepted at log position ")
    _, again = sign_and_send(page, accept)
    assert again.startswith("error[CoAuthorshipAnswered]: "), again

    decline = page.locator(f"{work(declined)} form[data-type=CoAuthorshipDeclined]")
    decline.locator("input[name='body.reason']").fill("wrong-share")
    shown, answer = sign_and_send(page, decline)
    assert shown == f'CoAuthorshipDeclined\n{{"contribution":"{declined}","reason":"wrong-share"}}'
    assert answer.startswith("Signed and recorded: CoAuthorshipDeclined at log position ")
    secret = open_backup(backup.encode(), PASSPHRASE).to_jwk()["d"]
    assert not any(secret in b or PASSPHRASE in b for b in sent)

    page.reload()  # the page may be cached for a few seconds (SHORT): revalidate it
    assert page.locator(f"{work(declined)} .check.bad").is_visible()
    # the author's key is not here: the forms stay hidden for a visitor who was not named
    other = page.context.browser.new_context(base_url=server.url)
    try:
        tab = other.new_page()
        tab.goto(f"/people/{author['actor']}?campaign={CAMPAIGN}")
        assert tab.locator("form[data-type=CoAuthorshipAccepted]").count() == 0  # answered
    finally:
        other.close()


def test_a_member_reports_a_piece_with_a_text_and_a_second_report_is_refused(
    page: Any, server: Server, author: dict[str, Any], tmp_path: Path
) -> None:
    join(page, CAMPAIGN, tmp_path)
    piece = submit(author, "Loud poster")
    page.goto(f"/people/{author['actor']}?campaign={CAMPAIGN}")
    block = page.locator(f"{work(piece)} details.report")
    block.locator("summary").click()
    form = block.locator("form[data-type=ContributionReported]")
    form.wait_for(state="visible")
    form.locator("select").select_option("plagiarism")
    said = "This copies the poster of another campaign."
    form.locator("textarea").fill(said)
    digest = hashlib.sha256(said.encode()).hexdigest()
    shown, answer = sign_and_send(page, form)
    assert shown == (
        f'ContributionReported\n{{"contribution":"{piece}","reason":"plagiarism",'
        f'"text":"{digest}"}}'
    )
    assert answer.startswith("Signed and recorded: ContributionReported at log position ")
    with bootstrap(Settings(database_url=server.database_url)) as svc:
        assert svc.content.get(digest) == said.encode()  # the text went to the content store
    _, again = sign_and_send(page, form)
    assert again.startswith("error[DuplicateReport]: "), again


def test_a_member_comments_replies_and_reports_a_comment_on_the_thread_page(
    page: Any, server: Server, author: dict[str, Any], tmp_path: Path
) -> None:
    backup, _ = join(page, CAMPAIGN, tmp_path)
    me = open_backup(backup.encode(), PASSPHRASE).actor
    piece = submit(author, "Rain hat")
    page.goto(f"/c/{CAMPAIGN}/comments/{piece}")
    form = page.locator("#comment-text").locator("xpath=ancestor::form")
    form.wait_for(state="visible")
    said = "Could it fold into a pocket?"
    page.fill("#comment-text", said)
    digest = hashlib.sha256(said.encode()).hexdigest()
    shown, answer = sign_and_send(page, form)
    assert shown == (
        f'CommentPosted\n{{"as_brand":false,"contribution":"{piece}","parent":null,'
        f'"text":"{digest}"}}'
    )
    assert answer.startswith("Signed and recorded: CommentPosted at log position ")

    page.reload()  # the page may be cached for a few seconds (SHORT): revalidate it
    assert page.inner_text(".comment-text") == said
    first = page.locator("li.comment").first
    comment = first.get_attribute("id")[2:]
    first.locator("summary").click()
    reply = first.locator("form[data-type=CommentPosted]")
    reply.locator("textarea").fill("Yes, in two folds.")
    shown, answer = sign_and_send(page, reply)
    assert f'"parent":"{comment}"' in shown
    assert answer.startswith("Signed and recorded: CommentPosted at log position ")

    report = first.locator("form[data-type=CommentReported]")
    report.locator("select").select_option("spam")
    shown, answer = sign_and_send(page, report)
    assert shown == f'CommentReported\n{{"comment":"{comment}","reason":"spam","text":null}}'
    assert answer == (
        f"error[SelfReport]: member {me} wrote comment {comment}: nobody reports their own comment"
    )


def test_without_javascript_each_act_names_its_cocred_verb(
    browser: Any, server: Server, author: dict[str, Any]
) -> None:
    piece = submit(author, "Quiet lamp")
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto(f"/c/{CAMPAIGN}/comments/{piece}")
        notice = tab.locator("#comment-heading ~ .needs-script")
        assert notice.is_visible() and not tab.locator("#comment-text").is_visible()
        assert f"cocred comment post --key me.key --campaign {CAMPAIGN}" in notice.inner_text()
        tab.goto(f"/people/{author['actor']}?campaign={CAMPAIGN}")
        block = tab.locator(f"{work(piece)} details.report")
        block.locator("summary").click()
        assert "cocred report --key me.key" in block.locator(".needs-script").inner_text()
        assert not block.locator("form").is_visible()
    finally:
        context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_the_act_forms_and_their_preview_have_no_serious_accessibility_violation(
    browser: Any, server: Server, author: dict[str, Any], tmp_path: Path, width: int
) -> None:
    """With a key in the browser the forms are shown; with a preview open, axe finds no
    serious or critical violation and nothing scrolls sideways, at both widths."""
    from tests.browser.test_accessibility import AXE, _violations

    if not AXE.exists():
        unavailable(f"axe-core is not installed at {AXE} (make node)")
    context = browser.new_context(
        base_url=server.url, viewport={"width": width, "height": 900}, accept_downloads=True
    )
    try:
        tab = context.new_page()
        join(tab, CAMPAIGN, tmp_path)
        piece = submit(author, f"Wide sign {width}")
        found: dict[str, Any] = {}
        for path, opened in (
            (f"/c/{CAMPAIGN}/comments/{piece}", "#comment-text"),
            (f"/people/{author['actor']}?campaign={CAMPAIGN}", f"{work(piece)} details.report"),
        ):
            tab.goto(path)
            target = tab.locator(opened)
            if opened.endswith("details.report"):
                target.locator("summary").click()
                target = target.locator("textarea")
            target.fill("A text long enough to wrap on a phone's narrow screen, " * 3)
            target.locator("xpath=ancestor::form").locator("button[type=submit]").click()
            tab.locator(".to-sign:not([hidden])").first.wait_for(state="visible")
            problems: list[Any] = _violations(tab)
            overflow = tab.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            if overflow > 0:
                problems.append(f"scrolls sideways by {overflow} px")
                problems.append(tab.evaluate(WIDER))  # what sticks out, to fix it
            if problems:
                found[path] = problems
        assert found == {}, found
    finally:
        context.close()


WIDER = """() => [...document.querySelectorAll('main *')]
  .filter((e) => e.getBoundingClientRect().right > innerWidth)
  .map((e) => `${e.tagName}.${e.className}: ${e.textContent.slice(0, 60)}`).slice(0, 5)"""


def opened(tab: Any, path: str, piece: str, block: str) -> Any:
    """The form of the ``details.<block>`` of ``piece`` on ``path``, opened and shown."""
    tab.goto(path)
    details = tab.locator(f"{work(piece)} details.{block}")
    details.locator("summary").click()
    form = details.locator("form")
    form.wait_for(state="visible")
    return form


def bring_key(context: Any, key: Path, tmp: Path) -> Any:
    """A tab of ``context`` where ``key``'s backup (``cocred keys backup``) was imported on
    /keys/import: that key is now kept in this browser."""
    backup, secret = tmp / f"{key.stem}.backup", tmp / f"{key.stem}.pass"
    secret.write_text(PASSPHRASE + "\n")
    backup.unlink(missing_ok=True)  # a second device of the same key: a fresh backup
    cocred("keys", "backup", "--key", str(key), "--out", str(backup), "--passphrase-file",
           str(secret))  # fmt: skip
    tab = context.new_page()
    tab.goto("/keys/import")
    tab.set_input_files("#backup-file", str(backup))
    tab.fill("#import-passphrase", PASSPHRASE)
    tab.click("#import-button")
    wait_until(tab, "document.getElementById('import-result').textContent.includes('is now kept')")
    return tab


def test_the_brand_moderates_hides_blocks_and_decides_the_authors_appeal(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    campaign = "browser-brand-acts"
    open_campaign(server, campaign, tmp_path, "--appeal-window", "86400")
    author_key, author_id = member(server, campaign, tmp_path, "author")
    reporter_key, reporter = member(server, campaign, tmp_path, "reporter")
    poster, said = tmp_path / "w.txt", tmp_path / "c.txt"
    poster.write_text("A poster copied from elsewhere.")
    said.write_text("Nobody will notice.")
    by_author = ("--key", str(author_key), "--db", server.database_url)
    piece = json.loads(
        cocred(
            "submit",
            "--campaign",
            campaign,
            "--content",
            str(poster),
            "--kind",
            "idea",
            "--title",
            "Copied poster",
            *by_author,
        ).stdout  # fmt: skip
    )["contribution"]
    cocred("comment", "post", "--campaign", campaign, "--contribution", piece, "--text",
           str(said), *by_author)  # fmt: skip
    reported = json.loads(
        cocred("report", "--campaign", campaign, "--contribution", piece, "--reason",
               "plagiarism", "--key", str(reporter_key), "--db", server.database_url).stdout
    )  # fmt: skip
    report = f"{reported['actor']}:{reported['seq']}"

    brand_context = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 900})
    try:
        tab = bring_key(brand_context, server.brand_key, tmp_path)
        sent: list[str] = []
        tab.on("request", lambda request: sent.append(request.post_data or ""))
        form = opened(tab, f"/people/{author_id}?campaign={campaign}", piece, "moderate")
        form.locator("input[value=rejected]").check()
        form.locator("input[name='body.reason']").fill("off-guidelines")
        form.locator("input[name='body.reports']").fill(report)
        shown, answer = sign_and_send(tab, form)
        assert shown == (
            f'ContributionModerated\n{{"contribution":"{piece}","note":null,'
            f'"outcome":"rejected","reason":"off-guidelines","reports":["{report}"]}}'
        )
        assert answer.startswith("Signed and recorded: ContributionModerated at log position ")
        from tests.browser.test_accessibility import _violations

        assert _violations(tab) == []  # the brand's forms, open, on a phone
        assert tab.evaluate("() => document.documentElement.scrollWidth - innerWidth") <= 0

        tab.goto(f"/c/{campaign}/comments/{piece}")
        first = tab.locator("li.comment").first
        comment = str(first.get_attribute("id"))[2:]
        first.locator("summary").click()
        hide = first.locator("form[data-type=CommentHidden]")
        shown, answer = sign_and_send(tab, hide)
        assert shown == f'CommentHidden\n{{"comment":"{comment}","reason":"harassment"}}'
        assert answer.startswith("Signed and recorded: CommentHidden at log position ")
        _, again = sign_and_send(tab, hide)
        assert again.startswith("error[CommentHidden]: "), again
        tab.fill("#brand-comment-text", "We are looking into this poster.")
        brand_form = tab.locator("#brand-comment-text").locator("xpath=ancestor::form")
        shown, answer = sign_and_send(tab, brand_form)
        assert shown.startswith('CommentPosted\n{"as_brand":true,')
        assert answer.startswith("Signed and recorded: CommentPosted at log position ")

        tab.goto(f"/people/{reporter}?campaign={campaign}")
        standing = tab.locator("details.standing")
        standing.locator("summary").click()
        blocking = standing.locator("form[data-type=MemberBlocked]")
        shown, answer = sign_and_send(tab, blocking)
        assert shown == f'MemberBlocked\n{{"member":"{reporter}","reason":"spam"}}'
        assert answer.startswith("Signed and recorded: MemberBlocked at log position ")
        _, again = sign_and_send(tab, blocking)
        assert again.startswith("error[AlreadyBlocked]: "), again
        from ledger.keys import SigningKey

        secret = SigningKey.load(server.brand_key).to_jwk()["d"]
        assert not any(secret in b for b in sent)
    finally:
        brand_context.close()

    author_context = browser.new_context(base_url=server.url)
    try:
        tab = bring_key(author_context, author_key, tmp_path)
        tab.goto(f"/people/{author_id}?campaign={campaign}")
        appeal = tab.locator(f"{work(piece)} form[data-type=AppealFiled]")
        appeal.wait_for(state="visible")
        assert tab.locator(f"{work(piece)} form[data-type=ContributionModerated]").is_hidden()
        shown, answer = sign_and_send(tab, appeal)
        assert (
            shown == f'AppealFiled\n{{"contribution":"{piece}","reason":"misjudged","text":null}}'
        )
        assert answer.startswith("Signed and recorded: AppealFiled at log position ")
    finally:
        author_context.close()

    brand_context = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 900})
    try:
        tab = bring_key(brand_context, server.brand_key, tmp_path)
        decide = opened(tab, f"/people/{author_id}?campaign={campaign}", piece, "decide")
        decide.locator("input[value=reinstated]").check()
        shown, answer = sign_and_send(tab, decide)
        assert shown == (
            f'AppealDecided\n{{"contribution":"{piece}","note":null,"outcome":"reinstated",'
            f'"reason":"fair-point"}}'
        )
        assert answer.startswith("Signed and recorded: AppealDecided at log position ")
        from tests.browser.test_accessibility import _violations

        assert _violations(tab) == []
        assert tab.evaluate("() => document.documentElement.scrollWidth - innerWidth") <= 0
        _, again = sign_and_send(tab, decide)
        assert again.startswith("error[AppealAlreadyDecided]: "), again
    finally:
        brand_context.close()


def test_the_brand_closes_the_campaign_and_a_payee_objects_to_the_proposal(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    campaign = "browser-close-acts"
    brand = ("--key", str(server.brand_key), "--db", server.database_url)
    policy = tmp_path / "policy.json"  # v1: one vote is enough credit to be paid
    policy.write_text(json.dumps(dict(DEFAULT_POLICY_V1)))
    open_campaign(server, campaign, tmp_path, "--pool", "100000", "--policy", str(policy))
    author_key, author_id = member(server, campaign, tmp_path, "payee")
    voter_key, _ = member(server, campaign, tmp_path, "voter")
    piece_file = tmp_path / "p.txt"
    piece_file.write_text("A cup that keeps tea warm.")
    piece = json.loads(
        cocred(
            "submit",
            "--campaign",
            campaign,
            "--content",
            str(piece_file),
            "--kind",
            "idea",
            "--title",
            "Warm cup",
            "--key",
            str(author_key),
            "--db",
            server.database_url,
        ).stdout  # fmt: skip
    )["contribution"]
    cocred("vote", "--campaign", campaign, "--contribution", piece, "--key", str(voter_key),
           "--db", server.database_url)  # fmt: skip

    context = browser.new_context(base_url=server.url)
    try:
        tab = bring_key(context, server.brand_key, tmp_path)
        tab.goto(f"/c/{campaign}")
        block = tab.locator("details.close")
        block.locator("summary").click()
        form = block.locator("form[data-type=CampaignClosed]")
        form.wait_for(state="visible")
        shown, answer = sign_and_send(tab, form)
        assert shown == "CampaignClosed\n{}"  # "nothing said": the field is left out
        assert answer.startswith("Signed and recorded: CampaignClosed at log position ")
        tab.select_option("#close-unreviewed", "accept")
        shown, again = sign_and_send(tab, form)
        assert shown == 'CampaignClosed\n{"unreviewed":"accept"}'
        assert again.startswith("error[CampaignClosed]: "), again
    finally:
        context.close()

    proposal = json.loads(cocred("payouts", "propose", "--campaign", campaign, *brand).stdout)
    proposal_id = f"{proposal['actor']}:{proposal['seq']}"
    context = browser.new_context(base_url=server.url)
    try:
        tab = bring_key(context, author_key, tmp_path)
        tab.goto(f"/people/{author_id}?campaign={campaign}")
        form = tab.locator("form[data-type=PayoutObjected]")
        form.wait_for(state="visible")
        form.locator("select").select_option("wrong-amount")
        shown, answer = sign_and_send(tab, form)
        assert shown == (
            f'PayoutObjected\n{{"proposal":"{proposal_id}","reason":"wrong-amount","text":null}}'
        )
        assert answer.startswith("Signed and recorded: PayoutObjected at log position ")
        _, again = sign_and_send(tab, form)
        assert again.startswith("error[AlreadyObjected]: "), again
    finally:
        context.close()
