"""The composition root: one function builds every service from one ``Settings``.

The CLI, the HTTP app, the benchmarks and the tests all call ``bootstrap``. It opens
one SQLAlchemy engine on the database (``ledger.store.engine``) and hands it to
everything that keeps tables beside the log: the tree and checkpoints, the content and
profile stores, the read side, the request verifier and the rate limiter
(``Services.reads``, ``Services.verifier``, ``Services.limiter``, built on first use:
only the server needs them). The log itself runs on the eventsourcing library's own
connections. What the network appends goes through ``Services.admitting``, the gate
held to the server's admission setting (``COCRED_REGISTRATION``); the CLI, the
operator's tool, appends through the gate itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, make_url

from api.settings import Settings
from domain.content import ContentStore, KindCheckedAdmitting
from domain.epoch_keys import EpochKeyFile
from domain.gate import Admitting, CampaignApp
from domain.media import MediaLimits
from domain.profile_store import ProfileStore
from domain.services import CampaignServices
from domain.snapshots import SnapshotStore
from ledger.ledger import Ledger
from ledger.provenance.anchoring import (
    Anchor,
    AnchorableCheckpoint,
    AnchorConnectionError,
    AnchorReceipt,
    AnchorRecord,
)
from ledger.provenance.audit import SettlementCheck
from ledger.provenance.bundles import Provenance
from ledger.provenance.checkpoints import CheckpointLog, LedgerIdentity
from ledger.provenance.tree import MerkleTree
from ledger.store import open_store, sqlite_path
from ledger.store.engine import engine_for

if TYPE_CHECKING:  # imported when first built: a CLI verb needs neither
    from api.http.auth import RequestVerifier
    from api.http.ratelimit import SharedLimiter
    from api.http.throttle import RouteLimits
    from api.reads import Reads
    from ledger.provenance.witness_client import Witnessing


@dataclass
class Services:
    """Everything wired together; ``close()`` releases it.

    ``campaigns`` holds the verbs and, as ``campaigns.gate``, the gate every append
    goes through; ``content`` and ``profiles`` are the stores next to the log;
    ``engine`` is the one SQLAlchemy engine on the database, which they all share.
    """

    settings: Settings
    ledger: Ledger
    engine: Engine
    campaigns: CampaignServices
    content: ContentStore
    profiles: ProfileStore
    provenance: Provenance
    settlement_check: SettlementCheck | None = None
    payment_check: SettlementCheck | None = None

    @cached_property
    def reads(self) -> Reads:
        """The read side (read models caught up on demand, recorded audits).

        Built on first use; creates the audits table. Raises ``StorageError`` if it cannot.
        """
        from api.reads import Reads

        return Reads(self)

    @cached_property
    def witnessing(self) -> Witnessing | None:
        """Submits checkpoints to the configured witnesses (None when there are none); built
        on first use, it creates the table of each witness's size."""
        endpoints = self.settings.witness_endpoints()
        if not endpoints:
            return None
        from ledger.provenance.witness_client import Witnessing

        return Witnessing(
            self.provenance.checkpoints,
            endpoints,
            quorum=self.settings.witness_quorum,
            timeout=self.settings.witness_timeout_seconds,
            retry_max=self.settings.checkpoint_retry_max_seconds,
        )

    @cached_property
    def verifier(self) -> RequestVerifier:
        """The signed-request verifier; built on first use, it creates the nonces table."""
        from api.http.auth import RequestVerifier

        return RequestVerifier(self.ledger, self.engine)

    @cached_property
    def limiter(self) -> SharedLimiter:
        """The rate limiter on the shared counters; built on first use (creates their table).

        Raises ``StorageError`` when the table cannot be created.
        """
        import sqlalchemy as sa

        from api.http.ratelimit import SharedLimiter
        from api.http.ratelimit_storage import SQLStorage
        from ledger.errors import StorageError

        try:
            return SharedLimiter(SQLStorage(self.engine))
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot create the rate counters' table: {exc}") from exc

    @cached_property
    def admitting(self) -> Admitting:
        """The gate held to ``settings.registration`` and to the kind each submission's
        content was uploaded as: what every HTTP write goes through."""
        gate, content = self.campaigns.gate, self.content
        return KindCheckedAdmitting(gate, self.settings.registration, content)

    def close(self) -> None:
        if "limiter" in self.__dict__:
            self.limiter.close()
        if "reads" in self.__dict__:
            self.reads.close()
        if self.__dict__.get("witnessing") is not None:
            self.witnessing.close()  # type: ignore[union-attr]
        self.provenance.close()
        self.profiles.close()
        self.content.close()
        self.ledger.close()
        self.engine.dispose()  # last: every store above ran on it

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bootstrap(
    settings: Settings | None = None, *, database_url: str | None = None, create: bool = True
) -> Services:
    """Build the services; ``database_url`` overrides the settings' database.

    Raises ``StorageError`` when the database cannot be opened.
    """
    settings = settings or Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    url = settings.database_url
    ledger = Ledger(
        open_store(url, create=create),
        max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds),
        verify_threads=settings.verify_threads,
    )
    engine = engine_for(url)
    try:
        content = ContentStore(
            url,
            max_bytes=settings.content_max_bytes,
            create=create,
            engine=engine,
            member_quota=settings.content_quota_member_bytes,
            campaign_quota=settings.content_quota_campaign_bytes,
            limits=MediaLimits(
                image_bytes=settings.content_max_image_bytes,
                video_bytes=settings.content_max_video_bytes,
                text_bytes=settings.content_max_text_bytes,
                image_pixels=settings.content_max_image_pixels,
            ),
        )
        keys = EpochKeyFile(profile_key_path(settings))
        profiles = ProfileStore(url, keys, create=create, engine=engine)
        provenance = _provenance(settings, ledger, engine, create=create)
        snapshots = SnapshotStore(url, engine=engine, create=create)
    except BaseException:
        engine.dispose()
        ledger.close()
        raise
    # A read-only open loads a snapshot but never saves one (it writes nothing).
    gate = CampaignApp(
        ledger,
        retries=settings.append_retries,
        snapshots=snapshots if settings.snapshot_every else None,
        snapshot_every=settings.snapshot_every if create else 0,
    )
    return Services(
        settings=settings,
        ledger=ledger,
        engine=engine,
        campaigns=CampaignServices(gate, content, profiles, forget=[_claims_forgetter(engine)]),
        content=content,
        profiles=profiles,
        provenance=provenance,
        settlement_check=_settlement_check(),
        payment_check=_payment_check(),
    )


