"""What every ``cocred`` command module shares: options, output, refusals, and shared steps.

Every refusal prints ``error[Code]: sentence`` on stderr and exits 1, having changed nothing.
This module imports no command module (``tests/api/test_layout.py`` checks it), so any command
module can import it without running the command table in ``api/cli/__init__.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from ledger.errors import CocredError

# Only what a command runs is imported, when it runs: `cocred --help` loads typer, rich and
# the standard library, plus ledger.errors, domain.errors and domain.vocabulary (which import
# nothing heavy); `keys new` and `verify-proof` load the key code, yet no database library,
# web3, FastAPI or pydantic (tests/api/cli/test_startup.py).
if TYPE_CHECKING:
    from rich.progress import Progress

    from api.bootstrap import Services
    from domain.campaign import Campaign
    from domain.demo.generator import DemoSummary
    from domain.payouts import PayoutBook
    from domain.services import CampaignServices, Receipt
    from ledger.keys import SigningKey
    from ledger.provenance.audit import AuditReport
    from ledger.provenance.cosignature import WitnessPolicy
    from projections.rails import RailPlan

# soft_wrap: a line is never broken at the terminal's width, so a key, id, URL or hash printed
# in a sentence stays whole for copy and paste (tests/api/cli/test_output.py holds it at 40
# columns). Tables still fit the width: their cells wrap, never a value printed in a line.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")
Refusal = CocredError
REFUSALS = (CocredError,)

# -- options -----------------------------------------------------------------------------------

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: COCRED_DATABASE_URL or sqlite:///var/cocred.sqlite). "
        "A command that writes creates a missing database, and its ledger key beside it; "
        "a command that only reads refuses a missing one (StorageUnavailable).",
    ),
]
KeyOption = Annotated[Path, typer.Option("--key", help="Private key file of the signing actor.")]
CampaignOption = Annotated[str, typer.Option("--campaign", help="Campaign id.")]
ContributionOption = Annotated[str, typer.Option("--contribution", help="Contribution id.")]
# The reports a brand's decision answers (moderating a piece, hiding a comment).
CitedReports = Annotated[
    list[str] | None,
    typer.Option("--report", help="A report id <member>:<seq> the decision answers (repeatable)."),
]
LicenceOption = Annotated[str, typer.Option(help="Licence id <contribution>/<name>.")]
TitleOption = Annotated[str, typer.Option(help="Title (1-200 characters).")]
WitnessKeysOption = Annotated[
    list[str] | None,
    typer.Option(
        "--witness",
        help="A witness verifier key you trust (type 0x04; repeat for each): checkpoints must "
        "carry cosignatures of --quorum of them.",
    ),
]
QuorumOption = Annotated[
    int | None,
    typer.Option(help="How many of the --witness keys must have cosigned (default: all)."),
]

# The one output convention: every command that prints data takes ``--format text|json``.
# JSON is one indented UTF-8 document (no \u escapes), keys in a fixed order. A record (a
# receipt, a key, a proof, a checkpoint) prints JSON by default, since scripts read fields
# from it; a report (shares, explain, log, verify, audit) prints text by default.
OUTPUT_FORMATS = ("text", "json")
RecordFormat = Annotated[
    str,
    typer.Option(
        "--format",
        help="json (default: one indented UTF-8 document) or text (one 'field: value' line each).",
    ),
]
ReportFormat = Annotated[
    str,
    typer.Option("--format", help="text (default, for people) or json (one indented document)."),
]


# -- refusals and output -----------------------------------------------------------------------


def fail(code: str, detail: str) -> NoReturn:
    """Print the refusal and exit 1."""
    err.print(f"error[{code}]: {detail}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def refuse(exc: Refusal) -> NoReturn:
    """Print ``exc`` as a refusal (its code and sentence) and exit 1."""
    fail(exc.code, exc.detail)


@contextmanager
def services(db: str | None, *, create: bool = True) -> Iterator[Services]:
    """Bootstrap for one command, mapping every ledger or domain error to a clean exit."""
    from api.bootstrap import bootstrap

    try:
        with bootstrap(database_url=db, create=create) as built:
            yield built
    except REFUSALS as exc:
        refuse(exc)


def guarded(action: Callable[[], T]) -> T:
    """Run ``action``; a refusal it raises becomes ``error[Code]: sentence`` and exit 1."""
    try:
        return action()
    except REFUSALS as exc:
        refuse(exc)


def print_json(data: Any) -> None:
    """One JSON document on stdout: indented, UTF-8, keys in the order the command built them."""
    out.print_json(data=data, ensure_ascii=False)


def check_format(fmt: str) -> str:
    """``fmt`` if it is ``text`` or ``json``; otherwise exit 1 (``BadFormat``) before any work."""
    if fmt not in OUTPUT_FORMATS:
        fail("BadFormat", f"--format must be text or json, got {fmt!r}")
    return fmt


def record_text(data: dict[str, Any]) -> None:
    """A record as text: one ``field: value`` line per field (nested values as compact JSON)."""
    for name, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.print(f"{name}: {shown}", markup=False, highlight=False)


def emit(data: Any, fmt: str, text: Callable[[], object] | None = None) -> None:
    """Print ``data`` in ``fmt``: JSON, or ``text()`` (default: ``record_text(data)``)."""
    if check_format(fmt) == "json":
        print_json(data)
    elif text is not None:
        text()
    else:
        record_text(data)


def progress_bar() -> Progress:
    """A progress bar on stderr, shown only when stderr is a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


