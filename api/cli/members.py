"""The members' verbs of the ``cocred`` CLI: parse the options, call one service, print JSON.

``cocred join`` · ``submit`` · ``remix`` · ``vote`` · ``withdraw`` · ``report`` ·
``licence grant|revoke`` · ``coauthor accept|decline`` · ``profile set|export`` ·
``profile payout set|remove`` · ``erase``. Every verb that signs takes ``--key`` (the member's
key file) and ``--db``; every refusal prints ``error[Code]: sentence`` on stderr and exits 1,
having written nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import (
    CampaignOption,
    ContributionOption,
    DbOption,
    KeyOption,
    LicenceOption,
    RecordFormat,
    TitleOption,
    check_format,
    emit,
    fail,
    guarded,
    load_key,
    now,
    parse_time,
    read_bytes,
    run_service,
    services,
)
from domain.vocabulary import COMMENT, REPORT_REASONS

if TYPE_CHECKING:
    from domain.payout_methods import PayoutMethod

licence_app = typer.Typer(no_args_is_help=True, help="Grant or revoke a licence on your work.")
profile_app = typer.Typer(no_args_is_help=True, help="Set or export your private profile.")
coauthor_app = typer.Typer(
    no_args_is_help=True,
    help="Accept or decline a co-authorship someone named you in (until you accept, the "
    "work is pending: no votes, remixes, licences or reuses, and it earns nothing).",
)

Kind = Annotated[str, typer.Option("--kind", help="Kind (see domain/EVENTS.md).")]
Authors = Annotated[
    list[str] | None,
    typer.Option("--author", help="Co-author as ACTOR=PERCENT (repeat; include yourself)."),
]
Sources = Annotated[
    list[str] | None,
    typer.Option("--from", help="Derived from CONTRIBUTION or CONTRIBUTION=P/Q (repeat)."),
]


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


def join(
    key: KeyOption,
    campaign: CampaignOption,
    guidelines: Annotated[
        str | None, typer.Option(help="Hash of the guidelines you accept (default: current).")
    ] = None,
    code: Annotated[
        str | None,
        typer.Option(help="An invitation code the brand sent you (used up by this join)."),
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Join a campaign, accepting its guidelines (with --code: by an invitation code)."""
    signer = load_key(key)
    run_service(db, lambda c: c.join(signer, campaign, guidelines=guidelines, code=code), fmt)


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
    fmt: str,
) -> None:
    signer = load_key(key)
    data = read_bytes(content, "--content")
    derived = _sources(sources)
    from domain.services import CampaignServices

    verb = CampaignServices.remix if remix else CampaignServices.submit
    run_service(
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
        fmt,
    )


ContentFile = Annotated[Path, typer.Option("--content", help="The work's bytes (stored).")]
Sha256 = Annotated[
    str | None, typer.Option("--sha256", help="Refuse unless the content hashes to this.")
]


