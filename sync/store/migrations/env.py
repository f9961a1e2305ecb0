"""Alembic's environment: runs the migrations on the connection ``sync.store.schema`` passes in.

Ronda never runs this through the ``alembic`` command with a URL: the store opens the database
(with its SQLite pragmas), takes the schema lock and hands its connection over in
``config.attributes["connection"]``, inside a transaction it commits itself.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlmodel.sql.sqltypes import AutoString

# The store's module, not only sql_tables: every table it uses is then in the metadata.
import sync.store.sql  # noqa: F401
from sync.store.sql_tables import metadata


def render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    """Drafts say ``sa.String()`` for SQLModel's str columns (the same type, no sqlmodel import)."""
    if kind == "type" and isinstance(obj, AutoString):
        return "sa.String()"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `ronda db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table by copying it: autogenerate writes batch operations for that.
    render_as_batch=True,
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
