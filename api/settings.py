"""All configuration in one object, read from ``COCRED_*`` environment variables.

Nothing else in cocred reads ``os.environ``; the composition root
(``api.bootstrap``) turns a ``Settings`` into wired services.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    anchor_rpc_url: str | None = Field(None, description="Ethereum JSON-RPC URL (anchoring)")
    anchor_chain_id: int | None = Field(
        None, description="expected chain id (default: ask the node)"
    )
    anchor_contract: str | None = Field(None, description="address of the deployed Anchor")
    anchor_private_key: SecretStr | None = Field(
        None, description="hex key that signs anchor transactions (never printed)"
    )
