"""Reading attachments: a record's list with what has arrived, downloads (Range, ETag) and
thumbnails, with exactly the record's scope and role checks; every view is audited.

Roles that may see the record's personal data (docs/protocol.md, "Roles and scope") get the
original bytes. Everyone else in the record's scope gets images only, re-encoded without any
metadata (EXIF GPS, serials), and nothing of an attachment marked ``pii``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    Response,
)
from starlette.routing import Route

from server.attachment_service import AttachmentService, marked_ref, marked_refs, service
from server.auth import authenticate_reader
from server.context import ctx
from server.errors import RangeOutside
from server.routes.common import json_response
from sync.attachments import images
from sync.attachments.blobs import BlobMissing, BlobTampered
from sync.attachments.index import AttachmentMeta, delivered
from sync.attachments.sniff import EXTENSIONS
from sync.clock import now_ms
from sync.errors import Forbidden, NotFound
from sync.store.records import AuditEvent, Identity, StoredRecord

# Compressed already (or not worth it): the app's gzip middleware leaves these alone.
NO_GZIP = ("text/event-stream", *EXTENSIONS)


async def _record(request: Request) -> tuple[Identity, StoredRecord, bool]:
    """The caller, the record (in the caller's scope) and whether the caller may see its
    personal data (then originals too)."""
    c = ctx(request)
    who = await authenticate_reader(request)
    scope = c.engine.scope(who)
    collection = request.path_params["collection"]
    record = None
    if collection in ("incidents", "patrol_logs", "notices"):
        record = await c.store.record(collection, request.path_params["record_id"])
    if record is None:
        raise NotFound("no such record", {})
    if scope.station_ids is not None and record.station_id not in scope.station_ids:
        raise Forbidden("the record belongs to another station", {})
    return who, record, scope.reads_pii_of(record.author_officer)


async def listing(request: Request) -> Response:
    _, record, _ = await _record(request)
    index = service(request).index
    refs = await marked_refs(index, record)
    held = await index.held_for(
        (record.collection, record.id, record.author_officer, r["sha256"]) for r in refs
    )
    items = []
    for ref in refs:
        meta = held.get((record.collection, record.id, ref["sha256"]))
        items.append(
            {
                **ref,
                "received": meta is not None and meta.quarantined_ms is None,
                "stored_media_type": meta.media_type if meta else None,
                "quarantined": meta is not None and meta.quarantined_ms is not None,
            }
        )
    return json_response({"collection": record.collection, "id": record.id, "attachments": items})


async def _held(svc: AttachmentService, sha256: str, record: StoredRecord) -> AttachmentMeta:
    meta = await svc.index.get(sha256)
    if meta is not None and record.collection == "notices":
        if meta.officer_id != record.author_officer:
            # A notice may name any hash: served only if its poster uploaded those bytes, so
            # a notice cannot pass on another station's (or a victim's) photo to everyone.
            raise Forbidden(
                "a notice shows only a photo its poster uploaded",
                {"reason": "not_posters_upload"},
            )
    elif meta is not None:
        bound = (record.collection, record.id, sha256) in await svc.index.uses([sha256])
        if not delivered(meta, record.collection, record.author_officer, bound):
            meta = None  # held, but never sent for this record: for it, not received
    if meta is None:
        raise BlobMissing("this attachment has not been received", {"sha256": sha256})
    if meta.quarantined_ms is not None:
        raise BlobTampered(
            "the stored file no longer matched its hash and was quarantined", {"sha256": sha256}
        )
    return meta


async def _checked_path(svc: AttachmentService, sha256: str) -> Path:
    """The blob's path once it passed the tamper check; quarantined (and an error) if not."""
    try:
        handle = await svc.run(svc.blobs.open_checked, sha256)
    except BlobTampered:
        await svc.index.quarantined(sha256, now_ms())
        raise
    handle.close()
    return svc.blobs.path(sha256)


async def _audit(
    request: Request, who: Identity, record: StoredRecord, ref: dict[str, Any], variant: str
) -> None:
    details = {
        "sha256": ref["sha256"],
        "variant": variant,
        "pii": bool(ref.get("pii")),
        "device_id": who.device_id,
    }
    event = AuditEvent(
        now_ms(), who.officer_id, "view_attachment", f"{record.collection}/{record.id}", details
    )
    await ctx(request).store.add_audit(event)


def _derived(svc: AttachmentService, sha256: str, kind: str, source: Path, media: str) -> Path:
    """A metadata-free copy (``stripped`` or ``thumb``), made once and kept beside the blobs."""
    target = svc.blobs.derived_path(sha256, kind)
    if target.exists():
        return target
    folder = target.parent
    folder.mkdir(exist_ok=True)
    with open(source, "rb") as f:
        data = images.thumbnail(f) if kind == "thumb" else images.stripped(f, media)
    tmp = folder / f".{sha256}.{kind}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def _file(request: Request, path: Path, media_type: str, etag: str, name: str) -> Response:
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="{name}"',
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return EvidenceFile(path, media_type=media_type, headers=headers)


class EvidenceFile(FileResponse):
    """Starlette's file answer with our errors for ``Range``: one it cannot read is ignored
    and the whole file sent (RFC 9110 §14.2 allows it), one past the end is our JSON 416 with
    ``Content-Range`` (both were plain-text answers: security review, 2026-12-05)."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []  # the whole file, 200
        except RangeNotSatisfiable as exc:
            raise RangeOutside(file_size) from exc


async def download(request: Request) -> Response:
    svc = service(request)
    who, record, restricted = await _record(request)
    sha = request.path_params["sha256"]
    ref = await marked_ref(svc.index, record, sha)
    if ref.get("pii") and not restricted:
        raise Forbidden("this attachment holds personal data", {"reason": "pii"})
    meta = await _held(svc, sha, record)
    if not restricted and meta.media_type not in images.STRIPPABLE:
        raise Forbidden(
            "only roles allowed personal data get this kind of file",
            {"reason": "restricted_media", "media_type": meta.media_type},
        )
    path = await _checked_path(svc, sha)
    ext = EXTENSIONS[meta.media_type]
    if restricted:
        await _audit(request, who, record, ref, "original")
        return _file(request, path, meta.media_type, f'"{sha}"', f"{sha}.{ext}")
    copy = await svc.run(_derived, svc, sha, "stripped", path, meta.media_type)
    await _audit(request, who, record, ref, "stripped")
    return _file(request, copy, meta.media_type, f'"{sha}-stripped"', f"{sha}.{ext}")


async def thumbnail(request: Request) -> Response:
    svc = service(request)
    who, record, restricted = await _record(request)
    sha = request.path_params["sha256"]
    ref = await marked_ref(svc.index, record, sha)
    if ref.get("pii") and not restricted:
        raise Forbidden("this attachment holds personal data", {"reason": "pii"})
    meta = await _held(svc, sha, record)
    if meta.media_type not in images.STRIPPABLE:
        raise NotFound("thumbnails exist for JPEG, PNG and WebP images", {})
    path = await _checked_path(svc, sha)
    thumb = await svc.run(_derived, svc, sha, "thumb", path, meta.media_type)
    await _audit(request, who, record, ref, "thumbnail")
    return _file(request, thumb, "image/jpeg", f'"{sha}-thumb"', f"{sha}-thumb.jpg")


PREFIX = "/v1/attachments/{collection}/{record_id}"
routes = [
    Route(PREFIX, listing, methods=["GET"]),
    Route(PREFIX + "/{sha256}", download, methods=["GET"]),
    Route(PREFIX + "/{sha256}/thumbnail", thumbnail, methods=["GET"]),
]