def submit(
    key: KeyOption,
    campaign: CampaignOption,
    content: ContentFile,
    kind: Kind,
    title: TitleOption,
    author: Authors = None,
    from_: Sources = None,
    sha256: Sha256 = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Submit a work: the bytes go to the content store, the signed event carries their hash."""
    _submit(key, campaign, content, kind, title, author, from_, sha256, db, remix=False, fmt=fmt)


def remix(
    key: KeyOption,
    campaign: CampaignOption,
    content: ContentFile,
    kind: Kind,
    title: TitleOption,
    from_: Sources = None,
    author: Authors = None,
    sha256: Sha256 = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Submit a work derived from earlier ones (--from, at least one)."""
    _submit(key, campaign, content, kind, title, author, from_, sha256, db, remix=True, fmt=fmt)


def vote(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    kind: Annotated[str, typer.Option(help="support, comment, save or share.")] = "support",
    comment: Annotated[Path | None, typer.Option(help="Comment text file (kind comment).")] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Vote on someone else's contribution (--kind comment needs --comment FILE)."""
    if kind == COMMENT and comment is None:
        fail(
            "BadOption",
            "--kind comment needs --comment FILE: the file holding the comment's text "
            "(the vote carries its hash)",
        )
    signer = load_key(key)
    text = None if comment is None else read_bytes(comment, "--comment")
    run_service(db, lambda c: c.cast_vote(signer, campaign, contribution, kind, comment=text), fmt)


def report(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    reason: Annotated[str, typer.Option(help=" | ".join(REPORT_REASONS))],
    text: Annotated[
        Path | None, typer.Option("--text", help="A text file saying why (stored, hashed).")
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Report someone else's piece to the brand's moderation (once per piece)."""
    signer = load_key(key)
    said = None if text is None else read_bytes(text, "--text")
    run_service(db, lambda c: c.report(signer, campaign, contribution, reason, text=said), fmt)


def appeal(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    reason: Annotated[str, typer.Option(help="Reason code, e.g. misjudged.")],
    text: Annotated[
        Path | None, typer.Option("--text", help="A text file saying why (stored, hashed).")
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Appeal the rejection or removal of a piece you submitted (once per decision, within
    the campaign policy's appeal_window)."""
    signer = load_key(key)
    said = None if text is None else read_bytes(text, "--text")
    run_service(db, lambda c: c.appeal(signer, campaign, contribution, reason, text=said), fmt)


def withdraw(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    kind: Annotated[str, typer.Option(help="The kind of the vote to withdraw.")] = "support",
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Withdraw one of your live votes."""
    signer = load_key(key)
    run_service(db, lambda c: c.withdraw_vote(signer, campaign, contribution, kind), fmt)


@licence_app.command("grant")
def licence_grant(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    name: Annotated[str, typer.Option(help="Licence name [a-z0-9-]{1,32}.")],
    licensee: Annotated[str, typer.Option(help="Actor id of the licensee (the brand).")],
    channel: Annotated[list[str], typer.Option(help="Channel covered (repeat).")],
    terms: Annotated[Path, typer.Option(help="The terms document (stored, hashed).")],
    territory: Annotated[str, typer.Option(help="worldwide or codes like FR,DE.")] = "worldwide",
    starts: Annotated[str | None, typer.Option(help="Start (default: now).")] = None,
    ends: Annotated[str | None, typer.Option(help="End (default: no end).")] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Grant a licence on your (co-)authored contribution; every author grants the same."""
    signer = load_key(key)
    document = read_bytes(terms, "--terms")
    start = parse_time(starts, "--starts", now())
    end = None if ends is None else parse_time(ends, "--ends", start)
    places: str | list[str] = territory if territory == "worldwide" else territory.split(",")
    run_service(
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
        fmt,
    )


@licence_app.command("revoke")
def licence_revoke(
    key: KeyOption,
    campaign: CampaignOption,
    licence: LicenceOption,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Revoke a licence you granted (final: the id cannot be granted again)."""
    signer = load_key(key)
    run_service(db, lambda c: c.revoke_licence(signer, campaign, licence), fmt)


@coauthor_app.command("accept")
def coauthor_accept(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Accept that you co-authored CONTRIBUTION, with the share its submitter named."""
    signer = load_key(key)
    run_service(db, lambda c: c.accept_coauthorship(signer, campaign, contribution), fmt)


@coauthor_app.command("decline")
def coauthor_decline(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    reason: Annotated[
        str, typer.Option(help="Why, as a code [a-z0-9-]{1,48} (e.g. not-my-work, wrong-share).")
    ],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Decline the co-authorship: the work gets no votes, remixes, licences or reuses, ever."""
    signer = load_key(key)
    run_service(db, lambda c: c.decline_coauthorship(signer, campaign, contribution, reason), fmt)


@profile_app.command("set")
def profile_set(
    key: KeyOption,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Set your display name and/or email (the rest of your profile stays as it is).

    Stored encrypted; the log gets only a salted commitment. Payout methods:
    ``cocred profile payout set|remove``.
    """
    if name is None and email is None:
        fail("BadOption", "give --name and/or --email (payout methods: cocred profile payout set)")
    signer = load_key(key)
    run_service(db, lambda c: c.update_profile(signer, display_name=name, email=email), fmt)


payout_app = typer.Typer(no_args_is_help=True, help="Your payout methods: SEPA, PayPal, Ethereum.")


@payout_app.command("set")
def payout_set(
    key: KeyOption,
    sepa_iban: Annotated[str | None, typer.Option(help="SEPA: your IBAN.")] = None,
    holder: Annotated[str | None, typer.Option(help="SEPA: the account holder's name.")] = None,
    bic: Annotated[
        str | None, typer.Option(help="SEPA: the bank's BIC (needed outside the EEA).")
    ] = None,
    paypal: Annotated[
        str | None, typer.Option(help="PayPal: your email, or phone as +country number.")
    ] = None,
    eth: Annotated[
        str | None, typer.Option(help="Ethereum: your address, EIP-55 checksummed.")
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Set one payout method (replacing the one of that kind); the others stay."""
    given = [
        kind for kind, value in (("sepa", sepa_iban), ("paypal", paypal), ("eth", eth)) if value
    ]
    if len(given) != 1:
        fail("BadOption", "give exactly one of --sepa-iban (with --holder), --paypal, --eth")
    if given == ["sepa"] and holder is None:
        fail("BadOption", "--sepa-iban needs --holder (the account holder's name)")
    if (holder is not None or bic is not None) and given != ["sepa"]:
        fail("BadOption", "--holder and --bic go with --sepa-iban")
    from domain.payout_methods import EthMethod, PaypalMethod, SepaMethod

    signer = load_key(key)
    method: PayoutMethod = guarded(
        lambda: (
            SepaMethod.parse(holder, sepa_iban, bic)
            if sepa_iban
            else PaypalMethod.parse(paypal)
            if paypal
            else EthMethod.parse(eth)
        )
    )
    run_service(db, lambda c: c.update_profile(signer, method=method), fmt)


@payout_app.command("remove")
def payout_remove(
    key: KeyOption,
    kind: Annotated[str, typer.Argument(help="sepa, paypal or eth.")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Remove your payout method of one kind."""
    from domain.payout_methods import KINDS

    if kind not in KINDS:
        fail("BadOption", f"KIND must be one of {', '.join(KINDS)}, got {kind!r}")
    signer = load_key(key)
    run_service(db, lambda c: c.update_profile(signer, remove=kind), fmt)


@profile_app.command("export")
def profile_export(key: KeyOption, db: DbOption = None, fmt: RecordFormat = "json") -> None:
    """Print everything cocred holds about you (your right of access)."""
    check_format(fmt)
    signer = load_key(key)
    with services(db, create=False) as svc:
        data = guarded(lambda: svc.campaigns.export_my_data(signer.actor))
    emit(data, fmt)


def erase(
    key: KeyOption,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Erase yourself: your profile's key, salt and ciphertext are deleted for good."""
    if not yes:
        fail("NotConfirmed", "erasure cannot be undone: pass --yes to confirm")
    signer = load_key(key)
    run_service(db, lambda c: c.erase(signer), fmt)


def register(app: typer.Typer) -> None:
    """Add the members' verbs and the ``licence``, ``coauthor`` and ``profile`` groups."""
    for verb in (join, submit, remix, vote, withdraw, report, appeal, erase):
        app.command()(verb)
    app.add_typer(licence_app, name="licence")
    app.add_typer(coauthor_app, name="coauthor")
    profile_app.add_typer(payout_app, name="payout")
    app.add_typer(profile_app, name="profile")
