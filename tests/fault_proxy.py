"""A TCP proxy in front of PostgreSQL that a test can cut and restore: a real network fault.

``cut()`` closes every connection passing through it and refuses new ones (each is
accepted and closed at once, as a server that went away would); ``restore()``
lets connections through again. Only connections made to the proxy's port are
affected, so other tests sharing the server are not.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlparse


class FaultProxy:
    """Forward 127.0.0.1:<port> to ``target`` until cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False
        threading.Thread(target=self._accept, name="fault-proxy", daemon=True).start()

    def url(self, url: str) -> str:
        """``url`` (a postgresql:// URL) pointed at the proxy instead of the server."""
        parsed = urlparse(url)
        netloc = parsed.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return parsed._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            dropping, self._open = self._open, set()
        for sock in dropping:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self.listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self._cut
            if refuse:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
