"""The ``cocred`` command line: thin verbs over the services built by ``bootstrap``.

Every refusal prints ``error[Code]: sentence`` on stderr and exits 1, having
changed nothing; usage mistakes exit 2 (typer's convention).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.bootstrap import Services, bootstrap
from ledger.actors import KEY_REGISTERED, KEY_REVOKED, KEY_ROTATED, rotation_statement
from ledger.canonical import CanonicalizationError, parse_json
from ledger.envelope import sign_envelope
from ledger.errors import CocredError, MalformedError
from ledger.keys import SigningKey, b64url, public_jwk
from ledger.ledger import IMPORT_BATCH, MAX_BATCH
from ledger.verify import verify_log

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="cocred: a verifiable contribution ledger for co-creation campaigns.",
)
keys_app = typer.Typer(no_args_is_help=True, help="Create, show, register, rotate, revoke keys.")
app.add_typer(keys_app, name="keys")

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: COCRED_DATABASE_URL or sqlite:///var/cocred.sqlite)."
    ),
]
KeyOption = Annotated[Path, typer.Option("--key", help="Private key file of the signing actor.")]

T = TypeVar("T")
Refusal = CocredError
REFUSALS = (CocredError,)


def fail(code: str, detail: str) -> NoReturn:
    """Print the refusal and exit 1."""
    err.print(f"error[{code}]: {detail}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def refuse(exc: Refusal) -> NoReturn:
    fail(exc.code, exc.detail)


@contextmanager
def services(db: str | None, *, create: bool = True) -> Iterator[Services]:
    """Bootstrap for one command, mapping every ledger or domain error to a clean exit."""
    try:
        with bootstrap(database_url=db, create=create) as built:
            yield built
    except REFUSALS as exc:
        refuse(exc)


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except REFUSALS as exc:
        refuse(exc)


def print_json(data: Any) -> None:
    """One JSON document on stdout (what every campaign verb prints)."""
    out.print_json(data=data)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


# -- keys --------------------------------------------------------------------------------------


@keys_app.command("new")
def keys_new(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the key.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Create a new actor key; the file is written with mode 0600."""
    key = SigningKey.generate()
    guarded(lambda: key.save(out_file, overwrite=force))
    out.print_json(data={"actor": key.actor, "key": key.key_id, "file": str(out_file)})


@keys_app.command("show")
def keys_show(key_file: Annotated[Path, typer.Argument(help="A key file.")]) -> None:
    """Print the actor id, key id and public key of a key file (never the private part)."""
    key = guarded(lambda: SigningKey.load(key_file))
    out.print_json(
        data={"actor": key.actor, "key": key.key_id, "public_jwk": public_jwk(key.public_bytes)}
    )


def _append_signed(
    db: str | None, key: SigningKey, type_: str, body: dict[str, Any], campaign: str | None = None
) -> dict[str, Any]:
    with services(db) as svc:
        env = guarded(
            lambda: sign_envelope(
                key, type_, body, campaign=campaign, seq=svc.ledger.next_seq(key.actor)
            )
        )
        position = guarded(lambda: svc.campaigns.gate.append(env))
    return {"position": position, "actor": env.actor, "seq": env.seq, "type": env.type}


@keys_app.command("register")
def keys_register(key: KeyOption, db: DbOption = None) -> None:
    """Append the key's self-signed KeyRegistered event (the actor's seq 1)."""
    signer = guarded(lambda: SigningKey.load(key))
    out.print_json(
        data=_append_signed(db, signer, KEY_REGISTERED, {"jwk": public_jwk(signer.public_bytes)})
    )


