"""The names of the key events, the only event types the ledger itself knows.

``ledger.actors`` holds their rules and re-exports these names; they live here, importing
nothing, so that ``cocred --help`` can list them without loading the key code.
"""

from __future__ import annotations

KEY_REGISTERED = "KeyRegistered"
KEY_ROTATED = "KeyRotated"
KEY_REVOKED = "KeyRevoked"
RECOVERY_KEY_REGISTERED = "RecoveryKeyRegistered"
RECOVERY_REQUESTED = "RecoveryRequested"
RECOVERY_CANCELLED = "RecoveryCancelled"
KEY_COMPROMISED = "KeyCompromised"
KEY_EVENT_TYPES = frozenset(
    {
        KEY_REGISTERED,
        KEY_ROTATED,
        KEY_REVOKED,
        RECOVERY_KEY_REGISTERED,
        RECOVERY_REQUESTED,
        RECOVERY_CANCELLED,
        KEY_COMPROMISED,
    }
)
# Key events whose body's ``jwk`` is a key that may sign for the actor later.
NAMING_KEY_TYPES = frozenset({KEY_REGISTERED, KEY_ROTATED, RECOVERY_REQUESTED})
