"""The envelope's fields and size limits, which both parsers enforce, and the batch limits.

Here so that the strict parser (``ledger.envelope``) and the fast one
(``ledger._fast``) read them from one place without importing each other;
``ledger.envelope`` re-exports them, ``ledger.ledger`` the batch limits. This module
imports nothing, so ``cocred --help`` can show the limits without loading the ledger.
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

# Events in one append_batch call (``POST /events`` and ``cocred append --batch`` cap it here).
MAX_BATCH = 10_000
# Events per transaction of an import (``cocred append``). Each commit costs a
# fsync'd write during which the verification workers have nothing to do, and a
# batch's first and last slices leave one of them idle for a moment: on 2 cores,
# batches of 1,000 ran at ~1.5x one process, batches of 5,000 at ~1.7x. A batch
# holds the write lock while it is checked (about a quarter of a second here).
IMPORT_BATCH = 5_000
