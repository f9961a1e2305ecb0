"""Failed web sign-ins per (officer, address), per officer and per address (back-off).

Revision ID: 0003_login_throttle
Revises: 0002_public_snapshot
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.migrations.helpers import table_exists

revision = "0003_login_throttle"
down_revision = "0002_public_snapshot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if table_exists("login_throttle"):  # made by create_all before this revision (helpers)
        return
    op.create_table(
        "login_throttle",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("officer_id", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "officer_id", "address"),
    )
    op.create_index("ix_login_throttle_last_ms", "login_throttle", ["last_ms"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_last_ms", table_name="login_throttle")
    op.drop_table("login_throttle")