@keys_app.command("rotate")
def keys_rotate(
    key: KeyOption,
    out_file: Annotated[Path, typer.Option("--out", help="New key file.")],
    db: DbOption = None,
) -> None:
    """Replace the actor's key: KeyRotated signed by the current key, new key file written."""
    current = guarded(lambda: SigningKey.load(key))
    new = SigningKey.generate().for_actor(current.actor)
    if out_file.exists():
        fail("BadKeyFile", f"{out_file} already exists; refusing to overwrite a key")
    with services(db) as svc:
        seq = guarded(lambda: svc.ledger.next_seq(current.actor))
        proof = new.sign(rotation_statement(current.actor, seq, new.key_id))
        env = guarded(
            lambda: sign_envelope(
                current,
                KEY_ROTATED,
                {"jwk": public_jwk(new.public_bytes), "proof": b64url(proof)},
                seq=seq,
            )
        )
        guarded(lambda: new.save(out_file))
        try:
            position = svc.campaigns.gate.append(env)
        except REFUSALS as exc:
            out_file.unlink()
            refuse(exc)
    out.print_json(
        data={
            "position": position,
            "actor": current.actor,
            "old_key": current.key_id,
            "new_key": new.key_id,
            "file": str(out_file),
        }
    )


@keys_app.command("revoke")
def keys_revoke(
    key: KeyOption,
    reason: Annotated[str, typer.Option(help="Why (at most 200 characters).")] = "",
    db: DbOption = None,
) -> None:
    """Revoke the actor's current key: nothing more can be signed for this actor."""
    signer = guarded(lambda: SigningKey.load(key))
    body: dict[str, Any] = {"key": signer.key_id}
    if reason:
        body["reason"] = reason
    out.print_json(data=_append_signed(db, signer, KEY_REVOKED, body))


# -- events ------------------------------------------------------------------------------------


def _parse_body(text: str) -> dict[str, Any]:
    try:
        body = parse_json(text)
    except CanonicalizationError as exc:
        fail("MalformedEvent", f"--body: {exc.detail}")
    if not isinstance(body, dict):
        fail("MalformedEvent", "--body must be a JSON object")
    return body


@app.command()
def sign(
    key: KeyOption,
    type_: Annotated[str, typer.Option("--type", help="Event type, e.g. IdeaShared.")],
    body: Annotated[str, typer.Option(help="Event body as a JSON object.")] = "{}",
    campaign: Annotated[str | None, typer.Option(help="Campaign id.")] = None,
    seq: Annotated[int | None, typer.Option(help="Seq (default: next from the store).")] = None,
    db: DbOption = None,
) -> None:
    """Print a signed envelope (one JSON line) ready for ``cocred append``."""
    signer = guarded(lambda: SigningKey.load(key))
    parsed = _parse_body(body)
    if seq is None:
        with services(db) as svc:
            seq = guarded(lambda: svc.ledger.next_seq(signer.actor))
    env = guarded(lambda: sign_envelope(signer, type_, parsed, seq=seq, campaign=campaign))
    sys.stdout.write(env.canonical_bytes().decode() + "\n")


def _numbered_lines(source: str) -> list[tuple[int, str]]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail("MalformedEvent", f"cannot read {source}: {exc}")
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _line_error(exc: Refusal, chunk: list[tuple[int, str]], done: int) -> NoReturn:
    index = exc.ids.get("index")
    if isinstance(index, int):
        detail = exc.detail.split(": ", 1)[1] if exc.detail.startswith("event ") else exc.detail
        where = f"line {chunk[index][0]}: {detail}"
    else:
        where = f"line {chunk[0][0]}: {exc.detail}"
    if done:
        where += f" ({done} earlier events were appended before this failure)"
    fail(exc.code, where)


