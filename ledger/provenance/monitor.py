"""Follow a remote cocred ledger over the C2SP tlog-tiles read API only, and say what is wrong.

``cocred monitor URL`` runs this. Each pass reads ``GET <URL>/checkpoint`` and checks it:

1. its signature by the pinned ledger verifier key (``verify_checkpoint``), and that its
   origin is the one seen before (``bad-checkpoint`` otherwise); given a witness policy,
   its cosignatures by k of those witnesses (a bad line by one of them is ``bad-checkpoint``;
   too few is ``unwitnessed-checkpoint``, information: it is not followed until they sign);
2. against every checkpoint accepted before: another root for a size already seen is a
   ``fork`` (the alert carries both signed notes: the proof), a smaller size than the one
   verified is a ``rollback``;
3. when it is larger: the entry bundles from the verified size to the new one
   (``GET <URL>/tile/entries/<N>[.p/<W>]``), each entry checked as ``ledger.verify`` checks a
   stored event, in the same order (parse, canonical form, key state and seq chain with
   ``ledger.actors.resolve``, signature with ``ledger.keys.verify_signature``; ``bad-entry``);
   their leaf hashes appended to the compact range kept in the state (``Frontier``), so no
   old entry is hashed or fetched again, and the root it gives compared with the
   checkpoint's (``inconsistent-checkpoint``); every hash tile the new range completes or
   extends (``GET <URL>/tile/<L>/<N>[.p/<W>]``) compared with the hashes computed from the
   entries (``bad-tile``), so a server serving tiles of another tree is caught too.

The one thing fetched twice is the last, partial entry bundle (tlog-tiles serves entries in
bundles of 256 from a multiple of 256, so its first entries come again): those are checked
to hash to the leaves verified before (``bad-bundle``), never verified again.

A pass either verifies the whole new range and commits it to the state file in one
transaction (size, checkpoint, frontier, the partial tiles' hashes, changed actors, the
observer's state), or commits nothing: a later pass (or run) starts again from the last
verified checkpoint. An ``Observer`` (the watch rules, which know the campaign events; this
module knows none) sees every verified entry; its alerts are given only once the pass
commits. Network faults and HTTP errors are typed errors (``RemoteUnreachable``,
``RemoteHTTPError``), not alerts: they prove nothing about the log.
"""

from __future__ import annotations

import http.client
import json
import queue
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ledger.actors import ActorState, KeySpan, resolve
from ledger.envelope import Envelope
from ledger.errors import LedgerError, MalformedError, VerificationError
from ledger.keys import verify_signature
from ledger.provenance.cosignature import WitnessQuorumError
from ledger.provenance.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    MalformedFrontierError,
    leaf_hash,
)
from ledger.provenance.note import (
    Checkpoint,
    SignedCheckpoint,
    VerifierKey,
    verify_checkpoint,
)
from ledger.provenance.tiles import MAX_ENTRY, WIDTH, Tile, parse_bundle

if TYPE_CHECKING:
    from ledger.provenance.cosignature import WitnessPolicy

# -- alert kinds -------------------------------------------------------------------------------

FORK = "fork"  # a signed checkpoint for a size seen before, with another root
ROLLBACK = "rollback"  # a signed checkpoint smaller than the size already verified
BAD_CHECKPOINT = "bad-checkpoint"  # not parseable, not signed by the pinned key, origin moved
INCONSISTENT = "inconsistent-checkpoint"  # the entries do not hash to the checkpoint's root
BAD_TILE = "bad-tile"  # a hash tile differs from the hashes of the entries
BAD_BUNDLE = "bad-bundle"  # an entry bundle cut, of the wrong count, or old entries changed
BAD_ENTRY = "bad-entry"  # parse, canonical form, key state / seq chain, or signature
# Given a witness policy: a checkpoint fewer than k of the witnesses cosigned (yet) is not
# followed, and said so; information, since a fresh checkpoint waits for its cosignatures.
UNWITNESSED = "unwitnessed-checkpoint"
SPLIT_VIEW = frozenset({FORK, ROLLBACK})
INTEGRITY = SPLIT_VIEW | {BAD_CHECKPOINT, INCONSISTENT, BAD_TILE, BAD_BUNDLE, BAD_ENTRY}

