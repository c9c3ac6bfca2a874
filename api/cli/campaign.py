"""The campaign verbs of the ``cocred`` CLI: parse the options, call one service, print JSON.

Registered on ``api.cli.app`` when ``api.cli`` is imported. Every verb that signs
takes ``--key`` (the actor's key file) and ``--db``; every refusal prints
``error[Code]: sentence`` on stderr and exits 1, having written nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli import DbOption, KeyOption, app, fail, guarded, print_json, services
from domain.policy import DEFAULT_POLICY
from domain.profiles import Profile
from domain.services import CampaignServices, Receipt
from ledger.canonical import parse_json
from ledger.keys import SigningKey

campaign_app = typer.Typer(no_args_is_help=True, help="Open, fund, close and show a campaign.")
licence_app = typer.Typer(no_args_is_help=True, help="Grant or revoke a licence on your work.")
profile_app = typer.Typer(no_args_is_help=True, help="Set or export your private profile.")
app.add_typer(campaign_app, name="campaign")
app.add_typer(licence_app, name="licence")
app.add_typer(profile_app, name="profile")

Campaign = Annotated[str, typer.Option("--campaign", help="Campaign id.")]
Member = Annotated[str, typer.Option("--member", help="The member's actor id.")]
Contribution = Annotated[str, typer.Option("--contribution", help="Contribution id.")]
Kind = Annotated[str, typer.Option("--kind", help="Kind (see domain/EVENTS.md).")]
Authors = Annotated[
    list[str] | None,
    typer.Option("--author", help="Co-author as ACTOR=PERCENT (repeat; include yourself)."),
]
Sources = Annotated[
    list[str] | None,
    typer.Option("--from", help="Derived from CONTRIBUTION or CONTRIBUTION=P/Q (repeat)."),
]


# -- parsing helpers ---------------------------------------------------------------------------


def _key(path: Path) -> SigningKey:
    return guarded(lambda: SigningKey.load(path))


def _bytes(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail("UnreadableFile", f"{option}: cannot read {path}: {exc.strerror}")


def _time(text: str | None, option: str, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail("BadOption", f"{option} must be a time like 2026-11-22T10:00:00Z, got {text!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _authors(values: list[str] | None) -> list[tuple[str, int]] | None:
    if not values:
        return None
    authors = []
    for value in values:
        member, _, share = value.partition("=")
        if not share.isdigit():
            fail("BadOption", f"--author must be ACTOR=PERCENT, got {value!r}")
        authors.append((member, int(share)))
    return authors


def _sources(values: list[str] | None) -> list[tuple[str, str | None]]:
    return [
        (contribution, share or None)
        for contribution, _, share in (value.partition("=") for value in values or [])
    ]


def _run(db: str | None, verb: Callable[[CampaignServices], Receipt]) -> None:
    """One service call on the database; print its receipt."""
    with services(db) as svc:
        receipt = guarded(lambda: verb(svc.campaigns))
    print_json(receipt.to_json())


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# -- the brand ---------------------------------------------------------------------------------


@campaign_app.command("open")
def campaign_open(
    key: KeyOption,
    campaign: Campaign,
    title: Annotated[str, typer.Option(help="Title (1-200 characters).")],
    guidelines: Annotated[Path, typer.Option(help="The guidelines document (stored, hashed).")],
    starts: Annotated[str | None, typer.Option(help="Window start (default: now).")] = None,
    ends: Annotated[str | None, typer.Option(help="Window end (default: 30 days on).")] = None,
    membership: Annotated[str, typer.Option(help="open or invite-only.")] = "open",
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "EUR",
    pool: Annotated[int, typer.Option(help="Reward pool in minor units.")] = 0,
    policy: Annotated[
        Path | None, typer.Option(help="Policy JSON file (default: cocred-fair v1).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Open a campaign with its window, membership mode, pool and policy."""
    signer = _key(key)
    document = _bytes(guidelines, "--guidelines")
    start = _time(starts, "--starts", _now())
    end = _time(ends, "--ends", start + timedelta(days=30))
    rules: dict[str, Any] | None = None
    if policy is not None:
        rules = guarded(lambda: parse_json(_bytes(policy, "--policy")))
        if not isinstance(rules, dict):
            fail("BadOption", "--policy must hold a JSON object")
    _run(
        db,
        lambda c: c.open_campaign(
            signer,
            campaign,
            title=title,
            guidelines=document,
            starts_at=start,
            ends_at=end,
            membership=membership,
            currency=currency,
            pool=pool,
            policy=DEFAULT_POLICY if rules is None else rules,
        ),
    )


