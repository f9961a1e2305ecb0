"""Public snapshots: a published month's public tables, frozen when first published.

Revision ID: 0002_public_snapshot
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.migrations.helpers import table_exists

revision = "0002_public_snapshot"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if table_exists("public_snapshot"):  # made by create_all before this revision (helpers)
        return
    op.create_table(
        "public_snapshot",
        sa.Column("month", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "kind"),
    )


def downgrade() -> None:
    op.drop_table("public_snapshot")
