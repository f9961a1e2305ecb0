"""Attachments: the files incidents have marked as personal data (attachment_mark), so the
mark sticks to the file in every record (docs/attachments.md, "The pii mark").

Filled from the records' current versions: every reference an incident (``fields``) or a
patrol-log entry (``body``) marks ``pii: true`` now. A mark an earlier version of an incident
held and the current one dropped cannot be recovered (versions are not kept).

Revision ID: 0009_attachment_mark
Revises: 0008_attachment_use
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from alembic import op

from sync.store.migrations.helpers import table_exists

revision = "0009_attachment_mark"
down_revision = "0008_attachment_use"
branch_labels = None
depends_on = None

# Only attachment references have a "pii" key inside a record's document (compact JSON).
MARKED = '%"pii":true%'
PARTS = {"incidents": "fields", "patrol_logs": "body"}  # where each names its attachments


def upgrade() -> None:
    if table_exists("attachment_mark"):  # made by create_all (see helpers.py)
        return
    mark = op.create_table(
        "attachment_mark",
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("marked_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "collection", "record_id"),
    )
    bind = op.get_bind()
    record = sa.table("record", sa.column("collection"), sa.column("id"), sa.column("doc"))
    query = sa.select(record.c.collection, record.c.id, record.c.doc).where(
        record.c.collection.in_(PARTS), record.c.doc.like(MARKED)
    )
    now = int(time.time() * 1000)
    rows: list[dict[str, Any]] = []
    for collection, record_id, doc in bind.execute(query):
        refs = (json.loads(doc).get(PARTS[collection]) or {}).get("attachments") or []
        shas = {
            r["sha256"]
            for r in refs
            if isinstance(r, dict) and r.get("pii") is True and isinstance(r.get("sha256"), str)
        }
        rows += [
            {"collection": collection, "record_id": record_id, "sha256": s, "marked_ms": now}
            for s in sorted(shas)
        ]
    if rows:
        op.bulk_insert(mark, rows)


def downgrade() -> None:
    op.drop_table("attachment_mark")