@app.command()
def append(
    source: Annotated[str, typer.Argument(help="JSON-lines file of envelopes, or -.")],
    batch: Annotated[
        int, typer.Option(help="Events per transaction.", min=1, max=MAX_BATCH)
    ] = IMPORT_BATCH,
    db: DbOption = None,
) -> None:
    """Append signed envelopes through the campaign rules.

    The whole input is checked first (signatures, keys, seqs and the campaign
    rules, each event against the ones before it); bad input writes nothing.
    """
    lines = _numbered_lines(source)
    chunks = [lines[i : i + batch] for i in range(0, len(lines), batch)]
    with services(db) as svc, progress_bar() as bar:
        gate = svc.campaigns.gate
        if len(chunks) > 1:  # check everything before writing anything
            task = bar.add_task("checking", total=len(lines))
            with gate.dry_run() as check:
                for chunk in chunks:
                    try:
                        check([text for _, text in chunk])
                    except REFUSALS as exc:
                        _line_error(exc, chunk, 0)
                    bar.advance(task, len(chunk))
        task = bar.add_task("appending", total=len(lines))
        positions: list[int] = []
        already = 0  # retried events: their exact bytes were in the log, nothing new written
        for chunk in chunks:
            try:
                appended = gate.append_batch([text for _, text in chunk])
                positions += appended
                already += len(appended.stored_before)
            except REFUSALS as exc:
                _line_error(exc, chunk, len(positions))
            bar.advance(task, len(chunk))
    first = f" at positions {min(positions)}..{max(positions)}" if positions else ""
    stored = f" ({already} already stored)" if already else ""
    out.print(f"appended {len(positions)} events{first}{stored}", highlight=False)


@app.command("log")
def log_(
    start: Annotated[int, typer.Option("--from", help="First position.", min=0)] = 0,
    actor: Annotated[str | None, typer.Option(help="Only this actor's events.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    positions: Annotated[
        bool, typer.Option(help="Prefix each line with its position and a tab.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Print stored envelopes as JSON lines, in log order (or one actor's, by seq)."""
    with services(db, create=False) as svc:
        store = svc.ledger.store
        if actor is not None:
            records = guarded(lambda: store.read_actor(actor, limit=limit))
            records = [r for r in records if r.position >= start]
        else:
            stop = None if limit is None else start + limit
            records = guarded(lambda: list(store.iterate(start, stop)))
        for record in records:
            prefix = f"{record.position}\t" if positions else ""
            sys.stdout.write(prefix + record.data.decode("utf-8", "replace") + "\n")


@app.command()
def verify(db: DbOption = None) -> None:
    """Re-verify every stored event; exit 1 naming the first bad position and why."""
    with services(db, create=False) as svc, progress_bar() as bar:
        total = guarded(svc.ledger.size)
        task = bar.add_task("verifying", total=total)
        report = guarded(
            lambda: verify_log(
                svc.ledger.store,
                threads=svc.settings.verify_threads,
                progress=lambda n: bar.advance(task, n),
            )
        )
    if report.failure is not None:
        fail("VerificationFailed", str(report.failure))
    out.print(
        f"verified {report.events} events from {report.actors} actors: all signatures, "
        f"key states and seq chains hold",
        highlight=False,
    )


@app.command()
def demo(
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed (default: the first whose campaign is not in the database).", min=0
        ),
    ] = None,
    members: Annotated[int, typer.Option(help="Members (ring and trolls included).", min=10)] = 60,
    contributions: Annotated[int, typer.Option(help="Contributions.", min=20)] = 200,
    votes: Annotated[int, typer.Option(help="Votes cast by the community.", min=0)] = 1500,
    summary: Annotated[
        Path | None, typer.Option(help="Also write the JSON summary to this file.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Build a deterministic demo campaign: remixes, co-authors, licences, trolls, a vote ring."""
    from api.cli.demo import run_demo

    with services(db) as svc:
        built = guarded(
            lambda: run_demo(
                svc, err, seed=seed, members=members, contributions=contributions, votes=votes
            )
        ).to_json()
    if summary is not None:
        summary.write_text(json.dumps(built, indent=2) + "\n", encoding="utf-8")
    print_json(built)


# The campaign verbs live in their own module; importing it registers them on ``app``.
from api.cli import campaign as _campaign_verbs  # noqa: E402, F401
from api.cli import projections as _projection_verbs  # noqa: E402
from api.cli import provenance as _provenance_verbs  # noqa: E402

_projection_verbs.register(app)
_provenance_verbs.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except MalformedError as exc:  # pragma: no cover - last resort, commands map their own
        fail(exc.code, exc.detail)


if __name__ == "__main__":
    main()
