"""Alembic migrations of the SQL store (run from code by ``sync.store.schema``; no alembic.ini).

``versions/`` holds one file per revision, ids ``NNNN_name`` in order. A table added to
``sync/store/sql_tables.py`` needs a revision here too: ``ronda db revision "what changed"``
writes a draft, and ``tests/sync/test_migrations.py`` fails until migrations and models agree.
"""
