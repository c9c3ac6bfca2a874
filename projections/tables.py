"""The read-model tables (SQLAlchemy Core), in the log's own database.

On SQLite they sit next to the log in the same file; on PostgreSQL in the log's
schema. Every row is a pure function of the projection state at the tracked
position: natural keys only (no autoincrement), fractions as canonical ``p/q``
text, JSON as canonical text, no timestamps of when a row was written. That is
what makes an incremental run and a rebuild byte-identical.

``SCHEMA_VERSION`` changes whenever a table or a rule changes; a projector that
finds another version drops the tables and rebuilds them from the log.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, Table, Text

SCHEMA_VERSION = 4  # 2: proj_reports, proj_moderation.reports; 3: proj_appeals;
# 4: proj_reports.comment, proj_comments
TRACKING = "cocred_attribution"


def _pos(name: str, nullable: bool = True, primary_key: bool = False) -> Column[int]:
    """A log position column."""
    return Column(name, BigInteger, nullable=nullable, primary_key=primary_key)


class Tables:
    """The read-model tables, bound to a schema (None on SQLite)."""

    def __init__(self, schema: str | None = None) -> None:
        self.metadata = MetaData(schema=schema)
        m = self.metadata
        self.tracking = Table(
            "proj_tracking",
            m,
            Column("name", Text, primary_key=True),
            Column("position", BigInteger, nullable=False),
            Column("version", Integer, nullable=False),
        )
        self.campaigns = Table(
            "proj_campaigns",
            m,
            Column("campaign", Text, primary_key=True),
            Column("brand", Text, nullable=False),
            Column("title", Text, nullable=False),
            Column("currency", Text, nullable=False),
            Column("membership", Text, nullable=False),
            Column("pool", BigInteger, nullable=False),
            Column("funded", BigInteger, nullable=False),
            Column("policy", Text, nullable=False),
            Column("policy_supported", Boolean, nullable=False),
            _pos("opened_at", False),
            _pos("closed_at"),
            _pos("settled_at"),
            Column("settled_export", Text),
            Column("total_credit", Text),
            Column("members", Integer, nullable=False),
            Column("contributions", Integer, nullable=False),
            Column("active_votes", Integer, nullable=False),
        )
        self.members = Table(
            "proj_members",
            m,
            Column("campaign", Text, primary_key=True),
            Column("member", Text, primary_key=True),
            _pos("invited_at"),
            _pos("joined_at"),
            _pos("blocked_at"),
            Column("block_reason", Text),
            Column("contributions", Integer, nullable=False),
            Column("coauthored", Integer, nullable=False),
            Column("votes_cast", Integer, nullable=False),
            Column("votes_counted", Integer, nullable=False),
            Column("received_support", Integer, nullable=False),
            Column("received_comment", Integer, nullable=False),
            Column("received_save", Integer, nullable=False),
            Column("received_share", Integer, nullable=False),
            Column("reuses", Integer, nullable=False),
            Column("remixed_by_others", Integer, nullable=False),
            Column("licences", Integer, nullable=False),
            Column("accepted", Integer, nullable=False),
            Column("rejected", Integer, nullable=False),
            Column("removed", Integer, nullable=False),
            Column("cluster_size", Integer, nullable=False),
            Column("credit", Text, nullable=False),
            Column("credit_via_remixes", Text, nullable=False),
        )
        self.contributions = Table(
            "proj_contributions",
            m,
            Column("campaign", Text, primary_key=True),
            Column("contribution", Text, primary_key=True),
            _pos("position", False),
            Column("signer", Text, nullable=False),
            Column("kind", Text, nullable=False),
            Column("title", Text, nullable=False),
            Column("content", Text, nullable=False),
            Column("status", Text, nullable=False),
            Column("votes_support", Integer, nullable=False),
            Column("votes_comment", Integer, nullable=False),
            Column("votes_save", Integer, nullable=False),
            Column("votes_share", Integer, nullable=False),
            Column("reuses", Integer, nullable=False),
            Column("distinct_reuses", Integer, nullable=False),
            Column("support", Text, nullable=False),
            Column("score", Text, nullable=False),
            Column("credit", Text, nullable=False),
            Column("keep", Text, nullable=False),
            Column("kept", Text, nullable=False),
        )
        self.authors = Table(
            "proj_authors",
            m,
            Column("campaign", Text, primary_key=True),
            Column("contribution", Text, primary_key=True),
            Column("member", Text, primary_key=True),
            Column("percent", Integer, nullable=False),
        )
        self.lineage = Table(
            "proj_lineage",
            m,
            Column("campaign", Text, primary_key=True),
            Column("child", Text, primary_key=True),
            Column("entry", Integer, primary_key=True),
            Column("parent", Text, nullable=False, index=True),
            Column("declared", Text),
            Column("share", Text, nullable=False),
            _pos("position", False),
        )
        self.licences = Table(
            "proj_licences",
            m,
            Column("campaign", Text, primary_key=True),
            Column("licence", Text, primary_key=True),
            Column("author", Text, primary_key=True),
            Column("contribution", Text, nullable=False),
            Column("grant_body", Text, nullable=False),
            _pos("granted_at", False),
            _pos("revoked_at"),
        )
        self.reuses = Table(
            "proj_reuses",
            m,
            Column("campaign", Text, primary_key=True),
            _pos("position", False, True),
            Column("contribution", Text, nullable=False),
            Column("licence", Text, nullable=False),
            Column("channel", Text, nullable=False),
            Column("territory", Text, nullable=False),
            Column("first_of_kind", Boolean, nullable=False),
        )
        self.moderation = Table(
            "proj_moderation",
            m,
            Column("campaign", Text, primary_key=True),
            _pos("position", False, True),
            Column("contribution", Text, nullable=False),
            Column("outcome", Text, nullable=False),
            Column("reason", Text, nullable=False),
            Column("note", Text),
            Column("reports", Text),  # canonical JSON list of the cited report ids, or null
        )
        self.reports = Table(
            "proj_reports",
            m,
            Column("campaign", Text, primary_key=True),
            _pos("position", False, True),
            Column("report", Text, nullable=False),
            Column("contribution", Text, nullable=False, index=True),
            Column("reporter", Text, nullable=False),
            Column("reason", Text, nullable=False),
            Column("text", Text),
            Column(
                "comment", Text
            ),  # the reported comment (its piece in ``contribution``), or null
        )
        self.comments = Table(
            "proj_comments",
            m,
            Column("campaign", Text, primary_key=True),
            Column("comment", Text, primary_key=True),  # "<author>:<seq>" of CommentPosted
            _pos("position", False),
            Column("contribution", Text, nullable=False, index=True),
            Column("parent", Text),
            Column("author", Text, nullable=False),
            Column("as_brand", Boolean, nullable=False),
            _pos("hidden_at"),  # the brand's CommentHidden, or null
            Column("hidden_reason", Text),
        )
        self.appeals = Table(
            "proj_appeals",
            m,
            Column("campaign", Text, primary_key=True),
            Column("appeal", Text, primary_key=True),  # "<submitter>:<seq>" of AppealFiled
            _pos("position", False),
            Column("contribution", Text, nullable=False, index=True),
            Column("appellant", Text, nullable=False),
            Column("against", Text, nullable=False),  # the outcome appealed
            Column("reason", Text, nullable=False),
            Column("text", Text),
            _pos("decided_at"),  # the AppealDecided, or null while the brand has not decided
            Column("outcome", Text),
            Column("decision_reason", Text),
            Column("note", Text),
        )
        self.ignored = Table(
            "proj_ignored",
            m,
            Column("campaign", Text, primary_key=True),
            _pos("position", False, True),
            Column("type", Text, nullable=False),
            Column("actor", Text, nullable=False),
            Column("reason", Text, nullable=False),
        )

    def data_tables(self) -> list[Table]:
        """Every table but tracking, in the order rows are written."""
        return [
            self.campaigns,
            self.members,
            self.contributions,
            self.authors,
            self.lineage,
            self.licences,
            self.reuses,
            self.moderation,
            self.reports,
            self.comments,
            self.appeals,
            self.ignored,
        ]
