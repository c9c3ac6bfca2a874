"""The rate-limit middleware: which bucket a request is counted in, and the 429.

Every request but the probes (``/healthz``, ``/readyz``, ``/metrics``) falls in one
route class, counted per client address and per actor (``api.http.ratelimit``):

- **writes**: ``POST /events``, ``/events/batch``, ``/keys``, ``/members/{a}/erasure``,
  counted per event (a batch line is an event) for the client address and for the
  envelope's actor;
- **uploads**: ``PUT /content/…``, counted in bytes (``Content-Length``) for the
  address and for the signer the request names;
- **signed reads**: any other request with a ``Signature-Input``, per address and per
  signer;
- **public reads**: everything else, per address.

The brands' own traffic: an envelope or a signed request whose actor opened a campaign
(``State.brands``) is counted in that brand's own bucket (``rate_brand_writes`` for its
events, ``rate_signed_reads`` for its reads) and never in the client address's, so
members' traffic from the same address or proxy cannot throttle it. The actor is the one
the request *claims*; when the server answers 401 (the envelope's key or the request's
signature does not verify), the charge goes back to that actor and, for a claimed
brand, to the client address instead. The ledger's own events (checkpoints, anchor
receipts) are written by the server process itself and pass no limiter.

Fair turns: the writes and uploads charged to a client address (not a brand's own) take
one of ``concurrent`` turns of that address (``rate_concurrent_writes_per_address``, one
by default) for as long as the server handles them; the next wait, in order, and are
never refused for it. A process appends one batch at a time, so without turns a client
with many connections spends its whole allowance in one burst and every other client's
next write waits behind all of it (``bench/abuse.py``: the honest p99 was 3.6-4.1x its
quiet value while the flood's allowed writes went through, and the same as quiet while
all of them were refused).

A refusal is ``429 RateLimited`` with ``Retry-After``, held ``delay`` seconds first (the
``rate_limit_delay_seconds`` setting): a client that keeps sending over its limit gets
one answer per connection per delay, which keeps its cost to the server small.

The client address is the TCP peer; only when the peer is one of ``trusted_proxies``
is ``X-Forwarded-For`` read, from the right, skipping the trusted proxies: the first
address that is not one is the client. From any other peer the header is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

import orjson
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.errors import ApiError, error_body, status_for, storage_fault
from api.http.ratelimit import Limit, Refusal, SharedLimiter
from ledger.errors import CocredError
from ledger.keys import ID_PATTERN

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
WRITES = frozenset({"/events", "/events/batch", "/keys"})
_ERASURE = re.compile(r"^/members/[A-Za-z0-9_-]{43}/erasure$")
_KEYID = re.compile(r'keyid="([A-Za-z0-9_-]{43})/')


@dataclass(frozen=True)
class RouteLimits:
    """The limits of each route class, by bucket (``api.bootstrap.route_limits`` builds them).

    Names are ``<class>/<per>``: the metric label and the refusal's ``limit`` id.
    """

    writes_address: Limit
    writes_actor: Limit
    writes_brand: Limit
    signed_reads_address: Limit
    signed_reads_actor: Limit
    public_reads_address: Limit
    uploads_address: Limit
    uploads_actor: Limit


def client_address(scope: Scope, proxies: Sequence[Network]) -> str:
    """The client's address: the peer, or what trusted proxies say in ``X-Forwarded-For``."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not proxies or not _trusted(peer, proxies):
        return str(peer)
    forwarded = [
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    ]
    hops = [hop.strip() for value in forwarded for hop in value.split(",")]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage: trust nothing further left of it
        client = hop
        if not _trusted(hop, proxies):
            break
    return str(client)


