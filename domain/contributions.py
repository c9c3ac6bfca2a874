"""The contribution aggregate: a piece of work submitted (or remixed) by its authors.

``ContributionSubmitted`` carries the content's hash (the bytes are in the content
store), its authors with integer percent shares summing to 100, and the earlier
contributions it is derived from with fractional shares summing below 1 (a
``null`` share means the policy's ``remix_default_share``). The id of a
contribution is ``"<actor>:<seq>"`` of its envelope.

In a campaign whose policy has ``coauthor_consent``, a submission naming other
authors is *pending* (``awaiting`` the co-authors who have not yet signed
``CoAuthorshipAccepted``, ``domain/coauthors.py``) and, once one declines, dead:
``require_usable`` refuses votes, remixes, licences and reuses of either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from domain.campaign import campaign_of, require_window
from domain.errors import (
    CoAuthorshipDeclinedError,
    InvalidSharesError,
    PendingCoAuthorshipError,
    RemovedContributionError,
    UnknownContributionError,
)
from domain.membership import check_submission_cap, count_submission, require_member
from domain.state import Rule, State
from domain.values import (
    Fact,
    actor_id,
    constants,
    contribution_id,
    contribution_ref,
    expect_keys,
    malformed,
    one_of,
    parse_fraction,
    sha256_hex,
    text,
)
from domain.vocabulary import CONTRIBUTION_KINDS, CONTRIBUTION_SUBMITTED, REMOVED

KINDS = constants(*CONTRIBUTION_KINDS)
MAX_AUTHORS = 20
MAX_SOURCES = 20
_FIELDS = frozenset({"content", "kind", "title", "derived_from"})
_OPTIONAL = frozenset({"authors"})


@dataclass(frozen=True, slots=True)
class Contribution:
    """A contribution as the rules see it; ``outcome`` is its latest moderation."""

    id: str
    campaign: str
    authors: tuple[str, ...]
    shares: tuple[int, ...]
    kind: str
    title: str
    content: str
    derived_from: tuple[tuple[str, Fraction | None], ...]
    outcome: str | None = None
    # Co-author consent (a policy with coauthor_consent): the co-authors who have not yet
    # accepted, in authors order, and the one who declined (None: nobody did).
    awaiting: tuple[str, ...] = ()
    declined_by: str | None = None
    # Appeals (a policy with appeal_window, domain/appeals.py): when the latest moderation was
    # signed (its ts), and what became of an appeal against it: None (none filed), "filed"
    # (awaiting the brand), or the decision's outcome.
    moderated_at: datetime | None = None
    appeal: str | None = None

    @property
    def removed(self) -> bool:
        return self.outcome == REMOVED

    @property
    def submitter(self) -> str:
        return self.id.rsplit(":", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "contribution": self.id,
            "kind": self.kind,
            "title": self.title,
            "content": self.content,
            "authors": [
                {"member": m, "share": s} for m, s in zip(self.authors, self.shares, strict=True)
            ],
            "derived_from": [
                {"contribution": c, "share": None if s is None else f"{s}"}
                for c, s in self.derived_from
            ],
            "outcome": self.outcome,
            # Only where consent was asked and is not complete (older outputs unchanged).
            **({"awaiting": list(self.awaiting)} if self.awaiting else {}),
            **({"declined_by": self.declined_by} if self.declined_by else {}),
            **({"appeal": self.appeal} if self.appeal else {}),
        }


def contribution_in(state: State, campaign: str, cid: str) -> Contribution:
    """The campaign's contribution ``cid``; ``UnknownContributionError`` if there is none."""
    found = state.contributions.get(cid)
    if found is None or found.campaign != campaign:
        raise UnknownContributionError(
            f"campaign {campaign} has no contribution {cid}", campaign=campaign, contribution=cid
        )
    return found


def require_not_removed(found: Contribution, what: str) -> None:
    """Raise ``RemovedContributionError`` when moderation removed ``found``."""
    if found.removed:
        raise RemovedContributionError(
            f"contribution {found.id} was removed by moderation: no {what}",
            campaign=found.campaign,
            contribution=found.id,
        )


