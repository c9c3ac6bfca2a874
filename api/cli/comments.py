"""The comment threads' verbs of the ``cocred`` CLI (issue 19).

``cocred comment post|reply|hide|report|thread``. ``post`` and ``reply`` put the text file
into the content store (as ``submit`` does with a work's bytes) and sign the event carrying
its hash; ``--as-brand`` marks the brand's own comments. ``hide`` is the brand's; ``thread``
reads a piece's thread a page at a time. Every refusal prints ``error[Code]: sentence`` on
stderr and exits 1, having written nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import (
    CampaignOption,
    CitedReports,
    ContributionOption,
    DbOption,
    KeyOption,
    RecordFormat,
    ReportFormat,
    check_format,
    emit,
    guarded,
    load_key,
    out,
    read_bytes,
    run_service,
    services,
)
from domain.vocabulary import REPORT_REASONS

comment_app = typer.Typer(
    no_args_is_help=True,
    help="Comment on pieces, reply in their threads, hide (the brand) or report comments.",
)

TextFile = Annotated[
    Path, typer.Option("--text", help="The comment's text file (UTF-8; stored, hashed).")
]
CommentOption = Annotated[str, typer.Option("--comment", help="Comment id <actor>:<seq>.")]
AsBrand = Annotated[
    bool, typer.Option("--as-brand", help="The brand's own comment (signed by the brand).")
]


def _post(
    key: Path,
    campaign: str,
    contribution: str,
    text: Path,
    parent: str | None,
    as_brand: bool,
    db: str | None,
    fmt: str,
) -> None:
    signer = load_key(key)
    data = read_bytes(text, "--text")
    run_service(
        db,
        lambda c: c.post_comment(
            signer, campaign, contribution, data, parent=parent, as_brand=as_brand
        ),
        fmt,
    )


@comment_app.command("post")
def comment_post(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    text: TextFile,
    as_brand: AsBrand = False,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Comment on a piece (its thread's first level)."""
    _post(key, campaign, contribution, text, None, as_brand, db, fmt)


@comment_app.command("reply")
def comment_reply(
    key: KeyOption,
    campaign: CampaignOption,
    contribution: ContributionOption,
    parent: Annotated[str, typer.Option("--to", help="The comment answered <actor>:<seq>.")],
    text: TextFile,
    as_brand: AsBrand = False,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Reply to a comment in the piece's thread."""
    _post(key, campaign, contribution, text, parent, as_brand, db, fmt)


@comment_app.command("hide")
def comment_hide(
    key: KeyOption,
    campaign: CampaignOption,
    comment: CommentOption,
    reason: Annotated[str, typer.Option(help="Reason code [a-z0-9-]{1,48}.")],
    report: CitedReports = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Hide a comment (the brand), citing its reports: it stays in the log, its comment vote
    stops counting."""
    signer = load_key(key)
    run_service(
        db,
        lambda c: c.hide_comment(signer, campaign, comment, reason, reports=report or None),
        fmt,
    )


@comment_app.command("report")
def comment_report(
    key: KeyOption,
    campaign: CampaignOption,
    comment: CommentOption,
    reason: Annotated[str, typer.Option(help=" | ".join(REPORT_REASONS))],
    text: Annotated[
        Path | None, typer.Option("--text", help="A text file saying why (stored, hashed).")
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Report someone else's comment to the brand (once per comment)."""
    signer = load_key(key)
    said = None if text is None else read_bytes(text, "--text")
    run_service(db, lambda c: c.report_comment(signer, campaign, comment, reason, text=said), fmt)


@comment_app.command("thread")
def comment_thread(
    campaign: CampaignOption,
    contribution: ContributionOption,
    start: Annotated[int, typer.Option(help="Index of the first comment shown.", min=0)] = 0,
    limit: Annotated[int, typer.Option(help="Show at most this many comments.", min=1)] = 50,
    fmt: ReportFormat = "text",
    db: DbOption = None,
) -> None:
    """A piece's thread: each comment followed by its replies, the brand's marked."""
    check_format(fmt)
    with services(db, create=False) as svc:
        page = guarded(
            lambda: svc.campaigns.thread_page(campaign, contribution, start=start, limit=limit)
        )

    def text() -> None:
        shown = f"{start + 1}–{start + len(page.entries)}" if page.entries else "none"
        out.print(
            f"contribution {contribution}: {page.total} comment(s); showing {shown}",
            markup=False,
            highlight=False,
        )
        for entry in page.entries:
            c = entry.comment
            who = "brand" if c.as_brand else c.author
            said = f"hidden by the brand: {c.hidden}" if c.hidden else entry.text
            out.print(f"{'  ' * entry.depth}{c.id}  {who}: {said}", markup=False, highlight=False)

    emit(page.to_json(), fmt, text)


def register(app: typer.Typer) -> None:
    """Add the ``comment`` group."""
    app.add_typer(comment_app, name="comment")
