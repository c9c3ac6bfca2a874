"""The ``cocred`` command line: thin verbs over the services built by ``bootstrap``.

Every refusal prints ``error[Code]: sentence`` on stderr and exits 1, having
changed nothing; usage mistakes exit 2 (typer's convention).

This module is the command table and nothing else: each command module defines its verbs
and sub-apps, imports only ``api.cli.common``, and has one ``register(app)``; ``COMMAND_TABLE``
below lists them in the order ``cocred --help`` lists the verbs.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from api.cli import (
    campaign,
    claims,
    comments,
    demo,
    keys,
    log,
    members,
    monitor,
    payouts,
    projections,
    provenance,
    serve,
    tiles,
    witness,
)
from api.cli.common import fail
from ledger.errors import MalformedError

# typer lists the plain commands first, then the groups, each in the order they were added,
# so this order is the order of ``cocred --help``:
COMMAND_TABLE: tuple[Callable[[typer.Typer], None], ...] = (
    keys.register,  # the keys group: new, show, register, rotate, revoke
    log.register,  # sign, append, log, verify
    demo.register,  # demo
    campaign.register,  # invite, block, unblock, moderate, reuse; the campaign group
    members.register,  # join, submit, remix, vote, withdraw, erase; licence, coauthor, profile
    comments.register,  # the comment group: post, reply, hide, report, thread
    projections.register,  # project, shares, explain; the export group
    payouts.register,  # the payouts group: propose, withdraw, object, answer, settle, files …
    claims.register,  # payouts claims: build, deploy, proof, claim, record (after payouts)
    provenance.register,  # checkpoint, ledger-key, audit, proof, verify-proof; the anchor group
    serve.register,  # serve
    tiles.register,  # the tiles group: export
    monitor.register,  # monitor: follow a remote ledger over the tiles API, alert
    witness.register,  # the witness group: key, serve, submit
)

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="cocred: a verifiable contribution ledger for co-creation campaigns.",
)
for register in COMMAND_TABLE:
    register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except MalformedError as exc:  # pragma: no cover - last resort, commands map their own
        fail(exc.code, exc.detail)


if __name__ == "__main__":
    main()