MAX_CHECKPOINT_BYTES = 1 << 20
PREFETCH = 4  # entry bundles fetched ahead of the one being verified, on a second connection
TILE_BYTES = WIDTH * HASH_SIZE
STATE_FORMAT = "1"


class MonitorError(LedgerError):
    """Root of the monitor's own refusals."""

    code = "MonitorError"


class RemoteUnreachableError(MonitorError):
    """The remote could not be reached or dropped the connection (refused, timed out, DNS)."""

    code = "RemoteUnreachable"


class RemoteHTTPError(MonitorError):
    """The remote answered a tlog-tiles request with another status than 200."""

    code = "RemoteHTTPError"


class MonitorStateError(MonitorError):
    """The state file cannot be read, is not a monitor's, or follows another ledger key."""

    code = "MonitorState"


class InvalidURLError(MalformedError):
    """The URL to follow is not an http(s) URL."""

    code = "InvalidURL"


@dataclass(frozen=True)
class Alert:
    """One thing the monitor reports: its kind, a sentence, the position and ids involved."""

    kind: str
    sentence: str
    position: int | None = None
    ids: Mapping[str, Any] = field(default_factory=dict)

    @property
    def integrity(self) -> bool:
        """True for what the log's server did wrong (a fork, a bad tile …), not a watch."""
        return self.kind in INTEGRITY

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.position is not None:
            out["position"] = self.position
        out["sentence"] = self.sentence
        out.update(self.ids)
        return out


class Observer(Protocol):
    """What sees every verified entry (the watch rules) and keeps state in the state file."""

    def observe(self, position: int, env: Envelope) -> list[Alert]:
        """Alerts about the entry at ``position``, verified (given once the pass commits)."""
        ...

    def due(self, now: datetime) -> list[Alert]:
        """Alerts the passing of time raises (a licence about to expire), after each pass."""
        ...

    def state(self) -> Any:
        """The observer's state, as JSON-ready data."""
        ...

    def restore(self, state: Any) -> None:
        """Go back to a state ``state()`` gave (at start, or when a pass is abandoned)."""
        ...


# -- HTTP --------------------------------------------------------------------------------------


