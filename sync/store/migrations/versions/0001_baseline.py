"""Baseline: the schema of commit 34ec50d, the last one before migrations.

It also adopts a database made before migrations existed (no ``alembic_version`` table).
Those were kept current by ``create_all`` on every open, so such a database may lack the
tables added after it was made; it may also have indexes of an older shape, which no open
ever rebuilt except the chain index. So this revision creates whatever table of the baseline
is missing and rebuilds every baseline index whose columns or partial-ness differ (the chain
index before b4f0c94 covered every record; the point indexes before 0a7eac8 were narrower, and
``ix_point_cell`` went away). On an empty database it simply creates the baseline.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

# Indexes that older databases have and the baseline no longer defines.
STALE_INDEXES = {"incident_point": ("ix_point_cell",)}


def upgrade() -> None:
    bind = op.get_bind()
    tables = baseline_tables()
    existing = set(sa.inspect(bind).get_table_names())
    tables.create_all(bind, checkfirst=True)
    for table in tables.sorted_tables:
        if table.name in existing:
            align_indexes(bind, table)


def downgrade() -> None:
    bind = op.get_bind()
    baseline_tables().drop_all(bind, checkfirst=True)


def align_indexes(bind: sa.Connection, table: sa.Table) -> None:
    """Rebuild the indexes of an existing ``table`` that differ from the baseline's."""
    found = {ix["name"]: ix for ix in sa.inspect(bind).get_indexes(table.name)}
    for index in table.indexes:
        assert index.name is not None
        have = found.get(index.name)
        wanted = [column.name for column in index.columns]
        partial = index.dialect_options[bind.dialect.name]["where"] is not None
        if have and have["column_names"] == wanted and is_partial(bind, index.name) == partial:
            continue
        if have:
            op.drop_index(index.name, table_name=table.name)
        index.create(bind)
    for name in STALE_INDEXES.get(table.name, ()):
        if name in found:
            op.drop_index(name, table_name=table.name)


def is_partial(bind: sa.Connection, name: str) -> bool:
    if bind.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    else:
        query = (
            "SELECT indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND indexname = :name"
        )
    definition = bind.execute(sa.text(query), {"name": name}).scalar_one_or_none()
    return definition is not None and " WHERE " in definition.upper()


