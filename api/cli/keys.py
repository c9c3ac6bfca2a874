"""``cocred keys new|show|backup|restore|register|rotate|revoke``: an actor's key file, its
passphrase-sealed backup (``ledger/key_backup.py``, the browser's format too) and its key
events; ``keys recovery new|recover|cancel-recovery|compromised``: recovery of a lost key
(``ledger/actors.py``, ``domain/EVENTS.md`` "recovery of a lost key")."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    load_key,
    now,
    out,
    parse_time,
    read_bytes,
    refuse,
    services,
)

# The key code (cryptography, the envelope) is imported by the verbs that sign, when they run.
if TYPE_CHECKING:
    from ledger.envelope import Envelope
    from ledger.keys import SigningKey

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
    from ledger.keys import SigningKey

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
    from ledger.keys import SigningKey, public_jwk

    check_format(fmt)
    key = guarded(lambda: SigningKey.load(key_file))
    emit({"actor": key.actor, "key": key.key_id, "public_jwk": public_jwk(key.public_bytes)}, fmt)


PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="Read the passphrase from this file (its first line); default: ask for it.",
    ),
]


def _passphrase(path: Path | None, *, confirm: bool) -> str:
    """The passphrase: the first line of ``path``, or typed at a hidden prompt."""
    if path is None:
        return str(typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm))
    try:
        text = read_bytes(path, "--passphrase-file").decode("utf-8")
    except UnicodeDecodeError:
        fail("BadKeyBackup", f"--passphrase-file {path} is not UTF-8 text")
    first = text.splitlines()[0] if text else ""
    if not first:
        fail("BadKeyBackup", f"--passphrase-file {path} holds no passphrase on its first line")
    return first


@keys_app.command("backup")
def keys_backup(
    key: KeyOption,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the backup.")],
    passphrase_file: PassphraseFileOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Seal a key file under a passphrase (PBKDF2 + AES-GCM): the file a browser imports, or
    ``cocred keys restore`` opens on another machine."""
    from ledger.key_backup import seal

    check_format(fmt)
    signer = load_key(key)
    sealed = guarded(lambda: seal(signer, _passphrase(passphrase_file, confirm=True)))
    try:
        fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail("BadKeyFile", f"{out_file} already exists; refusing to overwrite a backup")
    except OSError as exc:
        fail("BadKeyFile", f"cannot write {out_file}: {exc.strerror}")
    with os.fdopen(fd, "wb") as fh:
        fh.write(sealed)
    emit({"actor": signer.actor, "key": signer.key_id, "file": str(out_file)}, fmt)


@keys_app.command("restore")
def keys_restore(
    backup: Annotated[Path, typer.Option("--backup", help="The key backup file.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the key file.")],
    passphrase_file: PassphraseFileOption = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing key file.")] = False,
    fmt: RecordFormat = "json",
) -> None:
    """Open a key backup (one a browser downloaded at sign-up, or ``cocred keys backup``'s)
    and write the key file (mode 0600)."""
    from ledger.key_backup import open_backup

    check_format(fmt)
    data = read_bytes(backup, "--backup")
    key = guarded(lambda: open_backup(data, _passphrase(passphrase_file, confirm=False)))
    guarded(lambda: key.save(out_file, overwrite=force))
    emit({"actor": key.actor, "key": key.key_id, "file": str(out_file)}, fmt)


def _append_signed(
    db: str | None, key: SigningKey, type_: str, body: dict[str, Any], campaign: str | None = None
) -> dict[str, Any]:
    from ledger.envelope import sign_envelope

    with services(db) as svc:
        env = guarded(
            lambda: sign_envelope(
                key, type_, body, campaign=campaign, seq=svc.ledger.next_seq(key.actor)
            )
        )
        position = guarded(lambda: svc.campaigns.gate.append(env))
    return {"position": position, "actor": env.actor, "seq": env.seq, "type": env.type}


def _append_new_key(
    db: str | None,
    signer: SigningKey,
    type_: str,
    statement: Callable[[str, int, str], bytes],
    out_file: Path,
) -> tuple[int, Envelope, SigningKey]:
    """Append ``type_`` naming a new key (KeyRotated, RecoveryRequested) with its proof of
    possession, signed by ``signer``; the new key file is written, and removed if refused."""
    from ledger.envelope import sign_envelope
    from ledger.keys import SigningKey, b64url, public_jwk

    if out_file.exists():
        fail("BadKeyFile", f"{out_file} already exists; refusing to overwrite a key")
    actor = signer.actor
    new = SigningKey.generate().for_actor(actor)
    with services(db) as svc:
        seq = guarded(lambda: svc.ledger.next_seq(actor))
        proof = new.sign(statement(actor, seq, new.key_id))
        body = {"jwk": public_jwk(new.public_bytes), "proof": b64url(proof)}
        env = guarded(lambda: sign_envelope(signer, type_, body, seq=seq))
        guarded(lambda: new.save(out_file))
        try:
            position = svc.campaigns.gate.append(env)
        except REFUSALS as exc:
            out_file.unlink()
            refuse(exc)
    return position, env, new


RECOVERY_NOTE = (
    "write this recovery code down and keep it apart from the key: it is shown once, cocred "
    "keeps no copy, and it can replace the key (after a 72-hour delay the key can cancel)"
)


def _recovery_text(data: dict[str, Any]) -> None:
    out.print(f"recovery code: {data['recovery_code']}", markup=False, highlight=False)
    out.print(
        f"actor {data['actor']} seq {data['seq']} at position {data['position']}; {RECOVERY_NOTE}",
        markup=False,
        highlight=False,
    )


