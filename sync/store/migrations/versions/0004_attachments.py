"""Received evidence attachments (docs/attachments.md): one row per verified blob.

Revision ID: 0004_attachments
Revises: 0003_login_throttle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.migrations.helpers import table_exists

revision = "0004_attachments"
down_revision = "0003_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if table_exists("attachment"):  # made by create_all before this revision (helpers)
        return
    op.create_table(
        "attachment",
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(), nullable=False),
        sa.Column("declared_type", sa.String(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("officer_id", sa.String(), nullable=False),
        sa.Column("station_id", sa.String(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("quarantined_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index("ix_attachment_device_received", "attachment", ["device_id", "received_ms"])


def downgrade() -> None:
    op.drop_index("ix_attachment_device_received", table_name="attachment")
    op.drop_table("attachment")
