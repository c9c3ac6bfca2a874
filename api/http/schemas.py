"""The request and response models of the JSON API: every shape the OpenAPI document shows.

The routers (``api.http.routes``) and ``api.http.deps`` import them from here, so no
router imports another for a model. A model's docstring is its description in
``/openapi.json``, and its class name the name of its schema: renaming one changes the
published document.

Why this module stays whole (over ~400 lines): it holds declarations only, no logic, one
section per router, and splitting it per router would bring back the imports between
routers it exists to remove (``LoggedEvent`` is the auditors' page entry and the
contributors' history entry; ``ErrorBody`` is every route's).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ledger.canonical import MAX_DEPTH
from ledger.envelope import (
    CAMPAIGN_PATTERN,
    MAX_ENVELOPE_BYTES,
    MAX_SEQ,
    TS_PATTERN,
    TYPE_PATTERN,
    VERSION,
)
from ledger.keys import ID_PATTERN

# -- every refusal -----------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every refusal: a machine-readable code, a sentence, and the ids involved."""

    error: str
    detail: str
    ids: dict[str, str | int | bool | None] | None = None


# -- events: signed envelopes in, positions out ------------------------------------------------


# The envelope as the OpenAPI description shows it: the fields and patterns
# ``ledger.envelope.Envelope.from_json`` checks (the canonical form, the body's
# size and nesting, and the signature are checked beyond what a schema says).
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a signed envelope: RFC 8785 canonical JSON, Ed25519 over it without sig; "
    f"at most {MAX_ENVELOPE_BYTES} bytes and {MAX_DEPTH} levels of nesting",
    "required": ["v", "type", "actor", "key", "seq", "ts", "campaign", "body", "sig"],
    "additionalProperties": False,
    "properties": {
        "v": {"type": "integer", "enum": [VERSION]},
        "type": {"type": "string", "pattern": TYPE_PATTERN.pattern},
        "actor": {"type": "string", "pattern": ID_PATTERN.pattern},
        "key": {"type": "string", "pattern": ID_PATTERN.pattern},
        "seq": {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
        "ts": {"type": "string", "pattern": TS_PATTERN.pattern},
        "campaign": {"type": ["string", "null"], "pattern": CAMPAIGN_PATTERN.pattern},
        "body": {"type": "object"},
        "sig": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{85}[AQgw]$"},
    },
}

# The request body of a route that takes one signed envelope (its ``openapi_extra``).
ENVELOPE_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ENVELOPE_SCHEMA}},
    }
}


class Appended(BaseModel):
    """Where the event landed in the log (it is durable when this is returned)."""

    position: int


class ActorKey(BaseModel):
    """One key of an actor: valid from seq ``since`` through ``until`` (null: current)."""

    key: str
    since: int
    until: int | None
    revoked: bool
    recovered: bool = False  # retired by a recovery


class PendingRecovery(BaseModel):
    """A RecoveryRequested not yet in effect: its seq, the new key, and from when it signs."""

    seq: int
    key: str
    effective_at: str


class ActorKeys(BaseModel):
    """An actor's key state in the log: what a client signing its next event needs."""

    actor: str
    seq: int  # the last seq used
    next_seq: int
    current: str | None  # the key that may sign now (null: revoked)
    keys: list[ActorKey]
    recovery_key: str | None = None  # the key that may sign a RecoveryRequested
    pending_recovery: PendingRecovery | None = None
    disowned: list[int] = []  # seqs its KeyCompromised statements disown


class AppendedBatch(BaseModel):
    """Where each event of the batch landed, in order."""

    positions: list[int]


# -- health ------------------------------------------------------------------------------------


class Alive(BaseModel):
    """The process is up."""

    status: str


class Check(BaseModel):
    """One readiness check: whether it holds, and a sentence saying what was seen."""

    ok: bool
    detail: str


class Ready(BaseModel):
    """Every check held: ``status`` is ``ready``; the figures behind each check."""

    status: str
    checks: dict[str, Check]
    checkpointer: dict[str, Any]
    lag: dict[str, Any] | None
    witnesses: list[dict[str, Any]] | None = Field(
        None,
        description="each configured witness: the size it last cosigned, its failures in a "
        "row and the last one (a witness outage does not make the server unready)",
    )


# -- auditors ----------------------------------------------------------------------------------


class LoggedEvent(BaseModel):
    """One stored event: its position and the signed envelope exactly as stored."""

    position: int
    event: dict[str, Any]


class LogPage(BaseModel):
    """A page of the log; ``next`` is where the following page starts (None at the end)."""

    events: list[LoggedEvent]
    next: int | None
    size: int


