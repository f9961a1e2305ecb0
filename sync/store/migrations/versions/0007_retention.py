"""Retention (server/retention): where a device's chain starts after its older entries were
archived (chain_base).

Revision ID: 0007_retention
Revises: 0006_cluster
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.migrations.helpers import table_exists

revision = "0007_retention"
down_revision = "0006_cluster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not table_exists("chain_base"):
        op.create_table(
            "chain_base",
            sa.Column("device_id", sa.String(), nullable=False),
            sa.Column("n", sa.BigInteger(), nullable=False),
            sa.Column("hash", sa.String(), nullable=False),
            sa.Column("archive", sa.String(), nullable=False),
            sa.Column("archived_ms", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("device_id"),
        )


def downgrade() -> None:
    op.drop_table("chain_base")
