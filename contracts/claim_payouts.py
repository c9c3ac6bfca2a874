"""The claims rail end to end: settled lines -> a claim tree -> proofs served -> claims recorded.

After settlement the brand plans the ``claims`` rail (``projections.rails.plan_rails`` with
``(CLAIMS,)``): each payee still owed money who holds an Ethereum payout method gets a
leaf (index, their *current* address, what is owed in token units); the others go to the
document's ``unpaid`` list with the reason (``erased``, ``no-method``), as on every rail,
and stay owed. ``claim_document`` turns the plan into the document ``cocred payouts claims
build`` writes: the root, the total to fund, and per claimant the index, member, account,
amount (minor units, and token units as a decimal string: they pass 2**64) and proof.

``ClaimTrees`` keeps each built document in the ledger's database (table
``cocred_claim_trees``, beside the log: the root's record is the chain, not the log), with
the Distributor it was deployed to, so the API serves a member's proof
(``GET /campaigns/{campaign}/claims/{member}``). ``claimed_payments`` turns the
Distributor's ``Claimed`` events into ``PaymentRecorded`` lines, one event per claim
transaction (``batch`` = the Distributor's address, ``tx`` = the claim's), so the audit's
step 6 holds each to the ERC-20 ``Transfer`` the Distributor made in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from contracts.claim_tree import ClaimTree
from contracts.errors import (
    ClaimEntryError,
    ClaimsAlreadyDeployedError,
    ClaimsConfigError,
    ClaimsNotDeployedError,
    NoClaimError,
    StaleClaimTreeError,
)
from ledger.errors import StorageError
from ledger.store.engine import create_tables, ddl

if TYPE_CHECKING:
    from contracts.claims import Claimed
    from projections.rails import RailPlan

metadata = sa.MetaData()
claim_trees_table = sa.Table(
    "cocred_claim_trees",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign", sa.String(200), nullable=False, index=True),
    sa.Column("root", sa.String(66), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("distributor", sa.String(42), nullable=True),
    sa.Column("chain_id", sa.BigInteger, nullable=True),
    sa.Column("token", sa.String(42), nullable=True),
)

PaymentLines = list[tuple[str, int, str]]  # (member, minor units, address paid)


def token_scale(currency_exponent: int, decimals: int, campaign: str) -> int:
    """Token units per minor unit: 10 ** (decimals - the currency's exponent)."""
    if type(decimals) is not int or not 0 <= decimals <= 36:
        raise ClaimsConfigError(
            f"campaign {campaign}: token decimals must be 0-36, got {decimals!r}"
        )
    if decimals < currency_exponent:
        raise ClaimsConfigError(
            f"campaign {campaign}: a token of {decimals} decimals cannot carry the currency's "
            f"{currency_exponent} decimal places"
        )
    return int(10 ** (decimals - currency_exponent))


def claim_document(plan: RailPlan, decimals: int) -> dict[str, Any]:
    """The claims document of ``plan``'s ``claims`` lines (see the module docstring).

    Indices follow the plan's order (members sorted). Raises ``ClaimsConfigError`` for
    decimals that cannot carry the currency, ``ClaimEntryError`` when nobody can claim.
    """
    from projections.exact import currency_exponent
    from projections.rails import CLAIMS

    exponent = currency_exponent(plan.currency)
    scale = token_scale(exponent, decimals, plan.campaign)
    lines = plan.lines.get(CLAIMS, ())
    if not lines:
        raise ClaimEntryError(
            f"campaign {plan.campaign}: no payee is owed money and holds an Ethereum payout "
            f"method, so there is nothing to claim ({len(plan.unpaid)} unpaid)",
            campaign=plan.campaign,
        )
    entries = [(i, line.method.handle, line.amount * scale) for i, line in enumerate(lines)]
    tree = ClaimTree.build(entries)
    return {
        "campaign": plan.campaign,
        "currency": plan.currency,
        "exponent": exponent,
        "decimals": decimals,
        "root": tree.root_hex,
        "total": str(tree.total),  # token units as decimal strings: past 2**53 and 2**64
        "claims": [
            {
                "index": index,
                "member": line.member,
                "account": account,
                "amount": line.amount,
                "tokens": str(tokens),
                "proof": ["0x" + p.hex() for p in tree.proof(index)],
            }
            for (index, account, tokens), line in zip(entries, lines, strict=True)
        ],
        "unpaid": [
            {"member": u.member, "amount": u.amount, "reason": u.reason} for u in plan.unpaid
        ],
    }


def tree_of(document: Mapping[str, Any]) -> ClaimTree:
    """The ``ClaimTree`` a document describes (rebuilt, and checked to have its root).

    ``StaleClaimTreeError`` when a claimant was erased since the build (their address is
    gone with them, so the tree cannot be deployed: build it again)."""
    for entry in document["claims"]:
        if entry.get("erased"):
            raise StaleClaimTreeError(
                f"campaign {document['campaign']}: claim tree {document['root']} holds "
                f"{entry['member']}, erased since the build: build it again",
                campaign=document["campaign"],
                member=entry["member"],
            )
    tree = ClaimTree.build(
        [(c["index"], c["account"], int(c["tokens"])) for c in document["claims"]]
    )
    if tree.root_hex != document["root"]:
        raise ClaimsConfigError(
            f"campaign {document['campaign']}: the claims document's entries hash to "
            f"{tree.root_hex}, not its root {document['root']}"
        )
    return tree


def check_still_owed(document: Mapping[str, Any], owed: Mapping[str, int]) -> None:
    """``StaleClaimTreeError`` if a leaf pays more than ``owed`` (member -> minor units still
    owed now): something was paid on another rail since the build, so build again."""
    for entry in document["claims"]:
        now = owed.get(entry["member"], 0)
        if entry["amount"] > now:
            raise StaleClaimTreeError(
                f"campaign {document['campaign']}: claim tree {document['root']} pays "
                f"{entry['member']} {entry['amount']}, but {now} is owed now (paid since the "
                f"build): build it again",
                campaign=document["campaign"],
                member=entry["member"],
            )


def claimed_payments(
    document: Mapping[str, Any], claimed: Iterable[Claimed], recorded: Iterable[str]
) -> list[tuple[str, PaymentLines]]:
    """(tx hash, payment lines) of each claim transaction not in ``recorded``, in chain order.

    Each claim is held to the document's leaf for its index (the Distributor checked the
    proof, so only a Distributor of another tree disagrees: ``ClaimsConfigError``).
    """
    by_index = {c["index"]: c for c in document["claims"]}
    scale = 10 ** (document["decimals"] - document["exponent"])
    done = {tx.lower() for tx in recorded}
    found: dict[str, PaymentLines] = {}
    for event in claimed:
        leaf = by_index.get(event.index)
        if leaf is None or not _is_leaf(leaf, event):
            raise ClaimsConfigError(
                f"campaign {document['campaign']}: Claimed({event.index}, {event.account}, "
                f"{event.amount}) is no leaf of tree {document['root']}"
            )
        tx = "0x" + event.tx_hash.hex()
        if tx not in done:  # the account the chain paid (an erased leaf keeps only its hash)
            found.setdefault(tx, []).append((leaf["member"], event.amount // scale, event.account))
    return list(found.items())


def _is_leaf(leaf: Mapping[str, Any], event: Claimed) -> bool:
    if leaf.get("erased"):  # the address was forgotten: the leaf's hash still binds it
        from contracts.claim_tree import leaf_hash

        return "0x" + leaf_hash(event.index, event.account, event.amount).hex() == leaf["leaf"]
    return bool(
        leaf["account"].lower() == event.account.lower() and int(leaf["tokens"]) == event.amount
    )


def forget_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A claimant's entry after their erasure: the index, member and amounts stay (the
    payment books need them), the address and proof go, the leaf's hash stays so a claim
    made with a proof kept elsewhere is still recognised and recorded."""
    from contracts.claim_tree import leaf_hash

    if entry.get("erased"):
        return dict(entry)
    leaf = leaf_hash(entry["index"], entry["account"], int(entry["tokens"]))
    return {
        "index": entry["index"],
        "member": entry["member"],
        "amount": entry["amount"],
        "tokens": entry["tokens"],
        "leaf": "0x" + leaf.hex(),
        "erased": True,
    }


def _has_table(conn: sa.Connection) -> bool:
    """Whether ``cocred_claim_trees`` exists (a read never creates it), in the URL's schema."""
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    return bool(sa.inspect(conn).has_table(claim_trees_table.name, schema=schema))


class ClaimTrees:
    """The claims documents built for each campaign, newest last, and where each was deployed."""

    def __init__(self, engine: sa.Engine, *, create: bool = True) -> None:
        self.engine = engine
        if create:
            create_tables(metadata, engine, "the claim trees table")

    def save(self, document: Mapping[str, Any]) -> None:
        """Keep a built document (a later build supersedes it until one is deployed).

        Raises ``ClaimsAlreadyDeployedError`` once a tree of the campaign is deployed: its
        Distributor holds the money of every leaf not yet claimed and cannot give it back,
        so a second tree would pay those payees twice.
        """
        self.require_undeployed(document["campaign"])
        try:
            with ddl(self.engine) as conn:
                metadata.create_all(conn, checkfirst=True)
                conn.execute(
                    sa.insert(claim_trees_table).values(
                        campaign=document["campaign"],
                        root=document["root"],
                        document=orjson.dumps(document).decode(),
                    )
                )
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot record the claim tree: {exc}") from exc

    def deployed(
        self, campaign: str, root: str, distributor: str, chain_id: int, token: str
    ) -> None:
        """Record that the newest tree of ``campaign`` with ``root`` is paid by ``distributor``.

        Raises ``ClaimsAlreadyDeployedError`` if a tree of the campaign is deployed already.
        """
        self.require_undeployed(campaign)
        newest = sa.select(sa.func.max(claim_trees_table.c.id)).where(
            claim_trees_table.c.campaign == campaign, claim_trees_table.c.root == root
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(claim_trees_table)
                    .where(claim_trees_table.c.id == newest.scalar_subquery())
                    .values(distributor=distributor, chain_id=chain_id, token=token)
                )
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot record the Distributor: {exc}") from exc

    def documents(self, campaign: str) -> list[dict[str, Any]]:
        """Every document of ``campaign``, newest first, with ``distributor``, ``chain_id``,
        ``token`` (null until deployed)."""
        table = claim_trees_table
        query = sa.select(table).where(table.c.campaign == campaign).order_by(table.c.id.desc())
        try:
            with self.engine.connect() as conn:
                if not _has_table(conn):
                    return []
                rows = conn.execute(query).mappings().all()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot read the claim trees table: {exc}") from exc
        return [
            orjson.loads(r["document"])
            | {"distributor": r["distributor"], "chain_id": r["chain_id"], "token": r["token"]}
            for r in rows
        ]

    def latest(self, campaign: str) -> dict[str, Any]:
        """The newest document of ``campaign``; ``NoClaimError`` if none was built."""
        found = self.documents(campaign)
        if not found:
            raise NoClaimError(
                f"campaign {campaign} has no claim tree: the brand runs cocred payouts claims "
                f"build first",
                campaign=campaign,
            )
        return found[0]

    def deployed_latest(self, campaign: str) -> dict[str, Any]:
        """The newest document, once deployed; ``ClaimsNotDeployedError`` before."""
        document = self.latest(campaign)
        if document["distributor"] is None:
            raise ClaimsNotDeployedError(
                f"campaign {campaign}: claim tree {document['root']} has no Distributor yet: "
                f"run cocred payouts claims deploy",
                campaign=campaign,
            )
        return document

    def require_undeployed(self, campaign: str) -> None:
        """``ClaimsAlreadyDeployedError`` if a tree of ``campaign`` has a Distributor."""
        for document in self.documents(campaign):
            if document["distributor"] is not None:
                raise ClaimsAlreadyDeployedError(
                    f"campaign {campaign} is paid by Distributor {document['distributor']} "
                    f"(tree {document['root']}): it holds what its leaves have not claimed and "
                    f"cannot give it back, so no second tree is built",
                    campaign=campaign,
                )

    def forget(self, member: str) -> int:
        """Erase ``member``'s address and proof from every kept document (crypto-shredding
        erases their payout methods; this table held one in clear); return how many
        documents changed. A deployed Distributor still holds their leaf's money: nobody
        can claim it without the proof, and it is not paid twice by another rail."""
        table = claim_trees_table
        changed = 0
        try:
            with self.engine.begin() as conn:
                if not _has_table(conn):
                    return 0
                for row in conn.execute(sa.select(table.c.id, table.c.document)).all():
                    document = orjson.loads(row.document)
                    if not any(
                        c["member"] == member and not c.get("erased") for c in document["claims"]
                    ):
                        continue
                    document["claims"] = [
                        forget_entry(c) if c["member"] == member else c for c in document["claims"]
                    ]
                    conn.execute(
                        sa.update(table)
                        .where(table.c.id == row.id)
                        .values(document=orjson.dumps(document).decode())
                    )
                    changed += 1
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot erase {member} from the claim trees: {exc}") from exc
        return changed

    def claimable(self, campaign: str) -> set[str]:
        """The members with a leaf in the campaign's deployed tree (paid by claiming)."""
        return {
            entry["member"]
            for document in self.documents(campaign)
            if document["distributor"] is not None
            for entry in document["claims"]
        }

    def claim_of(self, campaign: str, member: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(document, claim) of ``member`` in the newest deployed tree that holds them.

        ``NoClaimError`` when no deployed tree of the campaign has a leaf for the member.
        """
        for document in self.documents(campaign):
            if document["distributor"] is None:
                continue
            for entry in document["claims"]:
                if entry["member"] == member and entry.get("erased"):
                    raise NoClaimError(
                        f"member {member} was erased: their claim's address and proof in "
                        f"campaign {campaign} were deleted with them",
                        campaign=campaign,
                        member=member,
                    )
                if entry["member"] == member:
                    return document, entry
        raise NoClaimError(
            f"member {member} has no claim in campaign {campaign}: no deployed claim tree "
            f"has a leaf for them",
            campaign=campaign,
            member=member,
        )
