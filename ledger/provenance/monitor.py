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

Longer than ~400 lines on purpose: one pass is one pipeline (checkpoint, bundles, entries,
tiles) whose steps share the pass's state; its network client is ``monitor_remote.py``, its
state file ``monitor_state.py``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ledger.actors import ActorState, resolve
from ledger.envelope import Envelope
from ledger.errors import LedgerError, MalformedError, VerificationError
from ledger.keys import verify_signature
from ledger.provenance.cosignature import WitnessQuorumError
from ledger.provenance.merkle import (
    HASH_SIZE,
    Frontier,
    leaf_hash,
)
from ledger.provenance.monitor_remote import TileClient
from ledger.provenance.monitor_state import MonitorState, tile_widths
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
            for at, width in enumerate(tile_widths(new)):
                if width and new >> (8 * at) != old >> (8 * at):
                    self._tile(Tile(at, (new >> (8 * at)) // WIDTH, width), tiles[at])
        except BaseException:  # an alert, a stop, a network fault: the pass never happened
            if observer is not None:
                observer.restore(before)
            raise
        finally:
            fetched.close()  # stops the fetching thread now, not when collected
        # The levels above the last one with hashes are empty: keep exactly one per level.
        tiles = tiles[: len(list(tile_widths(new)))]
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
