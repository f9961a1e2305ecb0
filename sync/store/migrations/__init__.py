"""Alembic migrations of the SQL store (run from code by ``sync.store.schema``; no alembic.ini).

``versions/`` holds one file per revision, named after its id ``NNNN_name``, each revising the
one before (a test checks the line). A change to ``sync/store/sql_tables.py`` needs a revision:

- ``ronda db revision "what changed"`` drafts the next one from the models (review it);
- a column changed on an existing table goes through ``op.batch_alter_table`` (SQLite can
  only alter a table by copying it; on PostgreSQL the batch is plain ALTER statements);
- a new table of this wave checks ``helpers.table_exists`` first (see there why);
- ``tests/sync/test_migrations.py`` fails until the migrations give exactly the models.
"""
