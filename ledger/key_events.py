"""The names of the key events, the only event types the ledger itself knows.

``ledger.actors`` holds their rules and re-exports these names; they live here, importing
nothing, so that ``cocred --help`` can list them without loading the key code.
"""

from __future__ import annotations

KEY_REGISTERED = "KeyRegistered"
KEY_ROTATED = "KeyRotated"
KEY_REVOKED = "KeyRevoked"
KEY_EVENT_TYPES = frozenset({KEY_REGISTERED, KEY_ROTATED, KEY_REVOKED})
