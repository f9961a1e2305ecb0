"""Resumable uploads of attachments: tus 1.0.0 (core, creation, creation-with-upload,
termination, checksum with sha256, expiration). docs/attachments.md describes the flow.

A blob may be uploaded only for a record that already names it (push the record first),
by a writing device of the record's station; bytes the server already holds are not sent
again (creation answers with the upload complete).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import weakref
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from server.attachment_service import AttachmentService, ref_in, service
from server.auth import authenticate
from server.context import ctx
from server.errors import (
    ChecksumMismatch,
    HashMismatch,
    MediaTypeRefused,
    OffsetMismatch,
    QuotaExceeded,
    UploadExpired,
)
from server.routes.tus import (
    EXTENSIONS,
    OFFSET_TYPE,
    TUS_VERSION,
    byte_count,
    expires,
    parse_metadata,
    tus,
    tus_headers,
    upload_checksum,
    upload_length,
)
from server.routes.upload_body import Reading, Stopped, body, watch_stop
from sync.attachments.blobs import BlobMissing, file_sha256
from sync.attachments.index import AttachmentMeta, delivered
from sync.attachments.part_write import write_all, write_last
from sync.attachments.sniff import SNIFF_BYTES, sniff
from sync.attachments.uploads import UploadInfo, UploadLocked
from sync.clock import now_ms
from sync.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from sync.store.records import Identity, StoredRecord

WRITE_BLOCK = 1024 * 1024  # bytes gathered before one write to the part file
# A request that finds another writing the same upload asks it to stop and waits this long for
# it (its client is gone: the writer only finishes what is still arriving).
WAIT_FOR_WRITER_S = 15.0
WRITER_ROLES = ("officer", "chief")
COLLECTIONS = ("incidents", "patrol_logs", "notices")


async def options(request: Request) -> Response:
    s = service(request).settings
    headers = {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(s.max_file_bytes),
        "Tus-Checksum-Algorithm": "sha256",
    }
    return Response(status_code=204, headers=tus_headers(headers))


async def _writer(request: Request) -> Identity:
    who = await authenticate(request)
    if who.role not in WRITER_ROLES or who.station_id is None:
        raise Forbidden("only officers and chiefs of a station upload evidence", {"role": who.role})
    return who


async def _quota(svc: AttachmentService, who: Identity, length: int, now: int) -> None:
    day_ms = 86_400_000
    since = now - now % day_ms  # the UTC day
    used = await svc.index.bytes_since(who.device_id, since)
    pending = await svc.run(svc.uploads.open_for_device, who.device_id, now)
    used += sum(u.length for u in pending if u.created_ms >= since)
    cap = svc.settings.max_device_bytes_per_day
    if used + length > cap:
        retry = (since + day_ms - now) // 1000 + 1
        raise QuotaExceeded(
            "this device has used its upload allowance for today",
            {"max_device_bytes_per_day": cap, "used": used, "retry_after_s": retry},
        )


# One creation at a time per device in this process; the lock file does it across workers.
_DEVICE_LOCKS: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


@contextlib.asynccontextmanager
async def _reserving(svc: AttachmentService, device_id: str) -> AsyncIterator[None]:
    """The daily cap checked and the upload that counts against it made as one step."""
    lock = _DEVICE_LOCKS.get(device_id)
    if lock is None:
        lock = _DEVICE_LOCKS[device_id] = asyncio.Lock()
    async with lock:
        fd = await svc.run(svc.uploads.lock_device, device_id)
        try:
            yield
        finally:
            svc.uploads.unlock_device(fd)


async def create(request: Request) -> Response:
    svc = service(request)
    who = await _writer(request)
    length = upload_length(request)
    meta = parse_metadata(request.headers.get("upload-metadata", ""))
    sha, collection, record_id = (meta.get(k, "") for k in ("sha256", "collection", "record_id"))
    if collection not in COLLECTIONS or not record_id or len(sha) != 64:
        raise InvalidRequest(
            "Upload-Metadata must carry sha256, collection and record_id",
            {"required": ["sha256", "collection", "record_id"]},
        )
    fast = svc.index.sqlite
    if fast is not None:  # SQLite: an index lookup on the event loop
        record = fast.record(collection, record_id)
    else:
        record = await ctx(request).store.record(collection, record_id)
    if record is None or record.deleted:
        raise NotFound("push the record before its attachments", {"record_id": record_id})
    if record.station_id != who.station_id:
        raise Forbidden("the record belongs to another station", {"record_id": record_id})
    if collection == "notices" and record.author_officer != who.officer_id:
        # A notice's photo is served only as its poster's upload (see routes/attachments.py).
        raise Forbidden("only the notice's poster uploads its photo", {"record_id": record_id})
    ref = ref_in(record, sha)
    if length > svc.settings.max_file_bytes:
        raise PayloadTooLarge(
            "the attachment is larger than the server takes",
            {"max_file_bytes": svc.settings.max_file_bytes, "length": length},
        )
    if length != ref["size"]:
        raise InvalidRequest(
            "Upload-Length must be the size the record declares", {"size": ref["size"]}
        )
    now = now_ms()
    done = await _held_for(svc, who, record, sha, now)
    expiry_ms = int(svc.settings.upload_expiry_hours * 3_600_000)
    info = UploadInfo(
        "", length, sha, collection, record_id, who.device_id, who.officer_id,
        record.station_id, now, now + expiry_ms, meta.get("filename", "")[:200],
        str(ref["media_type"]), done,
    )  # fmt: skip
    if done:
        info = await svc.run(svc.uploads.create, info)
    else:
        await svc.clean_if_due()
        async with _reserving(svc, who.device_id):
            await _quota(svc, who, length, now)
            info = await svc.run(svc.uploads.create, info)
    location = str(request.url_for("upload", upload_id=info.id))
    headers = {"Location": location, "Upload-Expires": expires(info.expires_ms)}
    if done:
        headers["Upload-Offset"] = str(length)
    elif request.headers.get("content-type") == OFFSET_TYPE:  # creation-with-upload
        offset = await _append(request, svc, info, 0)
        headers["Upload-Offset"] = str(offset)
    return Response(status_code=201, headers=tus_headers(headers))


async def _held_for(
    svc: AttachmentService, who: Identity, record: StoredRecord, sha: str, now: int
) -> bool:
    """Whether the server holds these bytes for this record already, so none are sent.

    Held for it: sent for it before, or sent by its author (``index.delivered``), or sent by
    this very officer before (who then has them: the record is bound to them now). Bytes
    the server holds but this caller never proved to have are asked for in full: knowing a
    hash (every officer of a station sees them in a pull) is not having the file."""
    held = await svc.index.get(sha)
    if held is None or held.quarantined_ms is not None:
        return False
    bound = (record.collection, record.id, sha) in await svc.index.uses([sha])
    mine = held.officer_id == who.officer_id
    if not (mine or delivered(held, record.collection, record.author_officer, bound)):
        return False
    if await svc.run(svc.blobs.stat, sha) is None:  # in a thread: S3 is a request
        return False
    if not bound:
        await svc.index.bind(sha, record.collection, record.id, who.officer_id, now)
    return True


async def _own_upload(request: Request, svc: AttachmentService) -> tuple[UploadInfo, Identity]:
    who = await authenticate(request)
    info = svc.uploads.get(request.path_params["upload_id"])
    if info is None or info.device_id != who.device_id:
        raise NotFound("no such upload", {})
    if not info.done and info.expires_ms <= now_ms():
        await svc.run(svc.uploads.delete, info.id)
        raise UploadExpired("the upload expired; create it again", {})
    return info, who


async def _writer_gone(svc: AttachmentService, info: UploadInfo) -> bool:
    """If a request is still writing this upload, ask it to stop and wait for it: True once
    nobody writes. That request's client has gone (this device is asking again), so what it
    still receives is kept and the offset answered after it is the cut point."""
    # ``idle`` is an open and a non-blocking flock: on the event loop, not worth a thread hop.
    if svc.uploads.idle(info):
        return True
    await svc.run(svc.uploads.request_stop, info.id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_WRITER_S
    while loop.time() < deadline:
        await asyncio.sleep(0.02)
        if svc.uploads.idle(info):
            return True
    return False


async def head(request: Request) -> Response:
    svc = service(request)
    info, _ = await _own_upload(request, svc)
    await _writer_gone(svc, info)  # still busy after the wait: answer what is on disk
    offset = await svc.run(svc.uploads.offset, info)
    if offset == info.length and not info.done:
        await _finish_stalled(svc, info)
    headers = {
        "Upload-Offset": str(offset),
        "Upload-Length": str(info.length),
        "Upload-Expires": expires(info.expires_ms),
    }
    return Response(status_code=200, headers=tus_headers(headers))


async def patch(request: Request) -> Response:
    svc = service(request)
    info, _ = await _own_upload(request, svc)
    if request.headers.get("content-type") != OFFSET_TYPE:
        raise UnsupportedMediaType(f"PATCH bodies are {OFFSET_TYPE}", {})
    start = byte_count(request.headers.get("upload-offset", ""), "Upload-Offset")
    try:  # the lock is tried first: another writer is the rare case
        offset = await _append(request, svc, info, start)
    except UploadLocked:
        if not await _writer_gone(svc, info):
            raise
        offset = await _append(request, svc, info, start)  # 423 if it is taken again
    headers = {"Upload-Offset": str(offset), "Upload-Expires": expires(info.expires_ms)}
    return Response(status_code=204, headers=tus_headers(headers))


async def delete(request: Request) -> Response:
    svc = service(request)
    info, _ = await _own_upload(request, svc)
    await svc.run(svc.uploads.delete, info.id)
    return Response(status_code=204, headers=tus_headers())


async def _append(request: Request, svc: AttachmentService, info: UploadInfo, start: int) -> int:
    """Write the request body at ``start``; the offset after it (fsynced)."""
    expected = upload_checksum(request)
    if info.done:  # held already, or finished: nothing more to take
        raise OffsetMismatch("the upload is complete", {"offset": info.length})
    with svc.uploads.writing(info) as fd:
        current = os.fstat(fd).st_size
        if start != current:
            raise OffsetMismatch("Upload-Offset is not the upload's offset", {"offset": current})
        digest = hashlib.sha256() if expected is not None else None
        whole = hashlib.sha256() if start == 0 else None  # the whole file in one PATCH: no re-read
        hashes = tuple(h for h in (whole, digest) if h is not None)
        written, pending, size = 0, [], 0
        reading = Reading()
        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.create_task(watch_stop(task, svc.uploads, info.id, reading))
        try:
            async for chunk in body(request, reading):
                if start + written + size + len(chunk) > info.length:
                    raise InvalidRequest(
                        "the body goes past Upload-Length", {"length": info.length}
                    )
                pending.append(chunk)
                size += len(chunk)
                if size >= WRITE_BLOCK:
                    written += await svc.run(write_all, fd, pending, hashes)
                    pending, size = [], 0
        except (ClientDisconnect, Stopped):
            whole = None
            if digest is not None:  # unverifiable: the checksummed chunk is dropped whole
                written, pending = 0, []
                os.ftruncate(fd, start)
        except InvalidRequest:
            os.ftruncate(fd, start)
            os.fsync(fd)
            raise
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        if digest is None:  # nothing to check first: the last block and the fsync in one go
            written += await svc.run(write_last, fd, pending, hashes)
        else:
            if pending:
                written += await svc.run(write_all, fd, pending, hashes)
            if written and digest.digest() != expected:
                os.ftruncate(fd, start)
                os.fsync(fd)
                raise ChecksumMismatch(
                    "the chunk does not match Upload-Checksum", {"offset": start}
                )
            await svc.run(os.fsync, fd)
        offset = start + written
        info.expires_ms = now_ms() + int(svc.settings.upload_expiry_hours * 3_600_000)
        # Still holding the upload: a HEAD that finishes a stalled upload waits for this.
        if offset == info.length:
            await _finish(svc, info, whole.hexdigest() if whole is not None else None)
        else:
            await svc.run(svc.uploads.mark_touched, info)
    return offset


async def _finish_stalled(svc: AttachmentService, info: UploadInfo) -> None:
    """An upload whose bytes all arrived but whose finish failed is finished by the next
    HEAD, before it answers the full offset: otherwise the client, seeing every byte
    acknowledged, would drop its copy while the blob never reached the store (the S3 store
    did not answer: 503 to that PATCH) or while the index has no row for it (the database
    failed after the blob went into the store, or the server died there: the part file is
    gone, so the offset reads complete). Its error (503 again, say) is the HEAD's answer."""
    part = svc.uploads.part(info.id)
    if not part.exists():
        await _index_stored(svc, info)
        return
    try:
        with svc.uploads.writing(info):  # another request is finishing it: nothing to do
            if part.exists():
                await _finish(svc, info, None)
    except UploadLocked:
        pass