@campaign_app.command("fund")
def campaign_fund(
    key: KeyOption,
    campaign: Campaign,
    amount: Annotated[int, typer.Option(help="Minor units to add to the pool.")],
    db: DbOption = None,
) -> None:
    """Add to the campaign's reward pool."""
    signer = _key(key)
    _run(db, lambda c: c.fund_pool(signer, campaign, amount))


@campaign_app.command("close")
def campaign_close(key: KeyOption, campaign: Campaign, db: DbOption = None) -> None:
    """Close the campaign: nothing but the payout settlement is accepted afterwards."""
    signer = _key(key)
    _run(db, lambda c: c.close_campaign(signer, campaign))


@campaign_app.command("show")
def campaign_show(
    campaign: Campaign,
    works: Annotated[bool, typer.Option(help="List every contribution and its authors.")] = False,
    db: DbOption = None,
) -> None:
    """Print the campaign, its counts and (with --works) its contributions."""
    with services(db, create=False) as svc:
        shown = guarded(lambda: svc.campaigns.show(campaign, contributions=works))
    print_json(shown)


@app.command()
def invite(key: KeyOption, campaign: Campaign, member: Member, db: DbOption = None) -> None:
    """Invite a member to the campaign (needed to join an invite-only campaign)."""
    signer = _key(key)
    _run(db, lambda c: c.invite(signer, campaign, member))


@app.command()
def block(
    key: KeyOption,
    campaign: Campaign,
    member: Member,
    reason: Annotated[str, typer.Option(help="Reason code, e.g. harassment.")],
    db: DbOption = None,
) -> None:
    """Block a member: they can do nothing more in the campaign."""
    signer = _key(key)
    _run(db, lambda c: c.block(signer, campaign, member, reason))


@app.command()
def unblock(key: KeyOption, campaign: Campaign, member: Member, db: DbOption = None) -> None:
    """Lift a member's block."""
    signer = _key(key)
    _run(db, lambda c: c.unblock(signer, campaign, member))


@app.command()
def moderate(
    key: KeyOption,
    campaign: Campaign,
    contribution: Contribution,
    outcome: Annotated[str, typer.Option(help="accepted, rejected or removed.")],
    reason: Annotated[str, typer.Option(help="Reason code, e.g. guideline-violation.")],
    note: Annotated[Path | None, typer.Option(help="A note file (stored, hashed).")] = None,
    db: DbOption = None,
) -> None:
    """Accept, reject or remove a contribution (removal is final)."""
    signer = _key(key)
    text = None if note is None else _bytes(note, "--note")
    _run(db, lambda c: c.moderate(signer, campaign, contribution, outcome, reason, note=text))


@app.command()
def reuse(
    key: KeyOption,
    campaign: Campaign,
    contribution: Contribution,
    licence: Annotated[str, typer.Option(help="Licence id <contribution>/<name>.")],
    channel: Annotated[str, typer.Option(help="Channel of the reuse.")],
    territory: Annotated[str, typer.Option(help="Country code of the reuse.")],
    db: DbOption = None,
) -> None:
    """Record a reuse of a contribution under a live licence naming you as licensee."""
    signer = _key(key)
    _run(
        db,
        lambda c: c.record_reuse(
            signer, campaign, contribution, licence, channel=channel, territory=territory
        ),
    )


# -- members -----------------------------------------------------------------------------------