class TileClient:
    """GET requests to one tlog-tiles prefix over one keep-alive connection (stdlib only).

    ``requests`` lists every path asked for, in order (the tests count them).
    """

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidURLError(f"{url!r} is not an http:// or https:// URL of a cocred ledger")
        if parts.query or parts.fragment:
            raise InvalidURLError(f"{url!r}: the URL of a ledger has no query or fragment")
        try:
            port = parts.port
        except ValueError:
            raise InvalidURLError(f"{url!r}: the port is not a number from 0 to 65535") from None
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self.requests: list[str] = []

    def clone(self) -> TileClient:
        """Another client of the same URL, on its own connection, adding to ``requests``."""
        other = TileClient(self.url, timeout=self._timeout)
        other.requests = self.requests
        return other

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = kind(self._host, self._port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def get(self, path: str, limit: int) -> bytes:
        """The body of ``GET <URL>/<path>``: at most ``limit`` bytes, ``limit + 1`` if longer.

        Raises ``RemoteUnreachableError`` (connection refused, reset, timed out, a name that
        does not resolve) and ``RemoteHTTPError`` (any status but 200), each naming the URL.
        """
        url = f"{self.url}/{path}"
        self.requests.append(path)
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(
                    "GET",
                    f"{self._prefix}/{path}",
                    headers={"Accept-Encoding": "identity", "User-Agent": "cocred-monitor"},
                )
                answer = conn.getresponse()
                data = answer.read(limit + 1)
                if len(data) > limit or answer.will_close:
                    self.close()  # the rest of an oversized body is never read
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if reused and attempt == 1:  # a keep-alive connection the server had closed
                    continue
                raise RemoteUnreachableError(
                    f"cannot reach {url}: {_reason(exc)}", url=url
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise RemoteUnreachableError(
                    f"cannot reach {url}: {_reason(exc)}", url=url
                ) from None
            if answer.status != 200:
                raise RemoteHTTPError(
                    f"GET {url} answered {answer.status} {answer.reason}{_said(data)}",
                    url=url,
                    status=answer.status,
                )
            return data
        raise AssertionError("unreachable")  # pragma: no cover


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _said(body: bytes) -> str:
    """``: <code>: <detail>`` of a cocred error body, else nothing."""
    try:
        said = json.loads(body)
    except ValueError:
        return ""
    if isinstance(said, dict) and isinstance(said.get("detail"), str):
        return f" ({said.get('error')}: {said['detail']})"
    return ""


# -- the state file ----------------------------------------------------------------------------

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS monitor_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS monitor_checkpoints ("
    " size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS monitor_actors ("
    " actor TEXT PRIMARY KEY, seq INTEGER NOT NULL, keys TEXT NOT NULL)",
)


class MonitorState:
    """The state file (SQLite): what was verified, so the next run resumes where this stopped.

    ``monitor_meta``: the pinned key, the origin, the verified size and its checkpoint, the
    frontier, the hashes of each level's partial tile, the observer's state; every accepted
    checkpoint (``monitor_checkpoints``, for forks); each actor's key state and last seq
    (``monitor_actors``, read on demand). Raises ``MonitorStateError`` for a file that is not
    a monitor's state, or one that follows another ledger key than ``vkey``.
    """

    def __init__(self, path: Path, vkey: str) -> None:
        self.path = Path(path)
        self._actors: dict[str, ActorState | None] = {}
        self.vkey, self.origin, self.note = vkey, None, None
        self.size, self.root = 0, EMPTY_ROOT
        self.frontier, self.tiles, self.observer = Frontier(), [], None
        # A state file is made by the first pass that verifies something: a run refused
        # before (an unreachable remote, a bad key) leaves nothing behind.
        self._db: sqlite3.Connection | None = None
        if not self.path.exists():
            return
        meta = dict(self._connect().execute("SELECT name, value FROM monitor_meta"))
        if not meta:
            return
        if meta.get("format") != STATE_FORMAT or _text(meta.get("vkey")) != vkey:
            raise MonitorStateError(
                f"state file {self.path} follows the ledger key {_text(meta.get('vkey'))}, "
                f"not {vkey}: use another --state for another ledger",
                path=str(self.path),
            )
        self.origin, self.note = _text(meta.get("origin")), _text(meta.get("note"))
        try:
            self.frontier = Frontier.from_bytes(bytes(meta["frontier"]))
            self.size, self.root = self.frontier.size, self.frontier.root()
            self.tiles = _split_tiles(self.size, bytes(meta["tiles"]))
            self.observer = json.loads(meta["observer"]) if "observer" in meta else None
        except (KeyError, ValueError, MalformedFrontierError) as exc:
            raise MonitorStateError(
                f"state file {self.path} is damaged: {exc}", path=str(self.path)
            ) from None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, isolation_level=None)
                for statement in _SCHEMA:
                    db.execute(statement)
            except (OSError, sqlite3.Error) as exc:
                raise MonitorStateError(
                    f"state file {self.path}: cannot be used as a monitor's state: {exc}",
                    path=str(self.path),
                ) from None
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def seen_root(self, size: int) -> tuple[bytes, str] | None:
        """The root and note of the checkpoint accepted for ``size``, if any."""
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT root, note FROM monitor_checkpoints WHERE size = ?", (size,)
        ).fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]))

    def actor(self, actor: str) -> ActorState | None:
        """The key state and last seq of ``actor`` as of the verified size."""
        if actor not in self._actors:
            if self._db is None:
                return None
            row = self._db.execute(
                "SELECT seq, keys FROM monitor_actors WHERE actor = ?", (actor,)
            ).fetchone()
            self._actors[actor] = None if row is None else _actor_from(actor, row[0], row[1])
        return self._actors[actor]

    def commit(
        self,
        signed: SignedCheckpoint,
        frontier: Frontier,
        tiles: list[bytearray],
        actors: Mapping[str, ActorState],
        observer: Any,
    ) -> None:
        """Advance to ``signed`` (its entries all verified), in one transaction."""
        checkpoint = signed.checkpoint
        note = signed.to_text()
        meta = {
            "format": STATE_FORMAT,
            "vkey": self.vkey,
            "origin": checkpoint.origin,
            "note": note,
            "frontier": frontier.to_bytes(),
            "tiles": b"".join(tiles),
        }
        if observer is not None:
            meta["observer"] = json.dumps(observer, sort_keys=True)
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR REPLACE INTO monitor_meta (name, value) VALUES (?, ?)", meta.items()
            )
            db.execute(
                "INSERT OR IGNORE INTO monitor_checkpoints (size, root, note) VALUES (?, ?, ?)",
                (checkpoint.size, checkpoint.root_hash, note),
            )
            db.executemany(
                "INSERT OR REPLACE INTO monitor_actors (actor, seq, keys) VALUES (?, ?, ?)",
                [(a, s.seq, _keys_json(s)) for a, s in actors.items()],
            )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise MonitorStateError(
                f"state file {self.path}: cannot save the pass: {exc}", path=str(self.path)
            ) from None
        self._actors.update(actors)
        self.origin, self.note = checkpoint.origin, note
        self.size, self.root = checkpoint.size, checkpoint.root_hash
        self.frontier, self.tiles, self.observer = frontier, tiles, observer

    def save_observer(self, observer: Any) -> None:
        """Keep the observer's state alone (what ``due`` changed between passes)."""
        if observer is None or observer == self.observer or self.note is None:
            return
        try:
            self._connect().execute(
                "INSERT OR REPLACE INTO monitor_meta (name, value) VALUES ('observer', ?)",
                (json.dumps(observer, sort_keys=True),),
            )
        except sqlite3.Error as exc:
            raise MonitorStateError(
                f"state file {self.path}: cannot save the watch state: {exc}", path=str(self.path)
            ) from None
        self.observer = observer