async def _index_stored(svc: AttachmentService, info: UploadInfo) -> None:
    """The part file went into the store but the upload is not marked done: add the index
    row from the stored blob (its media type sniffed again), then mark it done."""
    if await svc.index.get(info.sha256) is None:
        try:
            media_type = await svc.run(_sniff_stored, svc, info.sha256)
        except BlobMissing as exc:  # neither part nor blob: nothing of it is left
            await svc.run(svc.uploads.delete, info.id)
            raise UploadExpired("the upload was lost; create it again", {}) from exc
        await svc.index.add(_meta(info, media_type))
    await _bind(svc, info)
    await svc.run(svc.uploads.mark_done, info)


async def _bind(svc: AttachmentService, info: UploadInfo) -> None:
    """The bytes arrived whole for the upload's record: that record may serve them."""
    await svc.index.bind(info.sha256, info.collection, info.record_id, info.officer_id, now_ms())


def _sniff_stored(svc: AttachmentService, sha256: str) -> str:
    with svc.blobs.open_checked(sha256) as f:
        return sniff(f.read(SNIFF_BYTES)) or "application/octet-stream"


def _meta(info: UploadInfo, media_type: str) -> AttachmentMeta:
    return AttachmentMeta(
        info.sha256, info.length, media_type, info.declared_type, info.device_id,
        info.officer_id, info.station_id, now_ms(),
    )  # fmt: skip


