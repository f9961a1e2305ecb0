"""Helpers of the revisions written while the tree moved to migrations.

Between a table's arrival in ``sql_tables.py`` and its revision, builds of the main branch made
it with ``create_all`` in databases that have no ``alembic_version``. Such a database is adopted
by ``0001_baseline`` and then replays the later revisions: a revision of that time skips a table
that is already there (same models, same definition) instead of failing the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def table_exists(name: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(name)
