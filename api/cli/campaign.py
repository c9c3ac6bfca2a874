"""The brand's verbs of the ``cocred`` CLI: parse the options, call one service, print JSON.

``cocred campaign open|fund|close|show|codes|queue|appeals|decide-appeal`` · ``invite`` ·
``block`` · ``unblock`` · ``moderate`` · ``reuse``. Every verb that signs takes ``--key`` (the
brand's key file) and ``--db``; every refusal prints ``error[Code]: sentence`` on stderr and
exits 1, having written nothing (``campaign codes`` leaves no CSV either).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.common import (
    CampaignOption,
    CitedReports,
    ContributionOption,
    DbOption,
    KeyOption,
    LicenceOption,
    RecordFormat,
    ReportFormat,
    TitleOption,
    check_format,
    emit,
    fail,
    guarded,
    load_key,
    now,
    out,
    parse_time,
    read_bytes,
    record_text,
    run_service,
    services,
)

campaign_app = typer.Typer(no_args_is_help=True, help="Open, fund, close and show a campaign.")

Member = Annotated[str, typer.Option("--member", help="The member's actor id.")]


def _with_window(policy: Mapping[str, Any], seconds: int | None) -> Mapping[str, Any]:
    """``policy`` with its ``objection_window`` set to ``seconds`` (unchanged when None)."""
    return policy if seconds is None else {**policy, "objection_window": seconds}


def _with_review(
    policy: Mapping[str, Any], review: bool | None, appeals: int | None
) -> Mapping[str, Any]:
    """``policy`` with ``review`` set when ``review`` is given and ``appeal_window`` set to
    ``appeals`` seconds (0: left out, the campaign takes no appeals); unchanged when None."""
    out = dict(policy)
    if review is not None:
        out["review"] = review
    if appeals == 0:
        out.pop("appeal_window", None)
    elif appeals is not None:
        out["appeal_window"] = appeals
    return out


@campaign_app.command("open")
def campaign_open(
    key: KeyOption,
    campaign: CampaignOption,
    title: TitleOption,
    guidelines: Annotated[Path, typer.Option(help="The guidelines document (stored, hashed).")],
    starts: Annotated[str | None, typer.Option(help="Window start (default: now).")] = None,
    ends: Annotated[str | None, typer.Option(help="Window end (default: 30 days on).")] = None,
    membership: Annotated[str, typer.Option(help="open or invite-only.")] = "open",
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "EUR",
    pool: Annotated[int, typer.Option(help="Reward pool in minor units.")] = 0,
    policy: Annotated[
        Path | None, typer.Option(help="Policy JSON file (default: cocred-fair v2).")
    ] = None,
    objection_window: Annotated[
        int | None,
        typer.Option(
            help="Seconds payees have to object to a payout proposal (default: the policy's, "
            "7 days; 0: none).",
            min=0,
        ),
    ] = None,
    review: Annotated[
        bool | None,
        typer.Option(
            "--review/--no-review",
            help="Whether the close must say (--unreviewed) what becomes of pieces never "
            "moderated (default: the policy's; the default policy: yes).",
        ),
    ] = None,
    appeal_window: Annotated[
        int | None,
        typer.Option(
            help="Seconds a submitter has to appeal a rejection or removal (default: the "
            "policy's, 7 days in the default policy; 0: no appeals).",
            min=0,
        ),
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Open a campaign with its window, membership mode, pool and policy."""
    signer = load_key(key)
    document = read_bytes(guidelines, "--guidelines")
    start = parse_time(starts, "--starts", now())
    end = parse_time(ends, "--ends", start + timedelta(days=30))
    rules: dict[str, Any] | None = None
    if policy is not None:
        from ledger.canonical import parse_json

        rules = guarded(lambda: parse_json(read_bytes(policy, "--policy")))
        if not isinstance(rules, dict):
            fail("BadOption", "--policy must hold a JSON object")
    run_service(
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
            policy=_with_review(
                _with_window(default_policy() if rules is None else rules, objection_window),
                review,
                appeal_window,
            ),
        ),
        fmt,
    )