@keys_app.command("register")
def keys_register(
    key: KeyOption,
    db: DbOption = None,
    with_recovery: Annotated[
        bool,
        typer.Option(
            "--with-recovery",
            help="Also register a new recovery key and print its code (shown once).",
        ),
    ] = False,
    fmt: RecordFormat = "json",
) -> None:
    """Append the key's self-signed KeyRegistered event (the actor's seq 1)."""
    from ledger.key_events import KEY_REGISTERED
    from ledger.keys import SigningKey, public_jwk
    from ledger.recovery import recovery_code

    check_format(fmt)
    signer = guarded(lambda: SigningKey.load(key))
    body: dict[str, Any] = {"jwk": public_jwk(signer.public_bytes)}
    if not with_recovery:
        emit(_append_signed(db, signer, KEY_REGISTERED, body), fmt)
        return
    recovery = SigningKey.generate()
    body["recovery"] = public_jwk(recovery.public_bytes)
    data = _append_signed(db, signer, KEY_REGISTERED, body)
    data |= {"recovery_key": recovery.key_id, "recovery_code": recovery_code(recovery)}
    emit(data, fmt, text=lambda: _recovery_text(data))


recovery_app = typer.Typer(
    no_args_is_help=True, help="A recovery key for a lost key: register, recover, cancel."
)
keys_app.add_typer(recovery_app, name="recovery")


@recovery_app.command("new")
def recovery_new(key: KeyOption, db: DbOption = None, fmt: RecordFormat = "json") -> None:
    """Register a new recovery key (RecoveryKeyRegistered, signed by the current key) and
    print its code once; it replaces any earlier recovery key."""
    from ledger.key_events import RECOVERY_KEY_REGISTERED
    from ledger.keys import SigningKey, public_jwk
    from ledger.recovery import recovery_code

    check_format(fmt)
    signer = guarded(lambda: SigningKey.load(key))
    recovery = SigningKey.generate()
    body = {"jwk": public_jwk(recovery.public_bytes)}
    data = _append_signed(db, signer, RECOVERY_KEY_REGISTERED, body)
    data |= {"recovery_key": recovery.key_id, "recovery_code": recovery_code(recovery)}
    emit(data, fmt, text=lambda: _recovery_text(data))


@keys_app.command("recover")
def keys_recover(
    actor: Annotated[str, typer.Option("--actor", help="The actor whose key was lost.")],
    code: Annotated[
        str, typer.Option("--recovery-code", help="The printed recovery code (spaces allowed).")
    ],
    out_file: Annotated[Path, typer.Option("--new-key", help="Where to write the new key.")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Ask for a new key with the recovery code (RecoveryRequested): the new key signs for the
    actor from 72 hours on, unless the current key cancels meanwhile."""
    from ledger.actors import RECOVERY_DELAY, recovery_statement
    from ledger.envelope import format_ts
    from ledger.key_events import RECOVERY_REQUESTED
    from ledger.recovery import read_recovery_code

    check_format(fmt)
    recovery = guarded(lambda: read_recovery_code(code, actor))
    position, env, new = _append_new_key(
        db, recovery, RECOVERY_REQUESTED, recovery_statement, out_file
    )
    emit(
        {
            "position": position,
            "actor": actor,
            "seq": env.seq,
            "new_key": new.key_id,
            "effective_at": format_ts(env.time + RECOVERY_DELAY),
            "file": str(out_file),
        },
        fmt,
    )


@keys_app.command("cancel-recovery")
def keys_cancel_recovery(key: KeyOption, db: DbOption = None, fmt: RecordFormat = "json") -> None:
    """Refuse a pending recovery (RecoveryCancelled, signed by the current key)."""
    from ledger.key_events import RECOVERY_CANCELLED
    from ledger.keys import SigningKey

    check_format(fmt)
    signer = guarded(lambda: SigningKey.load(key))
    emit(_append_signed(db, signer, RECOVERY_CANCELLED, {}), fmt)


@keys_app.command("compromised")
def keys_compromised(
    key: KeyOption,
    old_key: Annotated[
        str, typer.Option("--old-key", help="The key id of the actor's retired key.")
    ],
    since: Annotated[
        str, typer.Option("--since", help="From when its events are disowned (UTC time).")
    ],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """State that a retired key was compromised (KeyCompromised, signed by the current key):
    its events dated from ``--since`` are disowned."""
    from ledger.envelope import format_ts
    from ledger.key_events import KEY_COMPROMISED
    from ledger.keys import SigningKey

    check_format(fmt)
    signer = guarded(lambda: SigningKey.load(key))
    moment = parse_time(since, "--since", now())
    body = {"key": old_key, "since": format_ts(moment)}
    emit(_append_signed(db, signer, KEY_COMPROMISED, body), fmt)


@keys_app.command("rotate")
def keys_rotate(
    key: KeyOption,
    out_file: Annotated[Path, typer.Option("--out", help="New key file.")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Replace the actor's key: KeyRotated signed by the current key, new key file written."""
    from ledger.actors import KEY_ROTATED, rotation_statement
    from ledger.keys import SigningKey

    check_format(fmt)
    current = guarded(lambda: SigningKey.load(key))
    position, _, new = _append_new_key(db, current, KEY_ROTATED, rotation_statement, out_file)
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
    from ledger.key_events import KEY_REVOKED
    from ledger.keys import SigningKey

    check_format(fmt)
    signer = guarded(lambda: SigningKey.load(key))
    body: dict[str, Any] = {"key": signer.key_id}
    if reason:
        body["reason"] = reason
    emit(_append_signed(db, signer, KEY_REVOKED, body), fmt)


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to ``app``."""
    app.add_typer(keys_app, name="keys")