# -- reading the options -----------------------------------------------------------------------


def load_key(path: Path) -> SigningKey:
    """The key in ``path``; exit 1 with the ledger's refusal if it is not a key file."""
    from ledger.keys import SigningKey

    return guarded(lambda: SigningKey.load(path))


def read_bytes(path: Path, option: str) -> bytes:
    """The bytes of the file an ``option`` names; exit 1 (``UnreadableFile``) if unreadable."""
    try:
        return path.read_bytes()
    except OSError as exc:
        fail("UnreadableFile", f"{option}: cannot read {path}: {exc.strerror}")


def parse_time(text: str | None, option: str, default: datetime) -> datetime:
    """The UTC time ``text`` gives (naive means UTC), ``default`` if None; exit 1 if malformed."""
    if text is None:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail("BadOption", f"{option} must be a time like 2026-11-22T10:00:00Z, got {text!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def now() -> datetime:
    """The current UTC time, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def run_service(
    db: str | None, verb: Callable[[CampaignServices], Receipt], fmt: str = "json"
) -> None:
    """One service call on the database; print its receipt in ``fmt``."""
    check_format(fmt)
    with services(db) as svc:
        receipt = guarded(lambda: verb(svc.campaigns))
    emit(receipt.to_json(), fmt)


# -- steps more than one command module takes --------------------------------------------------


def allowed_lag(svc: Services, given: int | None) -> int:
    """How many events the latest checkpoint may lag: as given, else the checkpoint interval."""
    return svc.settings.checkpoint_every if given is None else given


def record_audit(svc: Services, report: AuditReport, started_at: str) -> None:
    """Keep ``report`` in the database's audits table (the auditor page shows the latest)."""
    from ledger.provenance.audit_reports import AuditReports

    guarded(lambda: AuditReports(svc.engine).record(report, started_at))


def run_demo(
    svc: Services,
    console: Console,
    *,
    seed: int | None,
    members: int,
    contributions: int,
    votes: int,
) -> DemoSummary:
    """Build the demo for ``seed`` (default: the first free one) and narrate it.

    The story itself is ``domain.demo.generator.build_demo``; this only picks the seed, shows
    progress and tells what happened on ``console``. Raises what ``build_demo`` raises
    (``DemoSizeError``, ``DuplicateCampaignError`` …).
    """
    # Imported here: only `demo` and `serve --demo` need the generator, not every command.
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from domain.demo.generator import build_demo, first_free_seed

    chosen = first_free_seed(svc) if seed is None else seed
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}: {task.completed} events"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task(f"demo seed {chosen}", total=None)
        summary = build_demo(
            svc,
            seed=chosen,
            members=members,
            contributions=contributions,
            votes=votes,
            progress=lambda n: progress.advance(task, n),
        )
    ring = summary.ring
    console.print(
        f"campaign {summary.campaign}: {summary.events} events at positions "
        f"{summary.first_position}..{summary.last_position} in {summary.seconds:.1f} s "
        f"({summary.counts.get('ContributionSubmitted', 0)} contributions, "
        f"{summary.remixes} remixes up to {summary.max_remix_depth} deep, "
        f"{summary.counts.get('VoteCast', 0)} votes, {len(summary.licences['live'])} live "
        f"licences, {summary.reuses} reuses)",
        highlight=False,
    )
    console.print(
        f"vote ring: {len(ring['members'])} sock puppets cast {ring['internal_votes']} votes "
        f"on each other's {len(ring['contributions'])} pieces; {len(summary.trolls)} troll(s) "
        f"blocked; {len(summary.removed)} pieces removed",
        highlight=False,
    )
    if summary.reinstated or summary.unreviewed:
        console.print(
            f"review: {len(summary.reinstated)} piece(s) rejected after the window, appealed "
            f"and reinstated; closed with unreviewed: {summary.unreviewed}",
            highlight=False,
        )
    if summary.consent:
        console.print(
            f"co-authorship: {summary.consent['pending']} still pending at the close; "
            f"{summary.consent['declined']} declined by its co-author and resubmitted alone "
            f"as {summary.consent['resubmitted']}",
            highlight=False,
            soft_wrap=True,
        )
    for refusal in summary.refusals:
        console.print(
            f"refused ({refusal['attempt']}): error[{refusal['code']}]: {refusal['detail']}",
            highlight=False,
            soft_wrap=True,
        )
    from dataclasses import replace

    from projections.demo_payouts import pay_demo

    before = svc.ledger.size()
    paid = pay_demo(svc.campaigns, summary.campaign, chosen, members)
    # The summary covers every event the demo wrote, the payouts' included.
    added = svc.ledger.size() - before
    counts = dict(summary.counts)
    for record in svc.ledger.store.read(before, added):
        counts[record.type] = counts.get(record.type, 0) + 1
    summary = replace(
        summary,
        events=summary.events + added,
        last_position=before + added - 1,
        counts=dict(sorted(counts.items())),
    )
    console.print(
        f"payouts: proposal {paid['proposal']} objected to and answered, settled at "
        f"{paid['settled_at']}; paid {paid['paid']['sepa']} by SEPA and "
        f"{paid['paid']['paypal']} by PayPal; {len(paid['unpaid'])} unpaid "
        f"({', '.join(u['reason'] for u in paid['unpaid'])}), {paid['owed']} still owed",
        highlight=False,
    )
    return summary