def _text(value: Any) -> str | None:
    return None if value is None else bytes(value).decode() if isinstance(value, bytes) else value


def _tile_widths(size: int) -> Iterator[int]:
    """The number of hashes in each level's partial tile for a tree of ``size``."""
    level = 0
    while size >> (8 * level):
        yield (size >> (8 * level)) % WIDTH
        level += 1


def _split_tiles(size: int, data: bytes) -> list[bytearray]:
    tiles, at = [], 0
    for width in _tile_widths(size):
        tiles.append(bytearray(data[at : at + width * HASH_SIZE]))
        at += width * HASH_SIZE
    if at != len(data):
        raise ValueError(f"the partial tiles hold {len(data)} bytes, size {size} needs {at}")
    return tiles


def _keys_json(state: ActorState) -> str:
    return json.dumps(
        [[s.key, s.public.hex(), s.since, s.until, s.revoked] for s in state.keys],
        separators=(",", ":"),
    )


def _actor_from(actor: str, seq: int, keys: str) -> ActorState:
    spans = tuple(
        KeySpan(key, bytes.fromhex(public), since, until, bool(revoked))
        for key, public, since, until, revoked in json.loads(keys)
    )
    return ActorState(actor, seq, spans)


# -- the monitor -------------------------------------------------------------------------------


