"""An incident's free text kept from the roles that see no personal data.

``fields.description`` is where an officer writes what happened, and it names people as often
as not ("la Sra. Pérez, DNI ..."): the retention policy empties it with the personal data
(``retention.pii_clear_description``), and a conflict over it is shown as personal data. So a
caller whose scope has personal data ``none`` (an analyst) gets incidents without it, in a
pull, a snapshot and the map's detail; the categories, times and places analysis needs stay.
"""

from __future__ import annotations

from typing import Any

import orjson

FREE_TEXT = "description"
_MARK = f'"{FREE_TEXT}"'


def without_free_text(doc: str) -> str:
    """The record document ``doc`` (JSON text) without ``fields.description``."""
    if _MARK not in doc:  # nearly every patrol-log entry, and incidents without one
        return doc
    value = orjson.loads(doc)
    fields = value.get("fields")
    if not isinstance(fields, dict) or FREE_TEXT not in fields:
        return doc
    del fields[FREE_TEXT]
    return orjson.dumps(value).decode()


def fields_without_free_text(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k != FREE_TEXT}
