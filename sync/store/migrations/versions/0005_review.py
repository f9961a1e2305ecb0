"""A chief's review of a conflict (conflict_review): who, when, which value was kept.

Revision ID: 0005_review
Revises: 0004_attachments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.migrations.helpers import table_exists

revision = "0005_review"
down_revision = "0004_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if table_exists("conflict_review"):  # made by create_all before this revision (helpers)
        return
    op.create_table(
        "conflict_review",
        sa.Column("conflict_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("officer_id", sa.String(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("reviewed_ms", sa.BigInteger(), nullable=False),
        sa.Column("choice", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("conflict_id"),
    )


def downgrade() -> None:
    op.drop_table("conflict_review")
