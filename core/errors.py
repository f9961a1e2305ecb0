"""The base of every error Ronda raises on purpose.

One shape for all of them: a stable machine-readable ``code`` (snake_case), a human
``message`` and a ``details`` dict.  ``sync.errors.SyncError`` and ``geo.errors.GeoError``
subclass it; the server maps every subclass to an HTTP status in one table
(``server/errors.py``) and sends ``{"error": error.as_dict()}``.  This module lives outside
sync and geo because geo never imports sync, and imports nothing of ours so anything may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RondaError(Exception):
    """Base of every project error: ``code``, ``message``, ``details``."""

    code: str = "ronda_error"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # A copy: the caller's mapping may change after the raise (or be shared between errors).
        self.details: dict[str, Any] = dict(details or {})

    def as_dict(self) -> dict[str, Any]:
        """The error as the JSON object the server and the push answer send."""
        return {"code": self.code, "message": self.message, "details": self.details}
