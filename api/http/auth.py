"""Signed HTTP requests: cocred's profile of RFC 9421 (HTTP Message Signatures).

Writes need no session: they are signed envelopes. Reads that expose personal
data (payout exports with handles, a member's private data) must be signed by
the brand's or the member's current key. The request carries:

    Content-Digest: sha-256=:<base64 SHA-256 of the body>:          (RFC 9530)
    Signature-Input: sig1=("@method" "@path" "@query" "content-digest");
        created=<unix s>;nonce="<16-128 chars>";keyid="<actor>/<key id>";alg="ed25519"
    Signature: sig1=:<base64 Ed25519 signature of the signature base>:

The signature base is RFC 9421 §2.5's: one ``"<component>": <value>`` line per
covered component, then ``"@signature-params": <the inner list and params>``.
Exactly these four components are required. ``created`` must be within
``window`` seconds of the server's clock, and a nonce is accepted once (kept in
the database for the window, so every worker process sees it): a replayed or
stale request is refused.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from api.http.errors import ApiError
from ledger.keys import SigningKey, verify_signature
from ledger.ledger import Ledger
from ledger.store.engine import create_all

COMPONENTS = ("@method", "@path", "@query", "content-digest")
_COMPONENT_LIST = " ".join(f'"{c}"' for c in COMPONENTS)
_INPUT = re.compile(
    r"^(?P<label>[a-z][a-z0-9_-]{0,15})=\((?P<components>[^)]*)\)(?P<params>(;[a-z]+=[^;]+)*)$"
)
_PARAM = re.compile(r';([a-z]+)=("[^"]*"|[0-9]+)')
_SIGNATURE = re.compile(r"^(?P<label>[a-z][a-z0-9_-]{0,15})=:(?P<sig>[A-Za-z0-9+/=]+):$")
MIN_NONCE, MAX_NONCE = 16, 128  # the nonce column is varchar(MAX_NONCE)
MAX_CREATED_DIGITS = 15  # an RFC 8941 sf-integer
_CREATED = re.compile(rf"[0-9]{{1,{MAX_CREATED_DIGITS}}}")
_NONCE = re.compile(rf"[!#-\[\]-~]{{{MIN_NONCE},{MAX_NONCE}}}")  # no space, quote, backslash
_KEYID = re.compile(r"[A-Za-z0-9_-]{43}/[A-Za-z0-9_-]{43}")

metadata = sa.MetaData()
nonces_table = sa.Table(
    "cocred_request_nonces",
    metadata,
    sa.Column("nonce", sa.String(MAX_NONCE), primary_key=True),
    sa.Column("created", sa.BigInteger, nullable=False),
)


def content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` value for ``body`` (SHA-256)."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def signature_base(method: str, path: str, query: str, digest: str, params: str) -> bytes:
    """RFC 9421 §2.5 signature base over the four covered components."""
    lines = [
        f'"@method": {method.upper()}',
        f'"@path": {path}',
        f'"@query": ?{query}',
        f'"content-digest": {digest}',
        f'"@signature-params": {params}',
    ]
    return "\n".join(lines).encode()


def sign_request(
    key: SigningKey,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    created: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign a request as ``key.actor`` (for clients, tests, benches)."""
    created = int(time.time()) if created is None else created
    nonce = nonce or secrets.token_urlsafe(16)
    digest = content_digest(body)
    params = (
        f'({_COMPONENT_LIST});created={created};nonce="{nonce}";'
        f'keyid="{key.actor}/{key.key_id}";alg="ed25519"'
    )
    signature = key.sign(signature_base(method, path, query, digest, params))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"sig1={params}",
        "Signature": f"sig1=:{base64.b64encode(signature).decode()}:",
    }


def check_digest(digest: str, body: bytes) -> None:
    """Raise ``BadRequestSignature`` (401) unless ``digest`` is ``body``'s ``Content-Digest``."""
    if digest != content_digest(body):
        raise _refuse("BadRequestSignature", "Content-Digest does not match the body")


@dataclass(frozen=True)
class SignedBy:
    """Who signed a verified request."""

    actor: str
    key: str


def _refuse(code: str, detail: str) -> ApiError:
    return ApiError(code, f"signed request: {detail}")