def _claims_forgetter(engine: Engine) -> Callable[[str], object]:
    """Erasure's hook into the claim trees (which keep each claimant's address in clear)."""

    def forget(member: str) -> object:
        from contracts.claim_payouts import ClaimTrees

        return ClaimTrees(engine, create=False).forget(member)

    return forget


def route_limits(settings: Settings) -> RouteLimits:
    """The rate limits of each route class, from the ``rate_*`` settings."""
    from api.http.ratelimit import Limit
    from api.http.throttle import RouteLimits

    share = settings.rate_limit_lease

    def limit(name: str, notation: str) -> Limit:
        return Limit.of(name, notation, share)

    return RouteLimits(
        writes_address=limit("writes/address", settings.rate_writes_per_address),
        writes_actor=limit("writes/actor", settings.rate_writes_per_actor),
        writes_brand=limit("writes/brand", settings.rate_brand_writes),
        signed_reads_address=limit("signed-reads/address", settings.rate_signed_reads),
        signed_reads_actor=limit("signed-reads/actor", settings.rate_signed_reads),
        public_reads_address=limit("public-reads/address", settings.rate_public_reads),
        uploads_address=limit("uploads/address", settings.rate_upload_bytes),
        uploads_actor=limit("uploads/actor", settings.rate_upload_bytes),
    )


