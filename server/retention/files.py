"""Files of removed personal data: the attachments an incident marks ``pii: true`` (a
victim's photo, say) go with its victims, witnesses and suspects (docs/operations.md,
"Retention").

A file is stored once by its SHA-256 and may be named by several records; it is removed
only when no record other than those being erased names it (then it is in use elsewhere and
was sent for that record too). Files go *before* the records' new versions are written: a
run stopped between the two leaves the incidents due, and the next run completes both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from server.attachment_settings import AttachmentSettings
from sync.attachments.blobs import BlobStore
from sync.attachments.index import AttachmentIndex
from sync.store import sql_tables as t
from sync.store.sql import SQLStore

# A marked reference as it reads in a stored document (compact JSON, written by the server):
# only attachment references have a "pii" key inside an incident's document.
PII_MARK = '"pii":true'
HASHES_PER_QUERY = 50  # each is a LIKE over the documents
IDS_PER_QUERY = 500  # well below SQLite's parameter limit


def pii_refs(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachment references these incident fields mark as personal data."""
    refs = fields.get("attachments")
    if not isinstance(refs, list):
        return []
    return [ref for ref in refs if isinstance(ref, dict) and ref.get("pii") is True]


def pii_shas(fields: dict[str, Any]) -> list[str]:
    return [str(ref["sha256"]) for ref in pii_refs(fields)]


def marked_fields(fields: dict[str, Any], marked: set[str]) -> dict[str, Any]:
    """The fields with every file the incident ever marked (``attachment_mark``: ``marked``,
    its hashes) marked as personal data, whatever the reference says now."""
    refs = fields.get("attachments")
    if not marked or not isinstance(refs, list):
        return fields
    out = [
        {**ref, "pii": True} if isinstance(ref, dict) and ref.get("sha256") in marked else ref
        for ref in refs
    ]
    return {**fields, "attachments": out}


async def marks_of(store: SQLStore, ids: Iterable[str]) -> dict[str, set[str]]:
    """The files each of these incidents ever marked as personal data, by incident id."""
    m = t.attachment_mark.c
    wanted = sorted(set(ids))
    out: dict[str, set[str]] = {}
    for start in range(0, len(wanted), IDS_PER_QUERY):
        part = wanted[start : start + IDS_PER_QUERY]
        query = select(m.record_id, m.sha256).where(
            m.collection == "incidents", m.record_id.in_(part)
        )
        async with store.engine.connect() as conn:
            for record_id, sha in (await conn.execute(query)).all():
                out.setdefault(record_id, set()).add(sha)
    return out


def without_pii_files(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with no reference to an attachment marked as personal data."""
    marked = pii_refs(fields)
    if not marked:
        return fields
    return {**fields, "attachments": [ref for ref in fields["attachments"] if ref not in marked]}


async def named_elsewhere(
    store: SQLStore, hashes: Iterable[str], leaving: set[tuple[str, str]]
) -> set[str]:
    """Of ``hashes``, those a record other than ``leaving`` ((collection, id) pairs) names:
    in use there, so kept. A deleted record still counts (its document keeps its
    references), which keeps a file rather than removing one a record may still show."""
    wanted = sorted(set(hashes))
    found: set[str] = set()
    r = t.record.c
    for start in range(0, len(wanted), HASHES_PER_QUERY):
        part = wanted[start : start + HASHES_PER_QUERY]
        query = select(r.collection, r.id, r.doc).where(or_(*(r.doc.contains(s) for s in part)))
        async with store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for collection, record_id, doc in rows:
            if (collection, record_id) not in leaving:
                found.update(s for s in part if s in doc)
    return found


class PiiFiles:
    """Removes files for good: from the blob store (with every copy made of them here) and
    from the attachment index. The blob store is made only when a file is to go."""

    def __init__(self, store: SQLStore, settings: AttachmentSettings) -> None:
        self.store, self.settings = store, settings
        self._blobs: BlobStore | None = None

    def blobs(self) -> BlobStore:
        if self._blobs is None:
            from server.attachment_service import blob_store  # the app's, only when needed

            self._blobs = blob_store(self.settings, Path(self.settings.dir))
        return self._blobs

    async def remove(self, hashes: Iterable[str], leaving: set[tuple[str, str]]) -> int:
        """Remove the files of ``hashes`` that no record but ``leaving`` names; how many
        were stored. Safe to repeat: a file already gone is skipped."""
        wanted = set(hashes)
        if not wanted:
            return 0
        going = sorted(wanted - await named_elsewhere(self.store, wanted, leaving))
        if not going:
            return 0
        blobs = self.blobs()
        removed = 0
        for sha in going:
            removed += await asyncio.to_thread(blobs.remove, sha)
        # The index last: a stop before it leaves rows of files that are gone, which readers
        # answer as not received, and the next run removes.
        await AttachmentIndex(self.store.engine).forget(going)
        return removed
