"""All configuration in one object, read from ``COCRED_*`` environment variables.

Nothing else in cocred reads ``os.environ``; the composition root
(``api.bootstrap``) turns a ``Settings`` into wired services.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING

from limits import parse
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.membership import Registration

if TYPE_CHECKING:
    from ledger.provenance.witness_client import WitnessEndpoint


def _entries(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# The limits below are ``limits`` notation ("N/second|minute|hour|day", or "N per M unit"):
# a fixed window per key, shared by every server process through the database.
_RATE = "; limits notation, e.g. 600/minute"


class Settings(BaseSettings):
    """cocred settings; each field is ``COCRED_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="COCRED_", extra="ignore")

    database_url: str = Field(
        "sqlite:///var/cocred.sqlite",
        description="sqlite:///PATH (default, zero set-up) or postgresql://USER@HOST:PORT/DB"
        "[?schema=NAME]",
    )
    max_clock_skew_seconds: int = Field(
        300, ge=0, description="refuse envelopes whose ts is further ahead of our clock"
    )
    verify_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="worker processes that verify the signatures of a big batch (1: in the caller)",
    )
    content_max_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="largest upload the content store accepts (bytes)"
    )
    content_max_image_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="largest image (photo, design) upload (bytes)"
    )
    content_max_video_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="largest video upload (bytes)"
    )
    content_max_text_bytes: int = Field(
        1024 * 1024, ge=1, description="largest text (idea, text, a design brief) upload (bytes)"
    )
    content_max_image_pixels: int = Field(
        40_000_000,
        ge=1,
        description="most pixels (width x height) an uploaded image may have: a decompression "
        "bomb is refused from its header (Pillow's MAX_IMAGE_PIXELS)",
    )
    append_retries: int = Field(
        20,
        ge=1,
        description="how often the campaign gate re-checks and retries a conditional append "
        "that lost a race with another writer",
    )
    group_commit: bool = Field(
        True,
        description="append concurrent POST /events of one server process in one transaction "
        "(each request still gets its own position or its own error); off: one transaction "
        "per request",
    )
    group_commit_max: int = Field(
        500, ge=1, le=10_000, description="most events one group commit appends at once"
    )
    gc_freeze: bool = Field(
        False,
        description="freeze the campaign state replayed by the server out of Python's cyclic "
        "garbage collector (gc.freeze), whose full collections otherwise stop the server for "
        "100+ ms as the state grows; cocred serve turns it on",
    )
    ledger_key_file: Path | None = Field(
        None,
        description="the ledger's own Ed25519 key (signs checkpoints and anchor receipts); "
        "created on first use; default: beside the SQLite file, or var/ledger.key",
    )
    profile_key_file: Path | None = Field(
        None,
        description="the epoch key file that wraps every member's profile key (kept outside "
        "the database and its backups; erasure rotates it); created on first use; default: "
        "beside the SQLite file, else beside the ledger key, named after the database",
    )
    log_origin: str | None = Field(
        None, description="the checkpoint origin line; default cocred.ledger/<key id prefix>"
    )
    checkpoint_every: int = Field(1000, ge=1, description="cut a checkpoint every N events")
    snapshot_every: int = Field(
        10_000,
        ge=0,
        description="save the gate's state (domain.snapshots) when a process replayed at least "
        "this many events, so the next one replays only the tail; 0 turns snapshots off",
    )
    checkpoint_interval_seconds: float = Field(
        5.0, gt=0, description="... or when this many seconds passed with new events"
    )
    checkpoint_poll_seconds: float = Field(
        1.0, gt=0, description="how often the server's checkpointer looks whether one is due"
    )
    checkpoint_retry_max_seconds: float = Field(
        30.0,
        gt=0,
        description="longest wait between the checkpointer's retries after a database fault "
        "(it backs off from the poll interval, doubling)",
    )
    registration: Registration = Field(
        Registration.WITH_FIRST_ACT,
        description="who may become an actor over HTTP: 'open' (a bare self-signed "
        "KeyRegistered), 'with-first-act' (only in one batch with the actor's first act a "
        "campaign admits: MemberJoined of an open campaign, of one that invited it, or with an "
        "unused invitation code of the campaign), "
        "'closed' (none; the operator registers actors with the CLI)",
    )
    rate_limits: bool = Field(
        True, description="throttle requests per client address and per actor (429 RateLimited)"
    )
    rate_writes_per_address: str = Field(
        "600/minute",
        description="events one client address may post (POST /events, /events/batch, /keys, "
        "erasures; a batch counts each event); the brands' events are not counted here" + _RATE,
    )
    rate_writes_per_actor: str = Field(
        "120/minute", description="events one member (the envelope's actor) may post" + _RATE
    )
    rate_brand_writes: str = Field(
        "6000/minute",
        description="events one brand (an actor who opened a campaign) may post, in its own "
        "bucket: members' traffic never counts against it" + _RATE,
    )
    rate_signed_reads: str = Field(
        "300/minute",
        description="signed reads (exports, profiles) per client address and per signer" + _RATE,
    )
    rate_public_reads: str = Field(
        "1200/minute", description="every other request, per client address" + _RATE
    )
    rate_upload_bytes: str = Field(
        "268435456/hour",
        description="content bytes (PUT /content) per client address and per uploader" + _RATE,
    )
    rate_limit_lease: float = Field(
        0.02,
        ge=0,
        le=0.05,
        description="the share of a limit one server process may admit ahead of the shared "
        "counter (it reserves that much at once, in the background): each limit holds within "
        "+-(processes x lease x limit); 0 makes every hit wait for the database",
    )
    rate_concurrent_writes_per_address: int = Field(
        1,
        ge=0,
        le=1024,
        description="writes and uploads one client address may have in flight at once in "
        "one server process; more wait their turn (in order, never refused). One process "
        "appends one event batch at a time, so a client with many connections otherwise "
        "queues its whole allowance ahead of everyone else's next write; 0: no cap. Behind "
        "a reverse proxy, set COCRED_TRUSTED_PROXIES, or every client shares the proxy's",
    )
    rate_limit_delay_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="hold a 429 this long (at most until Retry-After) before answering it: a "
        "client that keeps flooding gets one answer per connection per delay, and its "
        "refusals cost the server almost nothing; 0 answers at once",
    )
    trusted_proxies: str = Field(
        "",
        description="comma-separated addresses or CIDRs of the reverse proxies whose "
        "X-Forwarded-For names the client; from any other peer the header is ignored",
    )
    content_quota_member_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="content bytes one member may upload in all"
    )
    content_quota_campaign_bytes: int = Field(
        8 * 1024 * 1024 * 1024,
        ge=0,
        description="content bytes all uploads for one campaign may take in all",
    )
    witnesses: str = Field(
        "",
        description="comma-separated C2SP tlog-witness witnesses, each '<submission URL> "
        "<witness verifier key>' (cocred witness serve prints both): the server submits "
        "every checkpoint it cuts to each, and keeps their cosignatures in the checkpoint",
    )
    witness_quorum: int | None = Field(
        None,
        ge=1,
        description="how many of the witnesses must cosign a checkpoint for a proof bundle "
        "to prove against it (the k of 'k of these n'); default: all of them",
    )
    witness_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="how long one add-checkpoint request may take"
    )
    anchor_rpc_url: str | None = Field(None, description="Ethereum JSON-RPC URL (anchoring)")
    anchor_chain_id: int | None = Field(
        None, description="expected chain id (default: ask the node)"
    )
    anchor_contract: str | None = Field(None, description="address of the deployed Anchor")
    anchor_private_key: SecretStr | None = Field(
        None, description="hex key that signs anchor transactions (never printed)"
    )
    claims_private_key: SecretStr | None = Field(
        None,
        description="hex key that deploys and funds a Distributor and pays claims' gas "
        "(cocred payouts claims; never printed)",
    )

    @field_validator(
        "rate_writes_per_address",
        "rate_writes_per_actor",
        "rate_brand_writes",
        "rate_signed_reads",
        "rate_public_reads",
        "rate_upload_bytes",
    )
    @classmethod
    def _a_limit(cls, value: str) -> str:
        parse(value)  # ValueError names the notation it expects
        return value

    @field_validator("witnesses")
    @classmethod
    def _witnesses(cls, value: str) -> str:
        from ledger.errors import MalformedError
        from ledger.provenance.witness_client import WitnessEndpoint

        try:
            endpoints = [WitnessEndpoint.parse(spec) for spec in _entries(value)]
        except MalformedError as exc:
            raise ValueError(exc.detail) from None
        if len({e.name for e in endpoints}) != len(endpoints):
            raise ValueError("a witness key is named twice")
        return value

    @model_validator(mode="after")
    def _quorum(self) -> Settings:
        count = len(_entries(self.witnesses))
        if self.witness_quorum is not None and self.witness_quorum > count:
            raise ValueError(
                f"witness_quorum is {self.witness_quorum} but {count} witness(es) are configured"
            )
        return self

    def witness_endpoints(self) -> list[WitnessEndpoint]:
        """``witnesses`` parsed (empty when none is configured)."""
        from ledger.provenance.witness_client import WitnessEndpoint

        return [WitnessEndpoint.parse(spec) for spec in _entries(self.witnesses)]

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            ipaddress.ip_network(part, strict=False)  # ValueError names the bad one
        return value

    def proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """``trusted_proxies`` as networks (a bare address is a /32 or /128)."""
        parts = (p.strip() for p in self.trusted_proxies.split(","))
        return [ipaddress.ip_network(p, strict=False) for p in parts if p]
