"""The monitor's side of the network: reading a ledger's C2SP tlog-tiles over HTTP.

``TileClient`` gets ``<URL>/checkpoint`` and ``<URL>/tile/…`` over one kept-alive connection
(the standard library's ``http.client``); every network fault and HTTP error is a typed
``MonitorError`` with a sentence (they prove nothing about the log, so they are not alerts).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse

from ledger.errors import LedgerError, MalformedError


class MonitorError(LedgerError):
    """Root of the monitor's own refusals."""

    code = "MonitorError"


class RemoteUnreachableError(MonitorError):
    """The remote could not be reached or dropped the connection (refused, timed out, DNS)."""

    code = "RemoteUnreachable"


class RemoteHTTPError(MonitorError):
    """The remote answered a tlog-tiles request with another status than 200."""

    code = "RemoteHTTPError"


class InvalidURLError(MalformedError):
    """The URL to follow is not an http(s) URL."""

    code = "InvalidURL"


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
