"""Attachments: the records each blob's bytes were delivered for (attachment_use), so that a
download through a record needs its bytes to have been sent for it (or by its author).

Nothing is filled in: a blob keeps being served through the records of the officer who
uploaded it (that rule needs no row); through anyone else's record it shows as not received
until a device sends its bytes for that record.

Revision ID: 0008_attachment_use
Revises: 0007_retention
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.migrations.helpers import table_exists

revision = "0008_attachment_use"
down_revision = "0007_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not table_exists("attachment_use"):
        op.create_table(
            "attachment_use",
            sa.Column("sha256", sa.String(), nullable=False),
            sa.Column("collection", sa.String(), nullable=False),
            sa.Column("record_id", sa.String(), nullable=False),
            sa.Column("officer_id", sa.String(), nullable=False),
            sa.Column("bound_ms", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("sha256", "collection", "record_id"),
        )


def downgrade() -> None:
    op.drop_table("attachment_use")