@app.command()
def join(
    key: KeyOption,
    campaign: Campaign,
    guidelines: Annotated[
        str | None, typer.Option(help="Hash of the guidelines you accept (default: current).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Join a campaign, accepting its guidelines."""
    signer = _key(key)
    _run(db, lambda c: c.join(signer, campaign, guidelines=guidelines))


def _submit(
    key: Path,
    campaign: str,
    content: Path,
    kind: str,
    title: str,
    authors: list[str] | None,
    sources: list[str] | None,
    sha256: str | None,
    db: str | None,
    *,
    remix: bool,
) -> None:
    signer = _key(key)
    data = _bytes(content, "--content")
    derived = _sources(sources)
    verb = CampaignServices.remix if remix else CampaignServices.submit
    _run(
        db,
        lambda c: verb(
            c,
            signer,
            campaign,
            data,
            kind=kind,
            title=title,
            authors=_authors(authors),
            derived_from=derived,
            content_hash=sha256,
        ),
    )


ContentFile = Annotated[Path, typer.Option("--content", help="The work's bytes (stored).")]
Title = Annotated[str, typer.Option(help="Title (1-200 characters).")]
Sha256 = Annotated[
    str | None, typer.Option("--sha256", help="Refuse unless the content hashes to this.")
]


@app.command()
def submit(
    key: KeyOption,
    campaign: Campaign,
    content: ContentFile,
    kind: Kind,
    title: Title,
    author: Authors = None,
    from_: Sources = None,
    sha256: Sha256 = None,
    db: DbOption = None,
) -> None:
    """Submit a work: the bytes go to the content store, the signed event carries their hash."""
    _submit(key, campaign, content, kind, title, author, from_, sha256, db, remix=False)


@app.command()
def remix(
    key: KeyOption,
    campaign: Campaign,
    content: ContentFile,
    kind: Kind,
    title: Title,
    from_: Sources = None,
    author: Authors = None,
    sha256: Sha256 = None,
    db: DbOption = None,
) -> None:
    """Submit a work derived from earlier ones (--from, at least one)."""
    _submit(key, campaign, content, kind, title, author, from_, sha256, db, remix=True)


@app.command()
def vote(
    key: KeyOption,
    campaign: Campaign,
    contribution: Contribution,
    kind: Annotated[str, typer.Option(help="support, comment, save or share.")] = "support",
    comment: Annotated[Path | None, typer.Option(help="Comment text file (kind comment).")] = None,
    db: DbOption = None,
) -> None:
    """Vote on someone else's contribution."""
    signer = _key(key)
    text = None if comment is None else _bytes(comment, "--comment")
    _run(db, lambda c: c.cast_vote(signer, campaign, contribution, kind, comment=text))


@app.command()
def withdraw(
    key: KeyOption,
    campaign: Campaign,
    contribution: Contribution,
    kind: Annotated[str, typer.Option(help="The kind of the vote to withdraw.")] = "support",
    db: DbOption = None,
) -> None:
    """Withdraw one of your live votes."""
    signer = _key(key)
    _run(db, lambda c: c.withdraw_vote(signer, campaign, contribution, kind))


@licence_app.command("grant")
def licence_grant(
    key: KeyOption,
    campaign: Campaign,
    contribution: Contribution,
    name: Annotated[str, typer.Option(help="Licence name [a-z0-9-]{1,32}.")],
    licensee: Annotated[str, typer.Option(help="Actor id of the licensee (the brand).")],
    channel: Annotated[list[str], typer.Option(help="Channel covered (repeat).")],
    terms: Annotated[Path, typer.Option(help="The terms document (stored, hashed).")],
    territory: Annotated[str, typer.Option(help="worldwide or codes like FR,DE.")] = "worldwide",
    starts: Annotated[str | None, typer.Option(help="Start (default: now).")] = None,
    ends: Annotated[str | None, typer.Option(help="End (default: no end).")] = None,
    db: DbOption = None,
) -> None:
    """Grant a licence on your (co-)authored contribution; every author grants the same."""
    signer = _key(key)
    document = _bytes(terms, "--terms")
    start = _time(starts, "--starts", _now())
    end = None if ends is None else _time(ends, "--ends", start)
    places: str | list[str] = territory if territory == "worldwide" else territory.split(",")
    _run(
        db,
        lambda c: c.grant_licence(
            signer,
            campaign,
            contribution,
            name,
            licensee=licensee,
            channels=channel,
            territory=places,
            starts_at=start,
            ends_at=end,
            terms=document,
        ),
    )


@licence_app.command("revoke")
def licence_revoke(
    key: KeyOption,
    campaign: Campaign,
    licence: Annotated[str, typer.Option(help="Licence id <contribution>/<name>.")],
    db: DbOption = None,
) -> None:
    """Revoke a licence you granted (final: the id cannot be granted again)."""
    signer = _key(key)
    _run(db, lambda c: c.revoke_licence(signer, campaign, licence))


# -- private data ------------------------------------------------------------------------------


@profile_app.command("set")
def profile_set(
    key: KeyOption,
    name: Annotated[str, typer.Option(help="Display name.")],
    email: Annotated[str, typer.Option(help="Email address.")],
    payout: Annotated[str, typer.Option(help="Payout handle (IBAN, PayPal …).")],
    db: DbOption = None,
) -> None:
    """Store your profile encrypted; the log gets only a salted commitment."""
    signer = _key(key)
    profile = guarded(lambda: Profile.create(name, email, payout))
    _run(db, lambda c: c.set_profile(signer, profile))


@profile_app.command("export")
def profile_export(key: KeyOption, db: DbOption = None) -> None:
    """Print everything cocred holds about you, as JSON (your right of access)."""
    signer = _key(key)
    with services(db, create=False) as svc:
        data = guarded(lambda: svc.campaigns.export_my_data(signer.actor))
    print_json(data)


@app.command()
def erase(
    key: KeyOption,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    db: DbOption = None,
) -> None:
    """Erase yourself: your profile's key, salt and ciphertext are deleted for good."""
    if not yes:
        fail("NotConfirmed", "erasure cannot be undone: pass --yes to confirm")
    signer = _key(key)
    _run(db, lambda c: c.erase(signer))
