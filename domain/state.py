"""The in-memory campaign state the rules are checked against, with an undo journal.

The state is a handful of containers of frozen records (campaigns, memberships,
contributions, live votes, licences, erased members). Every change goes through
``put``/``add``/``discard``, which, while a journal is open (``begin``), remember
how to undo it. The gate opens a journal, applies a batch tentatively so that each
event is checked against the effects of the ones before it, and then either keeps
it (``commit``: the batch was written) or undoes it (``rollback``: it was refused,
or the log moved). Replaying the log applies without a journal.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from domain.values import Fact

if TYPE_CHECKING:
    from domain.campaign import Campaign
    from domain.comments import Comment
    from domain.contributions import Contribution
    from domain.invite_codes import CodeBatch, InviteCode
    from domain.licences import Licence
    from domain.membership import Membership
    from domain.payouts import PayoutBook
    from domain.reports import Report

K = TypeVar("K")
V = TypeVar("V")


class State:
    """Everything the rules need to know, built by applying the log in order."""

    def __init__(self) -> None:
        self.campaigns: dict[str, Campaign] = {}
        self.memberships: dict[tuple[str, str], Membership] = {}
        self.contributions: dict[str, Contribution] = {}
        # Live votes as (contribution id, member, kind); the strings are shared objects.
        self.votes: set[tuple[str, str, str]] = set()
        self.licences: dict[str, Licence] = {}
        self.erased: set[str] = set()
        self.brands: set[str] = set()  # every actor who opened a campaign
        # ContributionSubmitted per (campaign, member, UTC day of ts), for the policy's
        # submissions_per_day; only campaigns whose policy sets it are counted.
        self.submissions: dict[tuple[str, str, str], int] = {}
        self.payouts: dict[str, PayoutBook] = {}
        # Reports by id, and each (contribution, member)'s report id: one report per member
        # per piece.
        self.reports: dict[str, Report] = {}
        self.reported: dict[tuple[str, str], str] = {}
        # Comments by id, and the first comment per (contribution, author, text hash): what
        # a comment vote naming that text is tied to (domain/comments.py).
        self.comments: dict[str, Comment] = {}
        self.commented: dict[tuple[str, str, str], str] = {}
        # Invitation codes: each batch by its id, each code by (campaign, code hash).
        self.code_batches: dict[str, CodeBatch] = {}
        self.invite_codes: dict[tuple[str, str], InviteCode] = {}
        # The server's clock while an append is checked (None at replay): a code is expired
        # once it passes, whatever time the join says it was signed at.
        self.append_time: datetime | None = None
        self._names: dict[str, str] = {}
        self._journal: list[tuple[Any, ...]] | None = None

    # -- journal ---------------------------------------------------------------------------

    def begin(self) -> None:
        """Start recording changes so that ``rollback`` can undo them."""
        self._journal = []

    def commit(self) -> None:
        """Keep every change since ``begin``."""
        self._journal = None

    def rollback(self) -> None:
        """Undo every change since ``begin``, newest first."""
        journal, self._journal = self._journal or [], None
        for undo, *args in reversed(journal):
            undo(*args)

    # -- changes ---------------------------------------------------------------------------
    # The journal holds (bound method, *arguments) tuples: cheaper than closures.

    def put(self, mapping: MutableMapping[K, V], key: K, value: V) -> None:
        """``mapping[key] = value``, undoably."""
        journal = self._journal
        if journal is not None:
            if key in mapping:
                journal.append((mapping.__setitem__, key, mapping[key]))
            else:
                journal.append((mapping.pop, key))
        mapping[key] = value

    def add(self, items: set[K], item: K) -> None:
        """``items.add(item)``, undoably."""
        if self._journal is not None and item not in items:
            self._journal.append((items.discard, item))
        items.add(item)

    def discard(self, items: set[K], item: K) -> None:
        """``items.discard(item)``, undoably."""
        if self._journal is not None and item in items:
            self._journal.append((items.add, item))
        items.discard(item)

    def name(self, value: str) -> str:
        """One shared string object per actor id (the log repeats them millions of times)."""
        return self._names.setdefault(value, value)


class Rule(NamedTuple):
    """How one event type is handled: a pure ``check`` against the state, which returns
    what ``apply`` then needs, and ``apply``, which changes the state (undoably)."""

    check: Callable[[State, Fact], Any]
    apply: Callable[[State, Fact, Any], None]


def no_change(state: State, ev: Fact, checked: Any) -> None:
    """``apply`` for events that change no rule state (the projections count them)."""