@campaign_app.command("fund")
def campaign_fund(
    key: KeyOption,
    campaign: CampaignOption,
    amount: Annotated[int, typer.Option(help="Minor units to add to the pool.")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Add to the campaign's reward pool."""
    signer = load_key(key)
    run_service(db, lambda c: c.fund_pool(signer, campaign, amount), fmt)


@campaign_app.command("close")
def campaign_close(
    key: KeyOption,
    campaign: CampaignOption,
    unreviewed: Annotated[
        str | None,
        typer.Option(
            help="accept | reject: what becomes of the pieces never moderated (required by a "
            "policy with review while any await review; reject: they earn nothing)."
        ),
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Close the campaign: nothing but the payout settlement is accepted afterwards."""
    signer = load_key(key)
    run_service(db, lambda c: c.close_campaign(signer, campaign, unreviewed=unreviewed), fmt)


@campaign_app.command("decide-appeal")
def campaign_decide_appeal(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    reason: Annotated[str, typer.Option(help="Reason code, e.g. fair-point.")],
    uphold: Annotated[bool, typer.Option("--uphold", help="The moderation stands.")] = False,
    reinstate: Annotated[
        bool, typer.Option("--reinstate", help="The piece is accepted and earns again.")
    ] = False,
    note: Annotated[Path | None, typer.Option(help="A note file (stored, hashed).")] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Decide the appeal against a piece's moderation: --uphold or --reinstate (once)."""
    if uphold == reinstate:
        fail("BadOption", "give exactly one of --uphold and --reinstate")
    signer = load_key(key)
    outcome = "upheld" if uphold else "reinstated"
    text = None if note is None else read_bytes(note, "--note")
    run_service(
        db,
        lambda c: c.decide_appeal(signer, campaign, contribution, outcome, reason, note=text),
        fmt,
    )


@campaign_app.command("appeals")
def campaign_appeals(
    campaign: CampaignOption,
    start: Annotated[int, typer.Option(help="Index of the first appeal shown.", min=0)] = 0,
    limit: Annotated[int, typer.Option(help="Show at most this many appeals.", min=1)] = 20,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only the appeals awaiting a decision.")
    ] = False,
    fmt: ReportFormat = "text",
    db: DbOption = None,
) -> None:
    """The campaign's appeals: those awaiting the brand first, then oldest first."""
    check_format(fmt)
    from projections.appeals import campaign_appeals as appeals_page
    from projections.projector import Projector

    with services(db, create=False) as svc:
        projector = guarded(lambda: Projector(svc.ledger.store, engine=svc.engine))
        try:
            guarded(projector.catch_up)
            page = guarded(
                lambda: appeals_page(
                    projector, campaign, start=start, limit=limit, open_only=open_only
                )
            )
        finally:
            projector.close()

    def text() -> None:
        shown = f"{start + 1}–{start + len(page.appeals)}" if page.appeals else "none"
        out.print(
            f"campaign {campaign}: {page.total} appeal(s), {page.open} awaiting a decision; "
            f"showing {shown}",
            markup=False,
            highlight=False,
        )
        for row in page.appeals:
            out.print(
                f"{row.appeal}  {row.contribution}  [{row.against} -> {row.status}]  "
                f"{row.title}  ({row.reason})",
                markup=False,
                highlight=False,
            )

    emit(page.to_json(), fmt, text)


@campaign_app.command("show")
def campaign_show(
    campaign: CampaignOption,
    works: Annotated[bool, typer.Option(help="List every contribution and its authors.")] = False,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Print the campaign, its counts and (with --works) its contributions."""
    check_format(fmt)
    with services(db, create=False) as svc:
        shown = guarded(lambda: svc.campaigns.show(campaign, contributions=works))
    emit(shown, fmt)


@campaign_app.command("queue")
def campaign_queue(
    campaign: CampaignOption,
    start: Annotated[int, typer.Option(help="Index of the first piece shown.", min=0)] = 0,
    limit: Annotated[int, typer.Option(help="Show at most this many pieces.", min=1)] = 20,
    fmt: ReportFormat = "text",
    db: DbOption = None,
) -> None:
    """The moderation queue: reported pieces and comments, most reported first, then oldest."""
    check_format(fmt)
    from projections.projector import Projector
    from projections.reports import moderation_queue

    with services(db, create=False) as svc:
        projector = guarded(lambda: Projector(svc.ledger.store, engine=svc.engine))
        try:
            guarded(projector.catch_up)
            queue = guarded(lambda: moderation_queue(projector, campaign, start=start, limit=limit))
        finally:
            projector.close()
    data = queue.to_json()

    def text() -> None:
        shown = f"{start + 1}–{start + len(queue.pieces)}" if queue.pieces else "none"
        out.print(
            f"campaign {campaign}: {queue.total} reported piece(s) and comment(s), "
            f"{queue.reports} report(s); "
            f"showing {shown}",
            markup=False,
            highlight=False,
        )
        for piece in queue.pieces:
            reasons = ", ".join(f"{r} {n}" for r, n in piece.reasons.items() if n)
            what = (
                piece.title
                if piece.comment is None
                else f"comment {piece.comment} on {piece.title}"
            )
            out.print(
                f"{piece.reports:>4}  {piece.contribution}  [{piece.status}]  {what}  ({reasons})",
                markup=False,
                highlight=False,
            )

    emit(data, fmt, text)


@campaign_app.command("codes")
def campaign_codes(
    key: KeyOption,
    campaign: CampaignOption,
    count: Annotated[
        int, typer.Option(help="How many codes (over 900 go in several events, all or none).")
    ],
    expires: Annotated[
        str, typer.Option(help="When the codes stop admitting anyone, e.g. 2027-01-31T00:00:00Z.")
    ],
    label: Annotated[
        str | None,
        typer.Option(
            help="A label for the batch ([a-z0-9-], at most 48): public in the log, so never "
            "personal data."
        ),
    ] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="Also write the codes to this CSV file (code,campaign,expires,label)."
        ),
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Issue single-use invitation codes and print them (the log keeps only their hashes).

    Send each code to one person: joining with it (`cocred join --code`) uses it up. The codes
    are printed once and cannot be read back from the log: keep the output or the CSV.
    """
    check_format(fmt)
    signer = load_key(key)
    until = parse_time(expires, "--expires", now())
    if count < 1:
        fail("BadOption", f"--count must be at least 1, got {count}")
    partial = None if csv_file is None else _writable(csv_file)
    try:
        with services(db) as svc:
            issued = guarded(
                lambda: svc.campaigns.issue_codes(
                    signer, campaign, count, expires_at=until, label=label
                )
            )
    except BaseException:  # a refusal exits here: it leaves no CSV behind
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise
    if csv_file is not None and partial is not None:
        _write_codes_csv(partial, csv_file, issued.codes, campaign, issued.expires_at, label)
    data = issued.to_json()
    if csv_file is not None:
        data["csv"] = str(csv_file)

    def text() -> None:
        record_text({k: v for k, v in data.items() if k != "codes"})
        for each in issued.codes:
            out.print(f"code: {each}", markup=False, highlight=False)

    emit(data, fmt, text)


def _writable(target: Path) -> Path:
    """A fresh file beside ``target`` (renamed over it once the codes are issued)."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.touch(mode=0o600, exist_ok=False)
    except FileExistsError:
        fail(
            "UnwritableFile",
            f"--csv: {partial} exists (left by an interrupted run, it may hold codes): move it "
            "away first",
        )
    except OSError as exc:
        fail("UnwritableFile", f"--csv: cannot write beside {target}: {exc.strerror}")
    return partial


def _write_codes_csv(
    partial: Path, target: Path, codes: tuple[str, ...], campaign: str, expires: str,
    label: str | None,
) -> None:  # fmt: skip
    import csv

    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "campaign", "expires", "label"])
        writer.writerows([code, campaign, expires, label or ""] for code in codes)
    partial.replace(target)


def invite(
    key: KeyOption,
    campaign: CampaignOption,
    member: Member,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Invite a member to the campaign (needed to join an invite-only campaign)."""
    signer = load_key(key)
    run_service(db, lambda c: c.invite(signer, campaign, member), fmt)


def block(
    key: KeyOption,
    campaign: CampaignOption,
    member: Member,
    reason: Annotated[str, typer.Option(help="Reason code, e.g. harassment.")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Block a member: they can do nothing more in the campaign."""
    signer = load_key(key)
    run_service(db, lambda c: c.block(signer, campaign, member, reason), fmt)


def unblock(
    key: KeyOption,
    campaign: CampaignOption,
    member: Member,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Lift a member's block."""
    signer = load_key(key)
    run_service(db, lambda c: c.unblock(signer, campaign, member), fmt)


def moderate(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    outcome: Annotated[str, typer.Option(help="accepted, rejected or removed.")],
    reason: Annotated[str, typer.Option(help="Reason code, e.g. guideline-violation.")],
    note: Annotated[Path | None, typer.Option(help="A note file (stored, hashed).")] = None,
    report: CitedReports = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Accept, reject or remove a contribution (removal is final), citing its reports."""
    signer = load_key(key)
    text = None if note is None else read_bytes(note, "--note")
    run_service(
        db,
        lambda c: c.moderate(
            signer, campaign, contribution, outcome, reason, note=text, reports=report or None
        ),
        fmt,
    )


def reuse(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    licence: LicenceOption,
    channel: Annotated[str, typer.Option(help="Channel of the reuse.")],
    territory: Annotated[str, typer.Option(help="Country code of the reuse.")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Record a reuse of a contribution under a live licence naming you as licensee."""
    signer = load_key(key)
    run_service(
        db,
        lambda c: c.record_reuse(
            signer, campaign, contribution, licence, channel=channel, territory=territory
        ),
        fmt,
    )


def register(app: typer.Typer) -> None:
    """Add the brand's verbs and the ``campaign`` group to ``app``."""
    for verb in (invite, block, unblock, moderate, reuse):
        app.command()(verb)
    app.add_typer(campaign_app, name="campaign")


def default_policy() -> Mapping[str, Any]:
    """The policy a campaign opens with when ``--policy`` names none (imported when used)."""
    from domain.policy import DEFAULT_POLICY

    return DEFAULT_POLICY
