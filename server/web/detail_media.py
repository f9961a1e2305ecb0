"""The attachments of an incident as the chief's map detail shows them (issue 13 item 6):
photos as thumbnails that open the full picture, audio in an ``<audio>`` player, other files as
links, and "not received yet" said plainly. The files come from the attachment endpoints
(``/v1/attachments/...``) with the browser's session, which apply the record's scope and role
rules and audit every view; this only says, per attachment, what the viewer's role will get,
so the page never offers what it would be refused."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from server.attachment_service import marked_refs
from server.web.detail import local_time
from sync.attachments.images import STRIPPABLE
from sync.attachments.index import AttachmentIndex
from sync.store.records import StoredRecord

TEXT = {
    "es": {
        "heading": "Fotos, audio y documentos",
        "photo": "Foto",
        "audio": "Audio",
        "video": "Video",
        "document": "Documento",
        "captured": "tomada el",
        "open_full": "Ver la foto completa",
        "open_file": "Abrir el archivo",
        "not_received": "Adjunto aún no recibido: el teléfono todavía no lo ha enviado.",
        "pii": "Contiene datos personales: su rol no puede verlo.",
        "restricted_media": "Este tipo de archivo solo lo ven los roles con acceso a datos "
        "personales.",
        "tampered": "El archivo guardado fue alterado y está en cuarentena.",
        "no_player": "Su navegador no puede reproducir este audio.",
        "views_audited": "Cada vista de un adjunto queda registrada.",
    },
    "en": {
        "heading": "Photos, audio and documents",
        "photo": "Photo",
        "audio": "Audio",
        "video": "Video",
        "document": "Document",
        "captured": "taken on",
        "open_full": "Open the full photo",
        "open_file": "Open the file",
        "not_received": "Attachment not received yet: the phone has not sent it.",
        "pii": "Holds personal data: your role may not see it.",
        "restricted_media": "Only roles allowed personal data see this kind of file.",
        "tampered": "The stored file was changed and is quarantined.",
        "no_player": "Your browser cannot play this audio.",
        "views_audited": "Every view of an attachment is recorded.",
    },
}


def kind_of(media_type: str) -> str:
    if media_type.startswith("image/"):
        return "photo"
    if media_type.startswith("audio/"):
        return "audio"
    if media_type.startswith("video/"):
        return "video"
    return "document"


async def media(
    index: AttachmentIndex, found: StoredRecord, pii_allowed: bool, lang: str, offset_s: int
) -> dict[str, Any]:
    """``{"text": {...}, "items": [...]}`` for the detail, or ``{}`` without attachments.

    Each item: ``kind`` (photo/audio/video/document), ``media_type`` (the sniffed one once
    received), ``captured`` (Lima time), ``state`` (``ok``, ``not_received``, ``pii``,
    ``restricted_media``, ``tampered``), and when ``ok`` the ``url`` of the file (the original
    for roles allowed personal data, else the copy without metadata) and for JPEG/PNG/WebP a
    ``thumbnail``. The rules are the download endpoint's (server/routes/attachments.py)."""
    refs = await marked_refs(index, found)
    if not refs:
        return {}
    held = await index.held_by_hash(
        (found.collection, found.id, found.author_officer, r["sha256"]) for r in refs
    )
    base = f"/v1/attachments/incidents/{quote(found.id, safe='')}"
    items = []
    for ref in refs:
        sha = str(ref["sha256"])
        meta = held.get(sha)
        media_type = meta.media_type if meta else str(ref.get("media_type", ""))
        item: dict[str, Any] = {
            "sha256": sha,
            "kind": kind_of(media_type),
            "media_type": media_type,
            "captured": local_time(ref.get("captured_at"), offset_s),
        }
        if ref.get("pii") and not pii_allowed:
            item["state"] = "pii"  # not even whether it arrived
        elif meta is None:
            item["state"] = "not_received"
        elif meta.quarantined_ms is not None:
            item["state"] = "tampered"
        elif not pii_allowed and media_type not in STRIPPABLE:
            item["state"] = "restricted_media"
        else:
            item["state"] = "ok"
            item["url"] = f"{base}/{sha}"
            if media_type in STRIPPABLE:
                item["thumbnail"] = f"{base}/{sha}/thumbnail"
        items.append(item)
    return {"text": TEXT.get(lang, TEXT["es"]), "items": items}
