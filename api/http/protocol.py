"""uvicorn's fast HTTP/1.1 protocol (httptools) with a cap on the bytes of a request's head.

httptools has no header-size setting and keeps buffering a header block that never
ends; uvicorn's h11 protocol has one, but parses in pure Python and measured a
quarter slower on ``POST /events`` (``bench/README.md``). So ``cocred serve`` runs
this subclass: it counts the bytes fed to the parser while a request's head (request
line and headers) is still incomplete, and once they pass ``MAX_HEADER_BYTES`` it
answers ``431 HeadersTooLarge`` as typed JSON and closes the connection. What a
client can make a worker hold is then at most the cap plus one socket read. Heads
that do fit are checked again, for their count and exact size, by the app's
``HeaderLimit`` (same codes and sentences).
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.http.app import MAX_HEADER_BYTES

__all__ = ["CappedHttpToolsProtocol"]


class CappedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses a request head over ``max_head`` bytes with 431."""

    max_head = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # fed since the current request began, head still incomplete
        self._in_body = False

    def data_received(self, data: bytes) -> None:
        if self._in_body:
            super().data_received(data)
            return
        self._head_bytes += len(data)
        super().data_received(data)
        # A read that completes the head (and carries a body) flips _in_body while it is
        # parsed: only a head still open after this read counts against the cap.
        if (
            not self._in_body
            and self._head_bytes > self.max_head
            and not self.transport.is_closing()
        ):
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._head_bytes = 0
        super().on_message_complete()

    def _refuse_head(self) -> None:
        body = json.dumps(
            {
                "error": "HeadersTooLarge",
                "detail": f"request headers are limited to {self.max_head} bytes, "
                f"got more than {self.max_head}",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()