class RequestVerifier:
    """Checks signed requests against the ledger's key state; remembers nonces."""

    def __init__(self, ledger: Ledger, engine: sa.Engine, *, window: int = 60) -> None:
        self.ledger = ledger
        self.engine = engine
        self.window = window
        create_all(metadata, engine)

    def verify(
        self, method: str, path: str, query: str, body: bytes | None, headers: dict[str, str]
    ) -> SignedBy:
        """Return the signer of a valid request; raise ``ApiError`` (401) otherwise.

        ``body`` None checks everything but the body against ``Content-Digest``: an
        upload is verified before it is read, then checked with ``check_digest``.

        Refusals: ``Unauthenticated`` (no or unparseable signature headers),
        ``BadRequestSignature`` (wrong components, digest, key or signature, or a
        ``created``, ``nonce`` or ``keyid`` of the wrong shape),
        ``StaleRequest`` (``created`` outside the window), ``ReplayedRequest``
        (nonce seen before).
        """
        raw_input, raw_sig = headers.get("signature-input"), headers.get("signature")
        if not raw_input or not raw_sig:
            raise _refuse(
                "Unauthenticated", "this resource needs Signature-Input and Signature headers"
            )
        parsed = _INPUT.match(raw_input.strip())
        signature = _SIGNATURE.match(raw_sig.strip())
        if parsed is None or signature is None or parsed["label"] != signature["label"]:
            raise _refuse(
                "Unauthenticated",
                "Signature-Input or Signature is not in the RFC 9421 form cocred accepts",
            )
        if parsed["components"].split() != [f'"{c}"' for c in COMPONENTS]:
            raise _refuse(
                "BadRequestSignature", f"the covered components must be exactly ({_COMPONENT_LIST})"
            )
        raw_params = dict(_PARAM.findall(parsed["params"]))
        params = {k: v.strip('"') for k, v in raw_params.items()}
        for name in ("created", "nonce", "keyid"):
            if name not in params:
                raise _refuse("BadRequestSignature", f"the '{name}' parameter is missing")
        if params.get("alg", "ed25519") != "ed25519":
            raise _refuse("BadRequestSignature", f"alg {params['alg']!r} is not ed25519")
        # Every parameter is checked for shape before anything is looked up or stored:
        # the nonce column holds MAX_NONCE characters, and int() of thousands of digits
        # raises (Python caps it) where it does not merely mis-compare.
        if not _CREATED.fullmatch(raw_params["created"]):
            raise _refuse(
                "BadRequestSignature",
                f"'created' must be a Unix time in seconds (at most {MAX_CREATED_DIGITS} "
                "digits, unquoted)",
            )
        if not _NONCE.fullmatch(params["nonce"]):
            raise _refuse(
                "BadRequestSignature",
                f"the nonce must be {MIN_NONCE} to {MAX_NONCE} printable ASCII characters",
            )
        if not _KEYID.fullmatch(params["keyid"]):
            raise _refuse(
                "BadRequestSignature", "keyid must be <actor>/<key id> (two 43-character ids)"
            )
        now = int(time.time())
        created = int(params["created"])
        if abs(now - created) > self.window:
            raise _refuse(
                "StaleRequest",
                f"created {created} is more than {self.window} s from the server's clock ({now})",
            )
        digest = headers.get("content-digest", "")
        if body is not None:
            check_digest(digest, body)
        actor, _, key = params["keyid"].partition("/")
        state = self.ledger.actor_state(actor) if actor else None
        current = state.current if state is not None else None
        if current is None or current.key != key:
            raise _refuse(
                "BadRequestSignature",
                f"keyid {params['keyid']} is not the current key of a registered actor",
            )
        base = signature_base(
            method, path, query, digest, raw_input.strip()[len(parsed["label"]) + 1 :]
        )
        try:
            sig = base64.b64decode(signature["sig"], validate=True)
        except ValueError as exc:
            raise _refuse("BadRequestSignature", "the signature is not base64") from exc
        if len(sig) != 64 or not verify_signature(current.public, base, sig):
            raise _refuse("BadRequestSignature", "the signature does not verify")
        self._use_nonce(params["nonce"], created, now)
        return SignedBy(actor, key)

    def _use_nonce(self, nonce: str, created: int, now: int) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.delete(nonces_table).where(nonces_table.c.created < now - 2 * self.window)
                )
                conn.execute(sa.insert(nonces_table), {"nonce": nonce, "created": created})
        except sa.exc.IntegrityError as exc:
            raise _refuse("ReplayedRequest", "this nonce was already used: a replay") from exc