class CheckpointOut(BaseModel):
    """A signed checkpoint: tree size, root (hex) and the C2SP signed note."""

    size: int
    root: str
    note: str
    cut_at: str


class LatestCheckpointOut(CheckpointOut):
    """The latest checkpoint, and how far it lags the log's head (events and seconds)."""

    log_size: int
    lag_events: int
    lag_seconds: float
    age_seconds: float


class CheckpointPage(BaseModel):
    checkpoints: list[CheckpointOut]
    next: int | None


class ProofOut(BaseModel):
    """A Merkle proof (RFC 9162); hashes are standard base64 as in Certificate Transparency."""

    proof: dict[str, Any]
    root: str


class AnchorOut(BaseModel):
    """An AnchorRecorded event: its log position and the on-chain receipt."""

    position: int
    receipt: dict[str, Any]


class AnchorPage(BaseModel):
    anchors: list[AnchorOut]


class AuditFailure(BaseModel):
    """The first failed check of an audit: the log position, the step and the mismatch."""

    position: int
    step: str
    detail: str


class AuditOut(BaseModel):
    """A recorded ``cocred audit`` run: a claim by whoever ran it, not a proof (run your own)."""

    id: int
    started_at: str
    finished_at: str
    ok: bool
    events: int
    actors: int
    checkpoints: int
    anchors: int
    anchors_on_chain: int
    settlements: int
    steps: list[str]
    failure: AuditFailure | None


class AuditPage(BaseModel):
    audits: list[AuditOut]


class LedgerKeyOut(BaseModel):
    """The verifier key that checkpoints and bundles are checked against."""

    origin: str
    vkey: str
    actor: str


# -- contributors ------------------------------------------------------------------------------


class Registered(BaseModel):
    """Where the key registration landed; the actor id is the key's own id."""

    position: int
    actor: str
    key: str


class StoredContent(BaseModel):
    """Content stored under its SHA-256 (lowercase hex)."""

    sha256: str
    size: int


class MemberHistory(BaseModel):
    """A page of the member's own signed events, oldest first, and where they take part.

    ``next`` is the seq the following page starts at (None at the end); ``seq``
    is the member's latest seq.
    """

    member: str
    label: str
    erased: bool
    seq: int
    campaigns: list[str]
    events: list[LoggedEvent]
    next: int | None


class MemberRecord(BaseModel):
    """The member's attribution counters and credit in one campaign (read models)."""

    invited_at: int | None
    joined_at: int | None
    blocked_at: int | None
    block_reason: str | None
    contributions: int
    coauthored: int
    votes_cast: int
    votes_counted: int
    received_support: int
    received_comment: int
    received_save: int
    received_share: int
    reuses: int
    remixed_by_others: int
    licences: int
    accepted: int
    rejected: int
    removed: int
    cluster_size: int
    credit: str
    credit_via_remixes: str


class Coauthor(BaseModel):
    member: str
    percent: int


class ReuseRow(BaseModel):
    """A recorded reuse of the contribution (``first_of_kind``: first per channel/territory)."""

    position: int
    licence: str
    channel: str
    territory: str
    first_of_kind: bool


class ModerationRow(BaseModel):
    """A ``ContributionModerated`` event: outcome, reason code, note hash."""

    position: int
    contribution: str
    outcome: str
    reason: str
    note: str | None


class ContributionSummary(BaseModel):
    """What names a contribution and what became of it (the start of every listing's row)."""

    contribution: str
    position: int
    signer: str
    kind: str
    title: str
    content: str
    status: str


class AuthoredContribution(ContributionSummary):
    """One of the member's contributions with its votes, scores and what became of it."""

    votes_support: int
    votes_comment: int
    votes_save: int
    votes_share: int
    reuses: int
    distinct_reuses: int
    support: str
    score: str
    credit: str
    keep: str
    kept: str
    percent: int
    coauthors: list[Coauthor]
    reused: list[ReuseRow]
    moderation: list[ModerationRow]


class LicenceRow(BaseModel):
    """A licence the member granted (``grant``: the LicenceGranted body)."""

    licence: str
    contribution: str
    grant: dict[str, Any]
    granted_at: int
    revoked_at: int | None


class Attribution(BaseModel):
    """The member's record in a campaign; ``contributions`` is one page, oldest first."""

    campaign: str
    member: str
    label: str
    as_of: int
    record: MemberRecord
    licences: list[LicenceRow]
    total: int
    contributions: list[AuthoredContribution]
    next: int | None


class Link(BaseModel):
    """A ``derived_from`` entry: the declared share (None: the policy's) and its value."""

    parent: str
    declared: str | None
    share: str


class Relative(BaseModel):
    """An ancestor or descendant; ``path`` is the share of credit flowing along the chains."""

    contribution: str
    position: int
    status: str
    path: str
    derived_from: list[Link]