# -- payouts: what the payout verbs and the claims rail share ----------------------------------

# projections.rails.FILE_RAILS, named here so that `cocred --help` need not import the rails
# (tests/api/cli/test_startup.py checks the two agree).
FILE_RAIL_NAMES = ("sepa", "paypal", "safe")


def payout_book(svc: Services, campaign: str) -> PayoutBook:
    """The campaign's payout book (proposal, objections, settlement, payments)."""
    return guarded(lambda: svc.campaigns.payout_book(campaign))


def require_brand(svc: Services, actor: str, campaign: str, what: str) -> Campaign:
    """The campaign; exit 1 (``NotCampaignOwner``) unless ``actor`` is its brand: "only the
    brand B of campaign C may ``what``"."""
    from domain.errors import NotCampaignOwnerError

    found = guarded(lambda: svc.campaigns.campaign(campaign))
    if actor != found.brand:
        fail(
            NotCampaignOwnerError.code,
            f"only the brand {found.brand} of campaign {campaign} may {what}",
        )
    return found


def brand_plan(
    svc: Services,
    signer_actor: str,
    campaign: str,
    rails: list[str],
    allowed: tuple[str, ...] = FILE_RAIL_NAMES,
) -> RailPlan:
    """The rail plan of a settled campaign for its brand (the payment files and the claims
    rail both start here); exits 1 with the sentence if the signer is not the brand or the
    campaign is not settled."""
    from contracts.claim_payouts import ClaimTrees
    from projections.payments import settled_lines
    from projections.rails import plan_rails

    found = require_brand(svc, signer_actor, campaign, "make its payment files")
    book = payout_book(svc, campaign)
    lines = guarded(lambda: settled_lines(book, svc.ledger.store, campaign))
    if lines is None:
        fail(
            "NotSettled",
            f"campaign {campaign} is not settled: payment files come after PayoutsSettled",
        )
    erased = guarded(lambda: svc.campaigns.gate.read(lambda state: set(state.erased)))
    # Whoever has a leaf in the deployed claim tree is paid by claiming, never by a file too.
    claimable = guarded(lambda: ClaimTrees(svc.engine, create=False).claimable(campaign))
    return guarded(
        lambda: plan_rails(
            campaign,
            found.currency,
            lines,
            book.paid,
            rails,
            svc.profiles,
            erased,
            allowed,
            claimable,
        )  # fmt: skip
    )


def subgroup(app: typer.Typer, name: str) -> typer.Typer:
    """The group ``name`` already added to ``app`` (a module adding verbs under another's
    group registers after it in ``COMMAND_TABLE``)."""
    for group in app.registered_groups:
        if group.name == name and group.typer_instance is not None:
            return group.typer_instance
    raise LookupError(f"no group {name!r} registered yet: order COMMAND_TABLE")


def witness_policy(witness: list[str] | None, quorum: int | None) -> WitnessPolicy | None:
    """The ``--witness``/``--quorum`` policy (None without witnesses); exits 1 with the
    sentence for a quorum without keys or keys that cannot make a policy."""
    from ledger.provenance.cosignature import WitnessPolicy

    if quorum is not None and not witness:
        fail("InvalidWitnessPolicy", "--quorum needs the --witness keys it counts")
    return guarded(lambda: WitnessPolicy.parse(witness, quorum)) if witness else None
