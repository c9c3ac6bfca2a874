"""The headers every answer carries so that a page runs only the code the server ships.

A strict Content-Security-Policy on every answer: scripts, styles, images and fetches only
from this server, no inline script or style, no plugin, no framing, forms posting only
here. The pages are built for it (templates load small ES modules from ``/static``; no
``on*=`` handlers, no ``style=`` attributes: ``tests/api/web/test_security_headers.py``
reads every template and asserts none), so a script injected into a page through a
contributor's title or comment does not run even if an escape were ever missed. ``/docs``
too: Swagger UI's start-up is ``static/docs.js``, not the inline script FastAPI writes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    )
)
HEADERS = (
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Adds ``HEADERS`` to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