class Lineage(BaseModel):
    campaign: str
    contribution: str
    status: str
    derived_from: list[Link]
    ancestors: list[Relative]
    descendants: list[Relative]


class ExplanationItem(BaseModel):
    """One source event's credit to one of the member's contributions, and its cents."""

    position: int
    event: str
    actor: str
    detail: str
    landed_on: str
    credited: str
    weight: str
    factors: dict[str, str]
    path: str
    keep: str
    percent: int
    credit: str
    exact: str
    cents: int


class IgnoredEvent(BaseModel):
    position: int
    event: str
    reason: str


class Explanation(BaseModel):
    """Why the member earns ``payout``: the items' cents add up to it (projections.explain)."""

    format: str
    campaign: str
    member: str
    as_of: int
    currency: str
    pool: int
    total_credit: str
    credit: str
    blocked: bool
    share: str
    base: str
    adjustment: str
    capped: bool
    below_minimum: bool
    rounding: str
    payout: int
    items: list[ExplanationItem]
    ignored: list[IgnoredEvent]


class ProfileOut(BaseModel):
    """A member's profile: each field may be unset; ``payout`` holds one method per kind
    (``sepa``: holder, iban, bic?; ``paypal``: email or phone; ``eth``: address);
    ``payout_handle`` only on profiles written before payout methods."""

    display_name: str | None = None
    email: str | None = None
    payout_handle: str | None = None
    payout: dict[str, dict[str, str]] = {}


class Commitment(BaseModel):
    """The salt (hex) and the commitment the log's ProfileCommitted holds."""

    salt: str
    commitment: str


class Standing(BaseModel):
    invited: bool
    joined: bool
    blocked: bool
    reason: str | None


class MyData(BaseModel):
    """Everything cocred holds about the member (the right of access)."""

    member: str
    erased: bool
    profile: ProfileOut | None
    commitment: Commitment | None
    campaigns: dict[str, Standing]
    contributions: list[str]
    events: list[dict[str, Any]]


class PrivateProfile(BaseModel):
    """The member's decrypted profile and the salt that opens its commitment."""

    member: str
    profile: ProfileOut
    salt: str
    commitment: str


class Erased(BaseModel):
    """Where the MemberErased event landed; the profile's key, salt and ciphertext are gone."""

    position: int
    actor: str
    seq: int
    type: str


# -- brands ------------------------------------------------------------------------------------


Status = Literal["open", "accepted", "rejected", "removed"]


class CampaignSummary(BaseModel):
    """A campaign as the read models hold it; ``pool`` includes every PoolFunded."""

    campaign: str
    brand: str
    title: str
    currency: str
    membership: str
    pool: int
    opened_at: int
    closed_at: int | None
    settled_at: int | None
    members: int
    contributions: int


class CampaignPage(BaseModel):
    """A page of campaigns in the order they were opened; ``next`` is the next ``from``."""

    campaigns: list[CampaignSummary]
    total: int
    next: int | None


class MemberCounts(BaseModel):
    joined: int
    blocked: int


class CampaignOut(BaseModel):
    """The campaign's rules and window, with counts (``CampaignServices.show``)."""

    campaign: str
    brand: str
    title: str
    guidelines: str
    starts_at: str
    ends_at: str
    membership: str
    currency: str
    pool: int
    policy: dict[str, Any]
    closed: bool
    settled: bool
    members: MemberCounts
    contributions: int
    removed: int
    live_votes: int
    licences: int


class Moderated(BaseModel):
    """One ``ContributionModerated`` event on the contribution; ``reports``: the report ids it
    cites (null when it cites none)."""

    position: int
    outcome: str
    reason: str
    note: str | None
    reports: list[str] | None = None


class QueuedContribution(ContributionSummary):
    """A contribution, its status (``open``: never moderated) and its moderation history."""

    score: str
    moderation: list[Moderated]


class ModerationQueue(BaseModel):
    """Contributions in log order from position ``from``; ``next`` is the next ``from``."""

    campaign: str
    status: Status | None
    contributions: list[QueuedContribution]
    next: int | None


class ReportedPiece(BaseModel):
    """A reported piece: its number of reports, the count per reason, its moderation status.
    Or a reported comment (``comment`` set): on the piece ``contribution`` (``title`` is the
    piece's), written by ``signer``, at ``position``, ``kind`` ``comment``, ``status``
    ``shown`` or ``hidden``."""

    contribution: str
    position: int
    signer: str
    kind: str
    title: str
    status: str
    reports: int
    reasons: dict[str, int]
    comment: str | None = None


