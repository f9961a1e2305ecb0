"""Retention and archival: what old data goes, where it is archived first, and the command
that enforces it (``ronda retention``; docs/operations.md, "Retention")."""