def _trusted(address: str, proxies: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def claimed_actors(path: str, body: bytes) -> list[str | None]:
    """The actor each envelope of a write names (``None`` where none can be read)."""
    lines = body.split(b"\n") if path == "/events/batch" else [body]
    actors: list[str | None] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            actor = orjson.loads(line).get("actor")
        except (orjson.JSONDecodeError, AttributeError):
            actor = None
        actors.append(actor if isinstance(actor, str) and ID_PATTERN.match(actor) else None)
    return actors or [None]


class Throttle:
    """ASGI middleware: count each request in its buckets; 429 ``RateLimited`` over a limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: SharedLimiter,
        limits: RouteLimits,
        proxies: Sequence[Network],
        is_brand: Callable[[str], bool],
        delay: float = 0.0,
        concurrent: int = 0,
        answer: Callable[[Scope, CocredError], Response] | None = None,
    ) -> None:
        self.app = app
        self.delay = delay
        self.turns = Turns(concurrent)
        # How a refusal is answered (the app's: the HTML error page for a page's path);
        # default the JSON body every API error has.
        self.answer = answer
        self.limiter = limiter
        self.limits = limits
        self.proxies = list(proxies)
        self.is_brand = is_brand

    async def _answer(
        self,
        error: CocredError,
        scope: Scope,
        receive: Receive,
        send: Send,
        refusal: Refusal | None = None,
    ) -> None:
        if self.answer is not None:
            response = self.answer(scope, error)
        else:
            response = JSONResponse(error_body(error), status_code=status_for(error))
        if refusal is not None:
            response.headers["Retry-After"] = str(refusal.retry_after)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PROBES:
            await self.app(scope, receive, send)
            return
        client = client_address(scope, self.proxies)
        method = scope["method"]
        limits = self.limits
        charges: list[tuple[Limit, str, int, bool]] = []  # limit, key, cost, is it the actor's
        if method == "POST" and (path in WRITES or _ERASURE.match(path)):
            body, receive = await _buffered(receive)
            actors = claimed_actors(path, body)
            if len(actors) == 1:  # the hot path: one envelope
                actor = actors[0]
                if actor is not None and self.is_brand(actor):
                    charges.append((limits.writes_brand, actor, 1, True))
                else:
                    charges.append((limits.writes_address, client, 1, False))
                    if actor is not None:
                        charges.append((limits.writes_actor, actor, 1, True))
            else:
                brands = Counter(a for a in actors if a is not None and self.is_brand(a))
                members = Counter(a for a in actors if a is not None and a not in brands)
                anonymous = len(actors) - sum(brands.values())
                if anonymous:
                    charges.append((limits.writes_address, client, anonymous, False))
                charges += [(limits.writes_actor, a, n, True) for a, n in members.items()]
                charges += [(limits.writes_brand, a, n, True) for a, n in brands.items()]
        else:
            signer = _signer(scope)
            brand = signer is not None and self.is_brand(signer)
            if method == "PUT" and path.startswith("/content/"):
                size = _content_length(scope)
                if size and not brand:
                    charges.append((limits.uploads_address, client, size, False))
                if size and signer is not None:
                    charges.append((limits.uploads_actor, signer, size, True))
            elif signer is not None:
                if not brand:
                    charges.append((limits.signed_reads_address, client, 1, False))
                charges.append((limits.signed_reads_actor, signer, 1, True))
            else:
                charges.append((limits.public_reads_address, client, 1, False))
        admitted: list[tuple[Limit, str, int, bool]] = []
        for charge in charges:
            limit, key, cost, _ = charge
            try:
                refusal = await self.limiter.hit(limit, key, cost)
            except Exception as exc:  # the shared counters are unreachable: a typed 503
                self._refund(admitted)
                await self._answer(storage_fault(exc), scope, receive, send)
                return
            if refusal is not None:
                self._refund(admitted)
                # Held before it is answered: a flooding connection waits instead of
                # sending its next request at once (asleep, it costs no CPU).
                await asyncio.sleep(min(self.delay, refusal.retry_after))
                await self._answer(_rate_limited(refusal, client), scope, receive, send, refusal)
                return
            admitted.append(charge)
        by_address = (limits.writes_address, limits.uploads_address)
        turn = next((key for limit, key, _, _ in admitted if limit in by_address), None)
        async with self.turns.of(turn):
            await self._handle(scope, receive, send, client, admitted)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        client: str,
        admitted: list[tuple[Limit, str, int, bool]],
    ) -> None:
        limits = self.limits
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watched)
        if status == 401:  # the claimed actor did not sign it: not theirs to pay
            for limit, key, cost, own in admitted:
                if own:
                    self.limiter.refund(limit, key, cost)
                    if limit is limits.writes_brand:
                        await self._charge(limits.writes_address, client, cost)
                    elif self.is_brand(key):
                        address = limits.signed_reads_address
                        if limit is limits.uploads_actor:
                            address = limits.uploads_address
                        await self._charge(address, client, cost)

    def _refund(self, admitted: Iterable[tuple[Limit, str, int, bool]]) -> None:
        for limit, key, cost, _ in admitted:
            self.limiter.refund(limit, key, cost)

    async def _charge(self, limit: Limit, key: str, cost: int) -> None:
        try:
            await self.limiter.hit(limit, key, cost)  # counted; the answer is already sent
        except Exception:  # the database is down: the next request finds out
            return


class Turns:
    """At most ``size`` requests of one key (a client address) handled at once; the others
    wait in arrival order (``asyncio.Semaphore`` is FIFO). A key's semaphore lives while
    someone holds or awaits it. ``size`` 0, or the key None: no wait."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._held: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def of(self, key: str | None) -> AsyncIterator[None]:
        if key is None or self.size == 0:
            yield
            return
        semaphore, users = self._held.get(key) or (asyncio.Semaphore(self.size), 0)
        self._held[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._held[key]
            if users == 1:
                del self._held[key]
            else:
                self._held[key] = (semaphore, users - 1)

    def waiting(self, key: str) -> int:
        """Requests of ``key`` holding or awaiting a turn (for tests and metrics)."""
        return self._held.get(key, (None, 0))[1]


def _rate_limited(refusal: Refusal, client: str) -> ApiError:
    limit = refusal.limit
    bucket, _, per = limit.name.partition("/")
    who = f"client address {client}" if per == "address" else f"{per} {refusal.key}"
    unit = "bytes" if bucket == "uploads" else "requests" if "reads" in bucket else "events"
    return ApiError(
        "RateLimited",
        f"{who} is over the limit of {limit.describe()} {unit} ({limit.name}); "
        f"retry in {refusal.retry_after} s",
        limit=limit.name,
        key=refusal.key,
        retry_after=refusal.retry_after,
    )


def _signer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"signature-input":
            found = _KEYID.search(value.decode("latin-1"))
            return found.group(1) if found else None
    return None


def _content_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body (``BodyLimit``, outside, caps it) and a ``receive`` replaying it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