def ledger_key_path(settings: Settings) -> Path:
    """Where the ledger's key lives: the setting, else beside the SQLite file, else var/."""
    if settings.ledger_key_file is not None:
        return settings.ledger_key_file
    path = sqlite_path(settings.database_url)
    if path is not None:
        return path.with_name(path.stem + ".ledger.key")
    return Path("var/ledger.key")


def profile_key_path(settings: Settings) -> Path:
    """Where the profile epoch keys live: the setting, else beside the SQLite file, else
    beside the ledger key, named after the database (one key file per profile store)."""
    if settings.profile_key_file is not None:
        return settings.profile_key_file
    path = sqlite_path(settings.database_url)
    if path is not None:
        return path.with_name(path.stem + ".profiles.key")
    where = make_url(settings.database_url).set(password=None)
    tag = hashlib.sha256(where.render_as_string().encode()).hexdigest()[:16]
    return ledger_key_path(settings).with_name(f"profiles-{tag}.key")


def _provenance(settings: Settings, ledger: Ledger, engine: Engine, *, create: bool) -> Provenance:
    # A command that may create the database creates its ledger key with it; one that only
    # reads (``create=False``) loads the key on first use and never makes one.
    path, origin = ledger_key_path(settings), settings.log_origin
    identity: LedgerIdentity | Callable[[], LedgerIdentity] = (
        LedgerIdentity.load_or_create(path, origin)
        if create
        else lambda: LedgerIdentity.load_or_create(path, origin, create=False)
    )
    checkpoints = CheckpointLog(
        engine,
        MerkleTree(engine, ledger.store),
        identity,
        every=settings.checkpoint_every,
        interval=settings.checkpoint_interval_seconds,
    )
    anchor = None
    if settings.anchor_rpc_url and settings.anchor_contract and settings.anchor_private_key:
        anchor = _LazyAnchor(settings)
    endpoints = settings.witness_endpoints()
    policy = None
    if endpoints:
        from ledger.provenance.cosignature import WitnessPolicy

        policy = WitnessPolicy(
            tuple(e.key for e in endpoints), settings.witness_quorum or len(endpoints)
        )
    return Provenance(ledger, checkpoints, anchor, policy)


class _LazyAnchor:
    """The web3 adapter, built on first use: ``import web3`` costs ~2 s per CLI call."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._port: Anchor | None = None

    def _get(self) -> Anchor:
        if self._port is None:
            from contracts.web3_anchor import Web3Anchor

            s = self.settings
            assert s.anchor_rpc_url and s.anchor_contract and s.anchor_private_key
            chain_id = s.anchor_chain_id
            if chain_id is None:
                from web3 import HTTPProvider, Web3

                try:
                    chain_id = int(Web3(HTTPProvider(s.anchor_rpc_url)).eth.chain_id)
                except Exception as exc:  # no node: the adapter's typed error says so
                    raise AnchorConnectionError(
                        f"no Ethereum node answers at {s.anchor_rpc_url}"
                    ) from exc
            self._port = Web3Anchor.from_rpc(
                s.anchor_rpc_url,
                s.anchor_contract,
                s.anchor_private_key.get_secret_value(),
                chain_id,
            )
        return self._port

    def anchor(self, checkpoint: AnchorableCheckpoint) -> AnchorReceipt:
        return self._get().anchor(checkpoint)

    def lookup(self, root: bytes) -> AnchorRecord | None:
        return self._get().lookup(root)


def _settlement_check() -> SettlementCheck:
    """The audit's step 5: every settled payout export and proposal recomputed from the log."""
    from projections.payments import check_payouts

    return check_payouts


def _payment_check() -> SettlementCheck:
    """The audit's step 6 without a chain: every recorded payment against the settled lines."""
    from projections.payments import check_payments

    return check_payments
