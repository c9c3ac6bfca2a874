"""A TCP proxy in front of the test PostgreSQL: real network faults, on demand.

It forwards bytes both ways, one thread per direction. ``cut()`` closes every
connection through it and hangs up on new ones (as a server that went away
would) until ``restore()``. Armed with
``lose_next_commit()``, it watches client-to-server bytes for the query text
``COMMIT`` (a simple ``Query`` or an extended-protocol ``Parse``: both carry the
text NUL-terminated), forwards that chunk to the server, then closes the client
side at once and discards whatever the server answers: the transaction commits,
the client never learns it. With ``refuse_after_drop`` it also cuts every other
connection and refuses new ones from that moment on, so nothing can re-read
what happened. Only 127.0.0.1, an ephemeral port; ``close()`` stops it all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from tests.support import PG_URL

_COMMIT_TEXTS = (b"COMMIT\x00", b"commit\x00")


class PgProxy:
    """Forwards 127.0.0.1:``port`` to the PostgreSQL at ``upstream``; faults on demand."""

    def __init__(self, upstream: tuple[str, int] | None = None) -> None:
        if upstream is None:
            server = urlsplit(PG_URL)
            upstream = (server.hostname or "127.0.0.1", server.port or 5432)
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed = 0  # COMMITs still to lose
        self._refuse_after_drop = False
        self.refusing = False
        self.commits_lost = 0
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="pgproxy", daemon=True)
        self._thread.start()

    def url(self, url: str) -> str:
        """``url`` (a postgresql:// URL) pointed at this proxy instead of the server."""
        parts = urlsplit(url)
        user, at, _ = parts.netloc.rpartition("@")
        return urlunsplit(parts._replace(netloc=f"{user}{at}127.0.0.1:{self.port}"))

    def lose_next_commit(self, *, refuse_after_drop: bool = False) -> None:
        """Lose the acknowledgement of the next COMMIT (and, optionally, everything after)."""
        with self._lock:
            self._armed += 1
            self._refuse_after_drop = refuse_after_drop

    def cut(self) -> None:
        """Close every connection through the proxy and hang up on new ones: the server is gone."""
        with self._lock:
            self.refusing = True
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _close(client)
            _close(server)

    def restore(self) -> None:
        """Accept and forward connections again (and lose no more COMMITs)."""
        with self._lock:
            self.refusing = False
            self._armed = 0

    # -- plumbing ----------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self.refusing or self._closed
            if refuse:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                refuse = self.refusing or self._closed  # a drop since the accept
                if not refuse:
                    self._pairs.append((client, server))
            if refuse:
                _close(client)
                _close(server)
                continue
            state = {"dropped": False}
            for src, dst, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(src, dst, upstream, state), daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool, state: dict) -> None:
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                if state["dropped"]:
                    continue  # the server's answer to a lost COMMIT: nobody hears it
                if upstream and self._take_commit(chunk):
                    state["dropped"] = True
                    # Refuse new connections *before* the client can notice the drop: a
                    # client that reconnects at once must not slip in and read it back.
                    others = self._start_refusing(src)
                    dst.sendall(chunk)  # the server gets the COMMIT and commits it ...
                    _close(src)  # ... but the client's connection is gone
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)  # FIN after the COMMIT, not a reset
                    for client in others:
                        _close(client)
                    return
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            if not (upstream and state["dropped"]):
                _close(src)
                if not state["dropped"]:
                    _close(dst)

    def _take_commit(self, chunk: bytes) -> bool:
        with self._lock:
            if self._armed and any(text in chunk for text in _COMMIT_TEXTS):
                self._armed -= 1
                self.commits_lost += 1
                return True
        return False

    def _start_refusing(self, dropped: socket.socket) -> list[socket.socket]:
        """With ``refuse_after_drop``: refuse from now on; the other clients, to cut."""
        with self._lock:
            if not self._refuse_after_drop:
                return []
            self.refusing = True
            pairs, self._pairs = self._pairs, []
        return [client for client, _ in pairs if client is not dropped]

    def close(self) -> None:
        """Stop accepting and cut every connection."""
        self._closed = True
        _close(self._listener)
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _close(client)
            _close(server)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextmanager
def pg_proxy() -> Iterator[PgProxy]:
    """A running ``PgProxy`` to the test PostgreSQL, closed afterwards."""
    proxy = PgProxy()
    try:
        yield proxy
    finally:
        proxy.close()
