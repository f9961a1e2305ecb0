"""A notice's photo sent with the ``/notices`` web form.

A phone's app uploads a notice photo with tus after posting (docs/protocol.md, Notices); a
chief at a desk picks a file in the form instead, and the page stores it here the way a
finished tus upload is stored: the bytes hashed, their media type read from the bytes (an
image only: a notice goes to every phone of its area), written to a file, fsynced, moved into
the blob store, and indexed under the poster's web device. Phones then read it as any notice
photo, and the rule "served only if the notice's poster uploaded those bytes" holds as for
the app, so bytes someone else uploaded before are refused here rather than posted unseen.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from server.attachment_service import AttachmentService, service
from sync.attachments.index import AttachmentMeta
from sync.attachments.sniff import SNIFF_BYTES, sniff
from sync.errors import InvalidRequest
from sync.protocol_notices import utc_text
from sync.store.records import Identity

# A photo of a wanted person or vehicle; larger files are a camera's raw output, not a notice.
PHOTO_MAX_BYTES = 12 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


class PhotoRefused(InvalidRequest):
    """The file is not a photo a notice may carry."""

    code = "invalid_request"


async def store_photo(
    request: Request, poster: Identity, upload: UploadFile, now: int
) -> dict[str, Any] | None:
    """The attachment reference of the photo in ``upload`` (None when no file was chosen)."""
    data = await upload.read()
    if not data:
        return None
    media_type = sniff(data[:SNIFF_BYTES])
    if media_type not in IMAGE_TYPES:
        raise PhotoRefused("a notice's photo is a JPEG, PNG or WebP image", {"reason": "type"})
    sha256 = hashlib.sha256(data).hexdigest()
    svc = service(request)
    held = await svc.index.get(sha256)
    if held is not None and held.officer_id != poster.officer_id:
        # Phones would be refused it (not_posters_upload): say so now.
        raise PhotoRefused("someone else sent this photo before", {"reason": "not_posters"})
    if held is None or await svc.run(svc.blobs.stat, sha256) is None:
        await svc.run(_into_store, svc, sha256, data)
        meta = AttachmentMeta(
            sha256, len(data), media_type, upload.content_type or "", poster.device_id,
            poster.officer_id, poster.station_id or "", now,
        )  # fmt: skip
        await svc.index.add(meta)
    size, captured_at = len(data), utc_text(now)
    return {"sha256": sha256, "media_type": media_type, "size": size, "captured_at": captured_at}


def _into_store(svc: AttachmentService, sha256: str, data: bytes) -> None:
    folder = Path(svc.settings.dir) / "web"
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{secrets.token_hex(8)}.part"
    try:
        with open(part, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        svc.blobs.put_file(sha256, part)
    finally:
        part.unlink(missing_ok=True)
