"""Storage: the port (``base``) and its one adapter (``sql``: SQLite and PostgreSQL)."""
