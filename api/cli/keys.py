"""``cocred keys new|show|register|rotate|revoke``: an actor's key file and its key events."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.common import (
    REFUSALS,
    DbOption,
    KeyOption,
    RecordFormat,
    check_format,
    emit,
    err,
    fail,
    guarded,
    refuse,
    services,
)
from ledger.actors import KEY_REGISTERED, KEY_REVOKED, KEY_ROTATED, rotation_statement
from ledger.envelope import sign_envelope
from ledger.keys import SigningKey, b64url, public_jwk

keys_app = typer.Typer(no_args_is_help=True, help="Create, show, register, rotate, revoke keys.")


@keys_app.command("new")
def keys_new(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the key.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    fmt: RecordFormat = "json",
) -> None:
    """Create a new actor key; the file is written with mode 0600.

    Warns (on stderr) when the file is inside a git work tree that does not ignore it, so
    that ``git add .`` would commit a private key.
    """
    check_format(fmt)
    key = SigningKey.generate()
    guarded(lambda: key.save(out_file, overwrite=force))
    if _tracked_by_git(out_file):
        err.print(
            f"warning: {out_file} is inside a git work tree that does not ignore it; "
            f"`git add` would commit this private key (add it to .gitignore, or keep keys "
            f"outside the repository, e.g. under var/)",
            markup=False,
            highlight=False,
        )
    emit({"actor": key.actor, "key": key.key_id, "file": str(out_file)}, fmt)


def _tracked_by_git(path: Path) -> bool:
    """True when ``path`` is in a git work tree and that tree does not ignore it."""
    folder = path.resolve().parent
    try:
        inside = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return False
        ignored = subprocess.run(
            ["git", "-C", str(folder), "check-ignore", "-q", "--", str(path.resolve())],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine: nothing to warn of
        return False
    return ignored.returncode == 1  # 0: ignored; 1: not ignored; 128: git could not tell


@keys_app.command("show")
def keys_show(
    key_file: Annotated[Path, typer.Argument(help="A key file.")], fmt: RecordFormat = "json"
) -> None:
    """Print the actor id, key id and public key of a key file (never the private part)."""
    check_format(fmt)
    key = guarded(lambda: SigningKey.load(key_file))
    emit({"actor": key.actor, "key": key.key_id, "public_jwk": public_jwk(key.public_bytes)}, fmt)


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
def keys_register(key: KeyOption, db: DbOption = None, fmt: RecordFormat = "json") -> None:
    """Append the key's self-signed KeyRegistered event (the actor's seq 1)."""
    check_format(fmt)
    signer = guarded(lambda: SigningKey.load(key))
    jwk = public_jwk(signer.public_bytes)
    emit(_append_signed(db, signer, KEY_REGISTERED, {"jwk": jwk}), fmt)


@keys_app.command("rotate")
def keys_rotate(
    key: KeyOption,
    out_file: Annotated[Path, typer.Option("--out", help="New key file.")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Replace the actor's key: KeyRotated signed by the current key, new key file written."""
    check_format(fmt)
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
    emit(
        {
            "position": position,
            "actor": current.actor,
            "old_key": current.key_id,
            "new_key": new.key_id,
            "file": str(out_file),
        },
        fmt,
    )


@keys_app.command("revoke")
def keys_revoke(
    key: KeyOption,
    reason: Annotated[str, typer.Option(help="Why (at most 200 characters).")] = "",
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Revoke the actor's current key: nothing more can be signed for this actor."""
    check_format(fmt)
    signer = guarded(lambda: SigningKey.load(key))
    body: dict[str, Any] = {"key": signer.key_id}
    if reason:
        body["reason"] = reason
    emit(_append_signed(db, signer, KEY_REVOKED, body), fmt)


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to ``app``."""
    app.add_typer(keys_app, name="keys")
