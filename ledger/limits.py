"""The envelope's fields and size limits, which both parsers enforce.

Here so that the strict parser (``ledger.envelope``) and the fast one
(``ledger._fast``) read them from one place without importing each other;
``ledger.envelope`` re-exports them.
"""

from __future__ import annotations

FIELDS = ("v", "type", "actor", "key", "seq", "ts", "campaign", "body", "sig")
MAX_BODY_BYTES = 64 * 1024
MAX_ENVELOPE_BYTES = MAX_BODY_BYTES + 4 * 1024
