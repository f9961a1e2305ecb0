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
from sync.attachments.index import AttachmentIndex, as_marked, marked
from sync.clock import now_ms
from sync.store import sql_tables as t
from sync.store.sql import SQLStore
from sync.store.sql_rows import dialect_insert

# A marked reference as it reads in a stored document (compact JSON, written by the server):
# only attachment references have a "pii" key inside an incident's document.
PII_MARK = '"pii":true'
HASHES_PER_QUERY = 50  # each is a LIKE over the documents


def attachment_refs(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachment references of these incident fields."""
    refs = fields.get("attachments")
    if not isinstance(refs, list):
        return []
    return [ref for ref in refs if isinstance(ref, dict) and isinstance(ref.get("sha256"), str)]


def pii_refs(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachment references these incident fields mark as personal data."""
    return [ref for ref in attachment_refs(fields) if ref.get("pii") is True]


def pii_shas(fields: dict[str, Any]) -> list[str]:
    return [str(ref["sha256"]) for ref in pii_refs(fields)]


def marked_fields(fields: dict[str, Any], marked: set[str]) -> dict[str, Any]:
    """The fields with every file a record ever marked as personal data (``marked``, from
    ``attachment_mark``) marked, whatever the reference says now (docs/attachments.md, "The
    pii mark")."""
    refs = fields.get("attachments")
    if not marked or not isinstance(refs, list):
        return fields
    out = [as_marked(ref, marked) if isinstance(ref, dict) else ref for ref in refs]
    return {**fields, "attachments": out}


async def with_marks(store: SQLStore, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each incident's ``fields`` through ``marked_fields``, one read for them all."""
    named = {str(ref["sha256"]) for f in fields for ref in attachment_refs(f)}
    found = await marked(store.engine, named)
    return [marked_fields(f, found) for f in fields]


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
    return set(await namers(store, hashes, leaving))


async def namers(
    store: SQLStore, hashes: Iterable[str], leaving: set[tuple[str, str]]
) -> dict[str, set[tuple[str, str]]]:
    """``named_elsewhere`` with the records (collection, id) naming each."""
    wanted = sorted(set(hashes))
    found: dict[str, set[tuple[str, str]]] = {}
    r = t.record.c
    for start in range(0, len(wanted), HASHES_PER_QUERY):
        part = wanted[start : start + HASHES_PER_QUERY]
        query = select(r.collection, r.id, r.doc).where(or_(*(r.doc.contains(s) for s in part)))
        async with store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for collection, record_id, doc in rows:
            if (collection, record_id) not in leaving:
                for s in part:
                    if s in doc:
                        found.setdefault(s, set()).add((collection, record_id))
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
        kept = await namers(self.store, wanted, leaving)
        await self._mark(kept)
        going = sorted(wanted - set(kept))
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

    async def _mark(self, kept: dict[str, set[tuple[str, str]]]) -> None:
        """A personal file kept because other incidents name it is marked in each of them,
        so that each is read when its own personal data is due, even if it names the file
        unmarked and holds no people (the file goes with the last of them)."""
        rows = [
            {"sha256": sha, "collection": c, "record_id": rid, "marked_ms": now_ms()}
            for sha, records in sorted(kept.items())
            for c, rid in sorted(records)
            if c == "incidents"
        ]
        if rows:
            stmt = dialect_insert(self.store.is_sqlite, t.attachment_mark).values(rows)
            async with self.store.engine.begin() as conn:
                await conn.execute(stmt.on_conflict_do_nothing())