def require_usable(found: Contribution, what: str) -> None:
    """Raise unless ``found`` may get ``what`` (votes, remixes, licences, reuses): not removed
    (``RemovedContributionError``), declined by no co-author (``CoAuthorshipDeclinedError``)
    and accepted by every co-author (``PendingCoAuthorshipError``)."""
    require_not_removed(found, what)
    if found.declined_by is not None:
        raise CoAuthorshipDeclinedError(
            f"co-author {found.declined_by} declined contribution {found.id}: no {what}",
            campaign=found.campaign,
            contribution=found.id,
            member=found.declined_by,
        )
    if found.awaiting:
        raise PendingCoAuthorshipError(
            f"contribution {found.id} awaits the consent of co-author(s) "
            f"{', '.join(found.awaiting)}: no {what} until each accepts",
            campaign=found.campaign,
            contribution=found.id,
            members=list(found.awaiting),
        )


def _invalid(ev: Fact, detail: str) -> InvalidSharesError:
    return InvalidSharesError(f"{ev.type} {ev.actor}:{ev.seq}: {detail}", actor=ev.actor)


def _authors(state: State, ev: Fact, value: Any) -> tuple[tuple[str, ...], tuple[int, ...]]:
    if value is None:
        return (state.name(ev.actor),), (100,)
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_AUTHORS:
        raise malformed(ev, f"field 'authors' must be a list of 1-{MAX_AUTHORS} {{member, share}}")
    members: list[str] = []
    shares: list[int] = []
    for item in value:
        if not isinstance(item, dict) or item.keys() != {"member", "share"}:
            raise malformed(ev, "each of 'authors' must be an object with exactly member, share")
        member = actor_id(ev, "authors.member", item["member"])
        share = item["share"]
        if type(share) is not int or not 1 <= share <= 100:
            raise _invalid(ev, f"author {member}'s share must be an integer percent 1-100")
        if member in members:
            raise _invalid(ev, f"author {member} is named twice")
        members.append(state.name(member))
        shares.append(share)
    if ev.actor not in members:
        raise _invalid(ev, f"the authors must include the signer {ev.actor}")
    if sum(shares) != 100:
        raise _invalid(ev, f"author shares must sum to 100, got {sum(shares)}")
    return tuple(members), tuple(shares)


def _sources(ev: Fact, value: Any) -> tuple[tuple[str, Fraction | None], ...]:
    if not isinstance(value, list) or len(value) > MAX_SOURCES:
        raise malformed(
            ev,
            f"field 'derived_from' must be a list of at most {MAX_SOURCES} {{contribution, share}}",
        )
    sources: list[tuple[str, Fraction | None]] = []
    for item in value:
        if not isinstance(item, dict) or item.keys() != {"contribution", "share"}:
            raise malformed(
                ev, "each of 'derived_from' must be an object with exactly contribution, share"
            )
        source = contribution_ref(ev, "derived_from.contribution", item["contribution"])
        share = item["share"]
        parsed = None if share is None else parse_fraction(share)
        if share is not None and parsed is None:
            raise _invalid(ev, f'share {share!r} of {source} is not a fraction "p/q" or null')
        if any(source == seen for seen, _ in sources):
            raise _invalid(ev, f"{source} is named twice in derived_from")
        sources.append((source, parsed))
    return tuple(sources)


def check_submitted(state: State, ev: Fact) -> Contribution:
    body = expect_keys(ev, _FIELDS, _OPTIONAL)
    content = sha256_hex(ev, "content", body["content"])
    kind = one_of(ev, "kind", body["kind"], KINDS)
    title = text(ev, "title", body["title"])
    authors, shares = _authors(state, ev, body.get("authors"))
    sources = _sources(ev, body["derived_from"])
    campaign = campaign_of(state, ev)
    require_window(campaign, ev)
    require_member(state, campaign, ev.actor)
    check_submission_cap(state, campaign, ev)
    for author in authors:
        if author != ev.actor:
            require_member(state, campaign, author, role="co-author")
    total = Fraction(0)
    for source, share in sources:
        require_usable(contribution_in(state, campaign.id, source), "remixes")
        total += campaign.policy.remix_default_share if share is None else share
    if total >= 1:
        raise _invalid(ev, f"derived_from shares must sum below 1, got {total}")
    return Contribution(
        id=contribution_id(authors[authors.index(ev.actor)], ev.seq),
        campaign=campaign.id,
        authors=authors,
        shares=shares,
        kind=kind,
        title=title,
        content=content,
        derived_from=sources,
        awaiting=tuple(a for a in authors if a != ev.actor)
        if campaign.policy.coauthor_consent
        else (),
    )


def store_contribution(state: State, ev: Fact, found: Contribution) -> None:
    state.put(state.contributions, found.id, found)
    count_submission(state, state.campaigns[found.campaign], ev)


RULES = {CONTRIBUTION_SUBMITTED: Rule(check_submitted, store_contribution)}
