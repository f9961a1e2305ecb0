"""The reference client's attachments: a durable queue of files to upload, and a tus uploader.

A file is queued when it is attached (``add`` hashes it and gives the reference to put in the
record); it is uploaded after its record's push was acknowledged (the server refuses a hash no
record names), in chunks, resumably: the upload's URL is kept in the queue as soon as the
server gives it, so a restart, a cut connection or a dead battery resumes where the server's
offset says (HEAD), re-sending at most the chunk that was in flight. docs/attachments.md,
"Client flow".
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from sync.attachments.blobs import file_sha256
from sync.attachments.sniff import SNIFF_BYTES, sniff
from sync.errors import SyncError

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK_BYTES = 1024 * 1024
LIMA = timezone(timedelta(hours=-5))


class AttachmentRefused(SyncError):
    """The file cannot be attached (a media type attachments may not have)."""

    code = "attachment_type_refused"


@dataclass(slots=True)
class Queued:
    sha256: str
    collection: str
    record_id: str
    path: str
    size: int
    location: str | None


@dataclass(slots=True)
class UploadReport:
    uploaded: int = 0
    waiting: int = 0  # the record is not on the server yet, or the network is down
    bytes_sent: int = 0


class AttachmentQueue:
    """Files waiting to upload, in their own SQLite file (survives restarts)."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS attachment_queue (sha256 TEXT, collection TEXT,"
            " record_id TEXT, path TEXT, size INTEGER, location TEXT, done INTEGER DEFAULT 0,"
            " PRIMARY KEY (sha256, collection, record_id))"
        )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def add(
        self, collection: str, record_id: str, path: str | Path, pii: bool = False
    ) -> dict[str, Any]:
        """Queue a file; the attachment reference to put in the record."""
        with open(path, "rb") as f:
            media_type = sniff(f.read(SNIFF_BYTES))
        if media_type is None:
            raise AttachmentRefused("the file is none of the media types attachments may have")
        size = Path(path).stat().st_size
        sha = file_sha256(Path(path))
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO attachment_queue (sha256, collection, record_id, path, size)"
                " VALUES (?, ?, ?, ?, ?)",
                (sha, collection, record_id, str(path), size),
            )
        captured = datetime.now(LIMA).replace(microsecond=0).isoformat()
        ref: dict[str, Any] = {
            "sha256": sha,
            "media_type": media_type,
            "size": size,
            "captured_at": captured,
        }
        if pii:
            ref["pii"] = True
        return ref

    def pending(self) -> list[Queued]:
        rows = self.db.execute(
            "SELECT sha256, collection, record_id, path, size, location FROM attachment_queue"
            " WHERE done = 0 ORDER BY rowid"
        ).fetchall()
        return [Queued(*row) for row in rows]

    def set_location(self, item: Queued, location: str | None) -> None:
        item.location = location
        with self._tx() as db:
            db.execute(
                "UPDATE attachment_queue SET location = ? WHERE sha256 = ? AND collection = ?"
                " AND record_id = ?",
                (location, item.sha256, item.collection, item.record_id),
            )

    def done(self, item: Queued) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE attachment_queue SET done = 1 WHERE sha256 = ? AND collection = ?"
                " AND record_id = ?",
                (item.sha256, item.collection, item.record_id),
            )


def _metadata(item: Queued) -> str:
    values = {
        "sha256": item.sha256,
        "collection": item.collection,
        "record_id": item.record_id,
        "filename": Path(item.path).name,
    }
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class TusUploader:
    """Uploads the queue over one httpx client with the device token."""

    def __init__(self, http: httpx.AsyncClient, token: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.http, self.chunk_bytes = http, chunk_bytes
        self.auth = {"Authorization": f"Bearer {token}", **TUS}

    async def upload_pending(self, queue: AttachmentQueue) -> UploadReport:
        """Try every queued file once; what did not finish stays queued for the next call."""
        report = UploadReport()
        for item in queue.pending():
            try:
                finished = await self._upload(queue, item, report)
            except httpx.TransportError:
                finished = False
            if finished:
                queue.done(item)
                report.uploaded += 1
            else:
                report.waiting += 1
        return report

    async def _offset(self, queue: AttachmentQueue, item: Queued) -> int | None:
        """Where the server's copy ends, creating the upload if needed; None: not yet."""
        if item.location is not None:
            head = await self.http.head(item.location, headers=self.auth)
            if head.status_code == 200:
                return int(head.headers["upload-offset"])
            queue.set_location(item, None)  # expired or removed: start again
        headers = {**self.auth, "Upload-Length": str(item.size), "Upload-Metadata": _metadata(item)}
        created = await self.http.post("/v1/uploads", headers=headers)
        if created.status_code in (404, 429, 503):
            return None  # record not pushed yet, daily cap, or server busy: later
        if created.status_code != 201:
            raise SyncError(f"the server refused the upload ({created.status_code})")
        queue.set_location(item, created.headers["location"])
        return int(created.headers.get("upload-offset", "0"))

    async def _upload(self, queue: AttachmentQueue, item: Queued, report: UploadReport) -> bool:
        offset = await self._offset(queue, item)
        if offset is None:
            return False
        assert item.location is not None
        with open(item.path, "rb") as f:
            while offset < item.size:
                f.seek(offset)
                chunk = f.read(self.chunk_bytes)
                headers = {
                    **self.auth,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Checksum": "sha256 "
                    + base64.b64encode(hashlib.sha256(chunk).digest()).decode(),
                }
                report.bytes_sent += len(chunk)
                answer = await self.http.patch(item.location, content=chunk, headers=headers)
                if answer.status_code == 204:
                    offset = int(answer.headers["upload-offset"])
                elif answer.status_code in (409, 423, 460):
                    again = await self._offset(queue, item)
                    if again is None:
                        return False
                    offset = again
                else:
                    raise SyncError(f"the server refused a chunk ({answer.status_code})")
        return True
