"""The attachment parts one server uses (blob store, partial uploads, index), built once."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
from starlette.requests import Request

from server.attachment_settings import AttachmentSettings
from server.context import ctx
from sync.attachments.blobs import BlobStore, FileBlobStore
from sync.attachments.index import AttachmentIndex, SQLiteAccess, as_marked
from sync.attachments.s3 import S3BlobStore, make_client
from sync.attachments.uploads import UploadStore
from sync.errors import NotFound
from sync.store.records import StoredRecord

CLEAN_EVERY_S = 600.0  # expired partial uploads are swept at most this often per process
# File work (writes, fsyncs, hashing) runs in its own threads: in asyncio's default pool (6
# threads on 2 cores) 16 uploads' fsyncs queued every other upload's writes behind them.
FILE_THREADS = 32
T = TypeVar("T")


@dataclass(slots=True)
class AttachmentService:
    settings: AttachmentSettings
    blobs: BlobStore
    uploads: UploadStore
    index: AttachmentIndex
    last_clean: float = field(default=0.0)
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(FILE_THREADS, thread_name_prefix="attachments")
    )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the attachment threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args))

    def close(self) -> None:
        self.index.close()
        self.pool.shutdown(wait=True)

    async def clean_if_due(self) -> None:
        """Remove expired partial uploads (called on upload creation, not on a timer)."""
        if time.monotonic() - self.last_clean < CLEAN_EVERY_S:
            return
        self.last_clean = time.monotonic()
        await self.run(self.uploads.clean_expired)


def service(request: Request) -> AttachmentService:
    found: AttachmentService | None = getattr(request.app.state, "attachments", None)
    if found is None:
        c = ctx(request)
        root = Path(c.settings.attachments.dir)
        engine = c.store.engine  # type: ignore[attr-defined]  # the SQL store's
        fast = sqlite_access(c.store, engine, c.settings.database.sqlite_synchronous)
        found = AttachmentService(
            c.settings.attachments, blob_store(c.settings.attachments, root), UploadStore(root),
            AttachmentIndex(engine, fast),
        )  # fmt: skip
        request.app.state.attachments = found
    return found


def sqlite_access(store: object, engine: Any, synchronous: str) -> SQLiteAccess | None:
    """Plain connections to the attachment table when the store is SQLite (see
    sync/attachments/index.py); commits tell the store's WAL checkpointer, which the SQLite
    store runs (``wal_autocheckpoint`` is off: nobody else would checkpoint the log)."""
    checkpointer = getattr(store, "_checkpointer", None)
    if engine.dialect.name != "sqlite" or checkpointer is None:
        return None
    return SQLiteAccess(str(engine.url.database), synchronous, checkpointer.wrote)


def blob_store(settings: AttachmentSettings, root: Path) -> BlobStore:
    """The configured blob store (``RONDA_ATTACHMENTS__STORE``)."""
    if settings.store == "s3":
        if not settings.s3_bucket:
            raise ValueError("RONDA_ATTACHMENTS__S3_BUCKET is required with store s3")
        client = make_client(settings.s3_endpoint_url, settings.s3_region)
        return S3BlobStore(
            root, client, settings.s3_bucket, settings.s3_prefix, settings.s3_part_bytes,
            settings.s3_cache_max_bytes,
        )  # fmt: skip
    return FileBlobStore(root)


def refs_of(record: StoredRecord) -> list[dict[str, Any]]:
    """The attachment references a record holds now (incident fields or log-entry body)."""
    part = record.doc.get("fields" if record.collection == "incidents" else "body") or {}
    refs = part.get("attachments") or []
    return list(refs)


def ref_in(record: StoredRecord, sha256: str) -> dict[str, Any]:
    for ref in refs_of(record):
        if ref.get("sha256") == sha256:
            return ref
    raise NotFound("this record has no attachment with that sha256", {"sha256": sha256})


async def marked_refs(index: AttachmentIndex, record: StoredRecord) -> list[dict[str, Any]]:
    """``refs_of`` with each ``pii`` as the server applies it (``as_marked``)."""
    refs = refs_of(record)
    if not refs:
        return refs
    marked = await index.marked(str(ref["sha256"]) for ref in refs)
    return [as_marked(ref, marked) for ref in refs]


async def marked_ref(index: AttachmentIndex, record: StoredRecord, sha256: str) -> dict[str, Any]:
    """``ref_in`` with ``pii`` as the server applies it (``as_marked``)."""
    return as_marked(ref_in(record, sha256), await index.marked([sha256]))


async def attachment_report(request: Request, entries: list[StoredRecord]) -> dict[str, Any]:
    """The attachments of these patrol-log entries, each blob hashed again in full: which
    are ``tampered`` (now quarantined), which were received but are gone from the blob store
    (``missing``: the index holds them, the store does not) and which have not arrived yet
    (``pending``)."""
    named = [
        (entry.collection, entry.id, entry.author_officer, ref["sha256"])
        for entry in entries
        for ref in refs_of(entry)
    ]
    hashes = [sha for *_, sha in named]
    if not hashes:  # no blob store is touched (or made) for a chain without attachments
        return {"checked": 0, "tampered": [], "missing": [], "pending": []}
    svc = service(request)
    held = await svc.index.held_by_hash(named)
    tampered, missing, pending = [], [], []
    for sha in dict.fromkeys(hashes):  # each blob once, in chain order
        meta = held.get(sha)
        if meta is None:
            pending.append(sha)
        elif meta.quarantined_ms is not None:
            tampered.append(sha)
        elif (intact := await svc.run(svc.blobs.verify, sha)) is None:
            missing.append(sha)  # received once, the store has no such blob now
        elif not intact:
            await svc.index.quarantined(sha, int(time.time() * 1000))
            tampered.append(sha)
    return {
        "checked": len(dict.fromkeys(hashes)),
        "tampered": tampered,
        "missing": missing,
        "pending": pending,
    }


async def with_received(request: Request, page: bytes) -> bytes:
    """A pull page with ``attachments``: for each hash its records name, whether the file has
    arrived (and its sniffed type). Pages naming no attachment are returned untouched (one
    substring search)."""
    if b'"attachments"' not in page or not page.endswith(b"}"):
        return page
    named = []
    for change in orjson.loads(page)["changes"]:
        collection = change.get("collection")
        part = change.get("fields" if collection == "incidents" else "body") or {}
        for ref in part.get("attachments") or []:
            named.append((collection, change.get("id"), change.get("author"), ref["sha256"]))
    if not named:
        return page
    held = await service(request).index.held_by_hash(named)  # the protocol's is by hash
    status = {}
    for sha in dict.fromkeys(sha for *_, sha in named):
        meta = held.get(sha)
        ok = meta is not None and meta.quarantined_ms is None
        status[sha] = {"received": ok, "media_type": meta.media_type if ok and meta else None}
    return page[:-1] + b',"attachments":' + orjson.dumps(status) + b"}"