def baseline_tables() -> sa.MetaData:
    """The tables of 34ec50d's ``sql_tables.py``, frozen here (the models move on)."""
    m = sa.MetaData()
    string, big, text = sa.String, sa.BigInteger, sa.Text
    sa.Table(
        "station",
        m,
        sa.Column("id", string(), primary_key=True),
        sa.Column("name", string(), nullable=False),
        sa.Column("district_code", string(), nullable=True),
    )
    sa.Table(
        "officer",
        m,
        sa.Column("id", string(), primary_key=True),
        sa.Column("name", string(), nullable=False),
        sa.Column("role", string(), nullable=False),
        sa.Column("station_id", string(), nullable=True),
        sa.Index("ix_officer_station_id", "station_id"),
    )
    sa.Table(
        "device",
        m,
        sa.Column("id", string(), primary_key=True),
        sa.Column("officer_id", string(), nullable=False),
        sa.Column("name", string(), nullable=False),
        sa.Column("token_hash", string(), nullable=False),
        sa.Column("created_ms", big(), nullable=False),
        sa.Column("revoked_ms", big(), nullable=True),
        sa.UniqueConstraint("token_hash"),
        sa.Index("ix_device_officer_id", "officer_id"),
    )
    sa.Table(
        "enrollment",
        m,
        sa.Column("code_hash", string(), primary_key=True),
        sa.Column("officer_id", string(), nullable=False),
        sa.Column("expires_ms", big(), nullable=False),
        sa.Column("created_by", string(), nullable=False),
        sa.Column("used_ms", big(), nullable=True),
        sa.Column("device_id", string(), nullable=True),
    )
    sa.Table(
        "record",
        m,
        sa.Column("collection", string(), primary_key=True),
        sa.Column("id", string(), primary_key=True),
        sa.Column("station_id", string(), nullable=False),
        sa.Column("seq", big(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("doc", text(), nullable=False),
        sa.Column("clocks", text(), nullable=False),
        sa.Column("pii", text(), nullable=True),
        sa.Column("author_officer", string(), nullable=False),
        sa.Column("author_device", string(), nullable=False),
        sa.Column("chain_n", big(), nullable=True),
        sa.Column("updated_ms", big(), nullable=False),
        sa.UniqueConstraint("seq"),
        sa.Index("ix_record_station_seq", "station_id", "seq"),
        sa.Index(
            "ix_record_chain",
            "author_device",
            "chain_n",
            sqlite_where=sa.text("chain_n IS NOT NULL"),
            postgresql_where=sa.text("chain_n IS NOT NULL"),
        ),
    )
    sa.Table(
        "conflict",
        m,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("station_id", string(), nullable=False),
        sa.Column("collection", string(), nullable=False),
        sa.Column("record_id", string(), nullable=False),
        sa.Column("field", string(), nullable=False),
        sa.Column("losing_value", text(), nullable=False),
        sa.Column("losing_hlc", string(), nullable=False),
        sa.Column("losing_device", string(), nullable=False),
        sa.Column("winning_hlc", string(), nullable=False),
        sa.Column("winning_device", string(), nullable=False),
        sa.Column("seq", big(), nullable=False),
        sa.Column("created_ms", big(), nullable=False),
        sa.UniqueConstraint("collection", "record_id", "field", "losing_hlc", "losing_device"),
        sa.Index("ix_conflict_station", "station_id", "id"),
    )
    sa.Table(
        "chain_head",
        m,
        sa.Column("device_id", string(), primary_key=True),
        sa.Column("n", big(), nullable=False),
        sa.Column("hash", string(), nullable=False),
    )
    sa.Table(
        "batch_answer",
        m,
        sa.Column("device_id", string(), primary_key=True),
        sa.Column("batch_id", string(), primary_key=True),
        sa.Column("request_hash", string(), nullable=False),
        sa.Column("answer", sa.LargeBinary(), nullable=False),
        sa.Column("created_ms", big(), nullable=False),
        sa.Index("ix_batch_answer_created", "created_ms"),
    )
    sa.Table(
        "boundary",
        m,
        sa.Column("layer", string(), primary_key=True),
        sa.Column("code", string(), primary_key=True),
        sa.Column("name", string(), nullable=False),
        sa.Column("props", text(), nullable=False),
        sa.Column("geometry", sa.LargeBinary(), nullable=False),
    )
    sa.Table(
        "incident_point",
        m,
        sa.Column("id", string(), primary_key=True),
        sa.Column("station_id", string(), nullable=False),
        sa.Column("category", string(), nullable=False),
        sa.Column("occurred_s", big(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("district", string(), nullable=True),
        sa.Column("sector", string(), nullable=True),
        sa.Column("cell", big(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("seq", big(), nullable=False),
        sa.Index(
            "ix_point_station_time", "station_id", "occurred_s", "cell", "deleted", "category"
        ),
        sa.Index("ix_point_time", "occurred_s", "cell", "deleted", "category", "station_id"),
    )
    sa.Table(
        "track_point",
        m,
        sa.Column("entry_id", string(), primary_key=True),
        sa.Column("device_id", string(), nullable=False),
        sa.Column("officer_id", string(), nullable=False),
        sa.Column("station_id", string(), nullable=False),
        sa.Column("at_s", big(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Index("ix_track_station_time", "station_id", "at_s"),
        sa.Index("ix_track_device_time", "device_id", "at_s"),
    )
    sa.Table(
        "credential",
        m,
        sa.Column("officer_id", string(), primary_key=True),
        sa.Column("password_hash", string(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("locked_until_ms", big(), nullable=False),
    )
    sa.Table(
        "web_session",
        m,
        sa.Column("token_hash", string(), primary_key=True),
        sa.Column("officer_id", string(), nullable=False),
        sa.Column("csrf", string(), nullable=False),
        sa.Column("expires_ms", big(), nullable=False),
        sa.Index("ix_web_session_officer_id", "officer_id"),
    )
    sa.Table(
        "audit",
        m,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at_ms", big(), nullable=False),
        sa.Column("officer_id", string(), nullable=False),
        sa.Column("action", string(), nullable=False),
        sa.Column("target", string(), nullable=False),
        sa.Column("details", text(), nullable=False),
        sa.Index("ix_audit_officer_id", "officer_id"),
    )
    sa.Table(
        "counter",
        m,
        sa.Column("name", string(), primary_key=True),
        sa.Column("value", big(), nullable=False),
    )
    return m