class ReportQueue(BaseModel):
    """The campaign's reported pieces and comments, most reported first then oldest first;
    ``total`` items hold ``reports`` reports; ``next`` is the next ``from`` (an index)."""

    campaign: str
    total: int
    reports: int
    pieces: list[ReportedPiece]
    next: int | None


class AppealOut(BaseModel):
    """An appeal against a rejection or removal and, once decided, the brand's decision;
    ``status`` is ``filed`` (awaiting the brand), ``upheld`` or ``reinstated``."""

    appeal: str
    position: int
    contribution: str
    title: str
    appellant: str
    against: str
    reason: str
    text: str | None
    status: str
    decided_at: int | None
    decision_reason: str | None
    note: str | None
    piece_status: str


class AppealPageOut(BaseModel):
    """The campaign's appeals, those awaiting the brand first, then oldest first; ``total``
    listed (``open`` of all awaiting a decision); ``next`` is the next ``from`` (an index)."""

    campaign: str
    total: int
    open: int
    appeals: list[AppealOut]
    next: int | None


class ThreadComment(BaseModel):
    """One comment of a thread, in reading order: ``depth`` 0 is on the piece, 1 a reply to
    such a comment, …; a hidden comment has the brand's ``hidden`` reason and no ``text``."""

    comment: str
    parent: str | None
    author: str
    as_brand: bool
    depth: int
    hidden: str | None
    text: str | None


class CommentThread(BaseModel):
    """A page of a piece's thread: ``total`` comments; ``next`` is the next ``from``."""

    campaign: str
    contribution: str
    total: int
    comments: list[ThreadComment]
    next: int | None


class CampaignMember(BaseModel):
    """A member's public standing: label, positions of invitation/join/block, credit."""

    member: str
    label: str
    invited_at: int | None
    joined_at: int | None
    blocked: bool
    blocked_at: int | None
    block_reason: str | None
    contributions: int
    credit: str


class MemberPage(BaseModel):
    """Members by actor id; ``next`` is the next ``from`` (an index)."""

    campaign: str
    total: int
    members: list[CampaignMember]
    next: int | None


class PayoutLine(BaseModel):
    rank: int
    member: str
    label: str
    credit: str
    share: str
    amount: int
    capped: bool
    below_minimum: bool


class PayoutPreview(BaseModel):
    """The projected payouts, best first; ``paid`` (every line, not just this page) is the
    pool whenever somebody has credit."""

    campaign: str
    as_of: int
    currency: str
    pool: int
    paid: int
    payees: int
    closed: bool
    lines: list[PayoutLine]
    next: int | None


class ObjectionOut(BaseModel):
    """A payee's objection to a payout proposal and the brand's answer (texts by hash)."""

    objection: str
    member: str
    reason: str
    text: str | None
    at: str
    answer: dict[str, Any] | None


class ProposalOut(BaseModel):
    """A campaign's payout stage: the open (or settled) proposal, its window, its objections."""

    campaign: str
    stage: Literal["open", "proposed", "settled"]
    proposal: str | None
    export: str | None
    total: int | None
    payees: dict[str, int]
    proposed_at: str | None
    window_ends: str | None
    parts: int | None = None  # a proposal in parts: how many (1 for one body)
    complete: bool | None = None  # all its parts are in the log (its window runs from then)
    objections: list[ObjectionOut]
    withdrawn: list[str]


class ClaimProofOut(BaseModel):
    """A member's claim on the campaign's Distributor: send ``claim(index, account, tokens,
    proof)`` to ``distributor`` on chain ``chain_id`` (anyone may; the tokens go to
    ``account``)."""

    campaign: str
    member: str
    root: str = Field(description="the Distributor's Merkle root (0x + 64 hex)")
    distributor: str = Field(description="the Distributor's EIP-55 address")
    chain_id: int
    token: str = Field(description="the ERC-20 paid (EIP-55 address)")
    decimals: int
    index: int
    account: str = Field(description="the address paid: the member's payout method at build")
    amount: int = Field(description="minor units of the campaign's currency")
    tokens: str = Field(description="token units (a decimal string): what the claim transfers")
    proof: list[str] = Field(description="sibling hashes from the leaf to the root (0x-hex)")


class PayoutStatusLine(BaseModel):
    member: str
    settled: int
    paid: int
    owed: int
    unpaid: str | None


class PayoutStatus(BaseModel):
    """Settled, paid, owed and unpaid (with the reason) per payee, and recorded payments."""

    campaign: str
    currency: str
    stage: str
    settled: int
    paid: int
    owed: int
    unpaid: int
    payments: list[dict[str, Any]]
    claim_tree: dict[str, Any] | None = None  # the published claim tree, and what was claimed
    lines: list[PayoutStatusLine]
