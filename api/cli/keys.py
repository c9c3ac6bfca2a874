"""``cocred keys new|show|register|rotate|revoke``: an actor's key file and its key events."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.common import REFUSALS, DbOption, KeyOption, fail, guarded, out, refuse, services
from ledger.actors import KEY_REGISTERED, KEY_REVOKED, KEY_ROTATED, rotation_statement
from ledger.envelope import sign_envelope
from ledger.keys import SigningKey, b64url, public_jwk

keys_app = typer.Typer(no_args_is_help=True, help="Create, show, register, rotate, revoke keys.")


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


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to ``app``."""
    app.add_typer(keys_app, name="keys")
