"""The first schema: points, findings by fingerprint, occurrences.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "points",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("cluster", sa.String(253), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("appeared", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
    )
    op.create_index("ix_points_cluster", "points", ["cluster"])
    op.create_index("ix_points_taken_at", "points", ["taken_at"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("cluster", sa.String(253), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("kind", sa.String(253), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fixed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("cluster", "fingerprint", name="uq_findings_cluster_fingerprint"),
    )
    op.create_index("ix_findings_rule", "findings", ["rule"])
    op.create_index("ix_findings_cluster_fixed", "findings", ["cluster", "fixed_at"])
    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("findings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("opened_point", sa.Integer(), sa.ForeignKey("points.id"), nullable=False),
        sa.Column("closed_point", sa.Integer(), sa.ForeignKey("points.id"), nullable=True),
    )
    op.create_index("ix_occurrences_finding_id", "occurrences", ["finding_id"])
    op.create_index("ix_occurrences_span", "occurrences", ["opened_point", "closed_point"])


def downgrade() -> None:
    op.drop_table("occurrences")
    op.drop_table("findings")
    op.drop_table("points")
