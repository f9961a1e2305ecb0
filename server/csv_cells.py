"""CSV cells that a spreadsheet shows as text, never runs.

Street, sector and place names come from imports anyone can edit upstream (OpenStreetMap), and
a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one) is a
formula to Excel and LibreOffice: ``=HYPERLINK(...)`` in a chief's CompStat sheet. OWASP's
advice: lead such text with an apostrophe. Numbers are left alone (a negative change is a number).
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
