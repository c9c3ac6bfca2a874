"""The envelope's fields and size limits, which both parsers enforce.

Here so that the strict parser (``ledger.envelope``) and the fast one
(``ledger._fast``) read them from one place without importing each other;
``ledger.envelope`` re-exports them.
"""

from __future__ import annotations

FIELDS = ("v", "type", "actor", "key", "seq", "ts", "campaign", "body", "sig")
# An envelope is at most 65,535 bytes: the most a C2SP tlog-tiles entry bundle can carry
# (a big-endian uint16 length prefix, ``ledger.provenance.tiles``), so every accepted event
# can be served as a tile entry. The body gets all of it but 1 KiB, which is more than the
# other fields can take (type and campaign ≤ 64 characters, two 43-character ids, seq,
# ts, an 86-character signature: under 450 bytes with the JSON around them).
MAX_ENVELOPE_BYTES = 0xFFFF
MAX_BODY_BYTES = 63 * 1024
