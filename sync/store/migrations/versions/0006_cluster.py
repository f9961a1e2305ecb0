"""Work shared across workers and hosts: analysis results (analysis_result) and leases (lease).

Revision ID: 0006_cluster
Revises: 0005_review
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.migrations.helpers import table_exists

revision = "0006_cluster"
down_revision = "0005_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not table_exists("analysis_result"):
        op.create_table(
            "analysis_result",
            sa.Column("key", sa.String(), nullable=False),
            sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("computed_ms", sa.BigInteger(), nullable=False),
            sa.Column("body", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("key", "seq"),
        )
    if not table_exists("lease"):
        op.create_table(
            "lease",
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("holder", sa.String(), nullable=False),
            sa.Column("expires_ms", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("name"),
        )


def downgrade() -> None:
    op.drop_table("lease")
    op.drop_table("analysis_result")