@dataclass
class PassReport:
    """What one pass did: the verified size before and after, entries verified, alerts."""

    previous: int
    size: int
    entries: int = 0
    alerts: list[Alert] = field(default_factory=list)
    stopped: bool = False  # a stop was asked in the middle: nothing committed

    @property
    def split_view(self) -> bool:
        return any(a.kind in SPLIT_VIEW for a in self.alerts)

    @property
    def integrity(self) -> bool:
        return any(a.integrity for a in self.alerts)


class _Abort(Exception):
    """Ends a pass on its first integrity alert; nothing is committed."""

    def __init__(self, alert: Alert) -> None:
        super().__init__(alert.sentence)
        self.alert = alert


class _Stop(Exception):
    """Ends a pass because a stop was asked; nothing is committed."""


class Monitor:
    """Follows one ledger: ``poll()`` runs one pass (see the module's docstring).

    Raises ``MalformedKeyError`` for a ``vkey`` that is not a verifier key.
    """

    def __init__(
        self,
        client: TileClient,
        vkey: str,
        state: MonitorState,
        *,
        observer: Observer | None = None,
        witnesses: WitnessPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        VerifierKey.parse(vkey)
        self.witnesses = witnesses
        self.client = client
        self.vkey = vkey
        self.state = state
        self.observer = observer
        self.clock = clock
        if observer is not None and state.observer is not None:
            observer.restore(state.observer)

    def poll(self, stop: threading.Event | None = None) -> PassReport:
        """One pass: the checkpoint, and the new entries and tiles if it grew."""
        state = self.state
        report = PassReport(previous=state.size, size=state.size)
        text = self.client.get("checkpoint", MAX_CHECKPOINT_BYTES)
        try:
            signed, checkpoint = self._checkpoint(text)
            if checkpoint.size > state.size:
                report.entries = self._catch_up(signed, report, stop)
                report.size = state.size
        except _Abort as abort:
            report.alerts.append(abort.alert)
        except _Stop:
            report.stopped = True
            return report
        if self.observer is not None:
            report.alerts += self.observer.due(self.clock())
            state.save_observer(self.observer.state())
        return report

    def _checkpoint(self, text: bytes) -> tuple[SignedCheckpoint, Checkpoint]:
        state, url = self.state, f"{self.client.url}/checkpoint"
        if len(text) > MAX_CHECKPOINT_BYTES:
            raise _Abort(Alert(BAD_CHECKPOINT, f"{url} is over {MAX_CHECKPOINT_BYTES} bytes"))
        try:
            signed = SignedCheckpoint.from_text(text)
            checkpoint = verify_checkpoint(signed, self.vkey)
            if self.witnesses is not None:
                self.witnesses.check(signed)
        except WitnessQuorumError as exc:  # not yet cosigned: wait for the next pass
            raise _Abort(
                Alert(UNWITNESSED, f"{url}: {exc.detail}; not followed until it is")
            ) from None
        except (MalformedError, VerificationError) as exc:
            raise _Abort(
                Alert(BAD_CHECKPOINT, f"{url}: {exc.detail}", ids={"code": exc.code})
            ) from None
        size, root = checkpoint.size, checkpoint.root_hash
        if state.origin is not None and checkpoint.origin != state.origin:
            raise _Abort(
                Alert(
                    BAD_CHECKPOINT,
                    f"{url}: the checkpoint's origin is {checkpoint.origin!r}, the log followed "
                    f"so far is {state.origin!r}",
                    ids={"size": size},
                )
            )
        seen = state.seen_root(size)
        if seen is not None and seen[0] != root:
            raise _Abort(
                Alert(
                    FORK,
                    f"the checkpoint for size {size} has root {root.hex()}, but the one accepted "
                    f"before for that size has root {seen[0].hex()}: the ledger key signed two "
                    "different logs (both signed notes are in this alert)",
                    position=size,
                    ids={"size": size, "note": signed.to_text(), "seen_note": seen[1]},
                )
            )
        if size < state.size:
            raise _Abort(
                Alert(
                    ROLLBACK,
                    f"the checkpoint is for size {size}, smaller than the {state.size} entries "
                    f"already verified: the log was rolled back (or is served from a stale copy)",
                    position=size,
                    ids={"size": size, "verified_size": state.size, "note": signed.to_text()},
                )
            )
        if size == state.size and root != state.root:  # only before the first accepted one
            raise _Abort(
                Alert(
                    INCONSISTENT,
                    f"the checkpoint for size {size} has root {root.hex()}, the "
                    f"entries verified give {state.root.hex()}",
                    position=size,
                    ids={"size": size},
                )
            )
        return signed, checkpoint

    def _catch_up(
        self, signed: SignedCheckpoint, report: PassReport, stop: threading.Event | None
    ) -> int:
        """Verify the entries and tiles from the verified size to ``signed``'s; commit them."""
        state, observer = self.state, self.observer
        checkpoint = signed.checkpoint
        old, new = state.size, checkpoint.size
        frontier = Frontier.from_bytes(state.frontier.to_bytes())
        tiles = [bytearray(t) for t in state.tiles]
        actors: dict[str, ActorState] = {}
        before = None if observer is None else observer.state()
        watched: list[Alert] = []
        position = old
        fetched = self._prefetched(old, new)
        try:
            for bundle, data in fetched:
                if stop is not None and stop.is_set():
                    raise _Stop
                first = bundle.index * WIDTH
                entries = self._entries(bundle, data)
                for offset, entry in enumerate(entries[: position - first]):
                    if leaf_hash(entry) != bytes(tiles[0][offset * HASH_SIZE :][:HASH_SIZE]):
                        raise _Abort(
                            Alert(
                                BAD_BUNDLE,
                                f"{bundle.path()}: entry {first + offset} differs from the one "
                                "verified before at that position: the log now served is "
                                "another history",
                                position=first + offset,
                            )
                        )
                for entry in entries[position - first :]:
                    env = self._entry(position, entry, actors)
                    for level, node, digest in frontier.append(leaf_hash(entry)):
                        if level % 8:
                            continue
                        at = level // 8
                        if at == len(tiles):
                            tiles.append(bytearray())
                        tiles[at] += digest
                        if len(tiles[at]) == TILE_BYTES:
                            self._tile(Tile(at, node // WIDTH), tiles[at])
                            tiles[at] = bytearray()
                    if observer is not None:
                        watched += observer.observe(position, env)
                    position += 1
            if frontier.root() != checkpoint.root_hash:
                raise _Abort(
                    Alert(
                        INCONSISTENT,
                        f"the {new} entries hash to root {frontier.root().hex()}, the signed "
                        f"checkpoint for size {new} says {checkpoint.root_hash.hex()}",
                        position=new,
                        ids={"size": new},
                    )
                )
            for at, width in enumerate(_tile_widths(new)):
                if width and new >> (8 * at) != old >> (8 * at):
                    self._tile(Tile(at, (new >> (8 * at)) // WIDTH, width), tiles[at])
        except BaseException:  # an alert, a stop, a network fault: the pass never happened
            if observer is not None:
                observer.restore(before)
            raise
        finally:
            fetched.close()  # stops the fetching thread now, not when collected
        # The levels above the last one with hashes are empty: keep exactly one per level.
        tiles = tiles[: len(list(_tile_widths(new)))]
        state.commit(
            signed, frontier, tiles, actors, None if observer is None else observer.state()
        )
        report.alerts += watched
        return new - old

    def _prefetched(self, old: int, new: int) -> Generator[tuple[Tile, bytes], None, None]:
        """The entry bundles from ``old`` to ``new`` in order, each with its bytes.

        A thread fetches them ``PREFETCH`` ahead on a connection of its own, so the server
        reads the next bundles while this one is verified; its errors are raised here.
        """
        bundles = [
            Tile(None, index, min(WIDTH, new - index * WIDTH))
            for index in range(old // WIDTH, (new + WIDTH - 1) // WIDTH)
        ]
        ready: queue.Queue[tuple[Tile, bytes | BaseException]] = queue.Queue(PREFETCH)
        done = threading.Event()
        fetcher = self.client.clone()

        def hand(item: tuple[Tile, bytes | BaseException]) -> None:
            while not done.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def fetch() -> None:
            try:
                for bundle in bundles:
                    if done.is_set():
                        return
                    try:
                        data: bytes | BaseException = fetcher.get(
                            bundle.path(), bundle.width * (2 + MAX_ENTRY)
                        )
                    except BaseException as exc:  # handed over, raised by the reader
                        hand((bundle, exc))
                        return
                    hand((bundle, data))
            finally:
                fetcher.close()

        thread = threading.Thread(target=fetch, name="cocred-monitor-fetch", daemon=True)
        thread.start()
        try:
            for _ in bundles:
                bundle, got = ready.get()
                if isinstance(got, BaseException):
                    raise got
                yield bundle, got
        finally:
            done.set()
            thread.join()

    def _entries(self, bundle: Tile, data: bytes) -> list[bytes]:
        path = bundle.path()
        try:
            entries = parse_bundle(data)
        except MalformedError as exc:
            raise _Abort(
                Alert(BAD_BUNDLE, f"{path}: {exc.detail}", position=bundle.index * WIDTH)
            ) from None
        if len(entries) != bundle.width:
            raise _Abort(
                Alert(
                    BAD_BUNDLE,
                    f"{path} holds {len(entries)} entries, expected {bundle.width}",
                    position=bundle.index * WIDTH,
                )
            )
        return entries

    def _tile(self, tile: Tile, expected: bytearray) -> None:
        path = tile.path()
        data = self.client.get(path, TILE_BYTES)
        if data == expected:
            return
        if len(data) != len(expected):
            sentence = f"{path} is {len(data)} bytes, expected {len(expected)}"
        else:
            at = next(
                i
                for i in range(0, len(data), HASH_SIZE)
                if data[i:][:HASH_SIZE] != expected[i:][:HASH_SIZE]
            )
            node = tile.index * WIDTH + at // HASH_SIZE
            sentence = (
                f"{path}: hash {at // HASH_SIZE} (the node at level {8 * (tile.level or 0)}, "
                f"index {node}) is {data[at:][:HASH_SIZE].hex()}, the entries give "
                f"{bytes(expected[at:][:HASH_SIZE]).hex()}"
            )
        raise _Abort(Alert(BAD_TILE, sentence, ids={"tile": path}))

    def _entry(self, position: int, data: bytes, actors: dict[str, ActorState]) -> Envelope:
        """The envelope at ``position``, checked as ``ledger.verify`` checks a stored event."""
        try:
            env = Envelope.from_bytes(data)
        except MalformedError as exc:
            raise _Abort(_bad(position, "parse", exc.detail, code=exc.code)) from None
        if env.canonical_bytes() != data:
            raise _Abort(
                _bad(
                    position,
                    "canonical",
                    "the entry is not the canonical form of the envelope it holds",
                    actor=env.actor,
                    seq=env.seq,
                )
            )
        before = actors[env.actor] if env.actor in actors else self.state.actor(env.actor)
        try:
            public, after = resolve(before, env)
        except LedgerError as exc:
            raise _Abort(
                _bad(position, "key state", exc.detail, code=exc.code, actor=env.actor, seq=env.seq)
            ) from None
        if not verify_signature(public, env.signing_bytes(), env.signature):
            raise _Abort(
                _bad(
                    position,
                    "signature",
                    f"actor {env.actor} seq {env.seq}: signature does not verify with key "
                    f"{env.key}",
                    actor=env.actor,
                    seq=env.seq,
                )
            )
        actors[env.actor] = after
        return env


def _bad(position: int, step: str, detail: str, **ids: Any) -> Alert:
    return Alert(
        BAD_ENTRY,
        f"position {position}: {step}: {detail}",
        position=position,
        ids={"step": step, **ids},
    )