async def _finish(svc: AttachmentService, info: UploadInfo, digest: str | None) -> None:
    """Verify the whole upload, name its media type from its bytes, move it into the store.
    ``digest``: the file's hash if this request saw every byte, else it is read back."""
    media_type = await svc.run(_seal, svc, info, digest)
    # Marked done only once the index has its row: if the row fails, the upload is not
    # done, and the next HEAD adds it (``_finish_stalled``) before answering the offset.
    await svc.index.add(_meta(info, media_type))
    await _bind(svc, info)
    await svc.run(svc.uploads.mark_done, info)


def _seal(svc: AttachmentService, info: UploadInfo, digest: str | None) -> str:
    """The file work of ``_finish`` in one thread call: hash check, sniff, into the store."""
    part = svc.uploads.part(info.id)
    if digest is None:
        digest = file_sha256(part)
    if digest != info.sha256:
        svc.uploads.delete(info.id)
        raise HashMismatch(
            "the uploaded bytes do not hash to the sha256 given; upload again",
            {"sha256": info.sha256},
        )
    with open(part, "rb") as f:
        media_type = sniff(f.read(SNIFF_BYTES))
    if media_type is None:
        svc.uploads.delete(info.id)
        raise MediaTypeRefused("the file is none of the media types attachments may have", {})
    svc.blobs.put_file(info.sha256, part)
    return media_type


routes = [
    Route("/v1/uploads", tus(options), methods=["OPTIONS"]),
    Route("/v1/uploads", tus(create), methods=["POST"]),
    Route("/v1/uploads/{upload_id}", tus(head), methods=["HEAD"], name="upload"),
    Route("/v1/uploads/{upload_id}", tus(patch), methods=["PATCH"]),
    Route("/v1/uploads/{upload_id}", tus(delete), methods=["DELETE"]),
]
