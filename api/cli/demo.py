"""``cocred demo``: build the deterministic demo campaign and narrate it on stderr.

The story itself is ``domain.demo.generator.build_demo``; this module only picks the seed,
shows progress and tells what happened (the JSON summary goes to stdout).
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from api.bootstrap import Services
from domain.demo.generator import DemoSummary, build_demo, first_free_seed


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

    Raises what ``build_demo`` raises (``DemoSizeError``, ``DuplicateCampaignError`` …).
    """
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
    for refusal in summary.refusals:
        console.print(
            f"refused ({refusal['attempt']}): error[{refusal['code']}]: {refusal['detail']}",
            highlight=False,
            soft_wrap=True,
        )
    return summary
