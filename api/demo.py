"""``cocred demo``: a short end-to-end walk of the signed ledger a newcomer can watch.

Three actors register keys, sign and append events (one batch, one by one), one
rotates its key and keeps signing, a replay and a forged signature are refused,
and the whole log is re-verified.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from api.bootstrap import Services
from ledger.actors import KEY_REGISTERED, KEY_ROTATED, rotation_statement
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import LedgerError
from ledger.keys import SigningKey, b64url, public_jwk
from ledger.verify import verify_log


def _register(key: SigningKey) -> Envelope:
    return sign_envelope(key, KEY_REGISTERED, {"jwk": public_jwk(key.public_bytes)}, seq=1)


def ledger_walk(svc: Services, console: Console) -> None:
    """Run the walk against ``svc`` and narrate it on ``console``."""
    ledger = svc.ledger
    brand, ana, ben = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    names = {brand.actor: "brand", ana.actor: "ana", ben.actor: "ben"}
    start = ledger.size()

    positions = ledger.append_batch([_register(k) for k in (brand, ana, ben)])
    console.print(f"registered 3 actors in one batch at positions {positions}")

    ledger.append(sign_envelope(brand, "NoteShared", {"text": "Summer remix call is open"}, seq=2))
    ledger.append(sign_envelope(ana, "NoteShared", {"text": "My harbour sunset sketch"}, seq=2))
    ledger.append(sign_envelope(ben, "NoteShared", {"text": "A remix of Ana's sketch"}, seq=2))

    new_ana = SigningKey.generate().for_actor(ana.actor)
    proof = new_ana.sign(rotation_statement(ana.actor, 3, new_ana.key_id))
    ledger.append(
        sign_envelope(
            ana,
            KEY_ROTATED,
            {"jwk": public_jwk(new_ana.public_bytes), "proof": b64url(proof)},
            seq=3,
        )
    )
    ledger.append(sign_envelope(new_ana, "NoteShared", {"text": "Signed with my new key"}, seq=4))
    console.print("ana rotated her key; her earlier events still verify")

    refusals = [
        ("replayed event", sign_envelope(ben, "NoteShared", {"text": "again"}, seq=2)),
        ("old key after rotation", sign_envelope(ana, "NoteShared", {"text": "x"}, seq=5)),
        (
            "forged signature",
            Envelope.from_json(
                {
                    **sign_envelope(ben, "NoteShared", {"text": "mine"}, seq=3).to_json(),
                    "sig": sign_envelope(brand, "NoteShared", {"text": "mine"}, seq=3).sig,
                }
            ),
        ),
    ]
    for label, env in refusals:
        try:
            ledger.append(env)
        except LedgerError as exc:
            console.print(f"refused ({label}): [bold]{exc.code}[/] — {exc.detail}", highlight=False)

    table = Table(title="the log (this walk)")
    for column in ("position", "actor", "seq", "type"):
        table.add_column(column)
    for record in ledger.store.iterate(start):
        table.add_row(
            str(record.position),
            names.get(record.actor, record.actor[:8]),
            str(record.seq),
            record.type,
        )
    console.print(table)

    report = verify_log(ledger.store, threads=svc.settings.verify_threads)
    if report.failure is not None:
        raise LedgerError(f"verification failed: {report.failure}")
    console.print(
        f"verified {report.events} events from {report.actors} actors "
        f"in {svc.settings.database_url}",
        highlight=False,
    )
