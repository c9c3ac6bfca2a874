"""The composition root: one function builds every service from one ``Settings``.

The CLI, the HTTP app, the benchmarks and the tests all call ``bootstrap``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import make_url

from api.settings import Settings
from domain.content import ContentStore
from domain.epoch_keys import EpochKeyFile
from domain.gate import CampaignApp
from domain.profile_store import ProfileStore
from domain.services import CampaignServices
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
from ledger.provenance.tree import MerkleTree, engine_for
from ledger.store import open_store, sqlite_path


@dataclass
class Services:
    """Everything wired together; ``close()`` releases it.

    ``campaigns`` holds the verbs and, as ``campaigns.gate``, the gate every append
    goes through; ``content`` and ``profiles`` are the stores next to the log.
    """

    settings: Settings
    ledger: Ledger
    campaigns: CampaignServices
    content: ContentStore
    profiles: ProfileStore
    provenance: Provenance
    settlement_check: SettlementCheck | None = None

    def close(self) -> None:
        self.provenance.close()
        self.profiles.close()
        self.content.close()
        self.ledger.close()

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
    try:
        content = ContentStore(url, max_bytes=settings.content_max_bytes, create=create)
        try:
            profiles = ProfileStore(url, EpochKeyFile(profile_key_path(settings)), create=create)
        except BaseException:
            content.close()
            raise
    except BaseException:
        ledger.close()
        raise
    gate = CampaignApp(ledger, retries=settings.append_retries)
    provenance = _provenance(settings, ledger)
    return Services(
        settings=settings,
        ledger=ledger,
        campaigns=CampaignServices(gate, content, profiles),
        content=content,
        profiles=profiles,
        provenance=provenance,
        settlement_check=_settlement_check(),
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


def _provenance(settings: Settings, ledger: Ledger) -> Provenance:
    engine = engine_for(settings.database_url)
    identity = LedgerIdentity.load_or_create(ledger_key_path(settings), settings.log_origin)
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
    return Provenance(ledger, checkpoints, anchor)


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
    """The audit's step 5: every settled payout export recomputed from the log."""
    from projections.export import check_settlements

    return check_settlements
