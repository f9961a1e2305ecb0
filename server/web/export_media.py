"""The map's export with its attachments (issue 13 item 6): one zip holding the incidents as a
GeoPackage, the files under ``attachments/``, ``manifest.json`` and ``SHA256SUMS``.

Why a zip and not BLOBs in the GeoPackage: attachments run to hundreds of MB (a video), which
a SQLite BLOB column holds badly and QGIS does not show anyway; a zip of plain files with a
manifest of hashes is checked with ``sha256sum -c SHA256SUMS`` and opened with anything. The
GeoPackage inside also gets an ``attachments`` table (incident_id, path, sha256...) so a GIS
user can join files to points.

The role rules are the download endpoint's (server/routes/attachments.py): roles allowed a
record's personal data get the original files; everyone else gets JPEG/PNG/WebP photos as
copies without any metadata (their own hash in the manifest, beside the record's), and no
``pii`` attachment, audio, video, PDF or HEIC (listed as withheld, with the reason, no file).
Files not received yet, or quarantined, are listed without a file. The export is one audit
event (``export`` of ``incidents.zip``) naming every file given out and its variant.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyogrio

from server.attachment_service import AttachmentService, refs_of
from server.errors import ExportTooLarge
from sync.attachments import images
from sync.attachments.blobs import BlobMissing, BlobTampered
from sync.attachments.index import as_marked
from sync.attachments.sniff import EXTENSIONS
from sync.store.base import Store
from sync.store.records import PullScope

GIVEN = ("original", "copy")  # the statuses whose file is in the zip
CHUNK = 1024 * 1024


@dataclass(slots=True)
class Entry:
    """One attachment of one exported incident, as the manifest lists it."""

    incident_id: str
    record_sha256: str  # the hash the record names
    media_type: str  # sniffed once received, else as declared
    size: int
    captured_at: str | None
    pii: bool
    status: (
        str  # original | copy | withheld_pii | withheld_media | not_received | tampered | missing
    )
    path: str | None = None  # inside the zip
    sha256: str | None = None  # of the file in the zip (the record's for an original)
    file_size: int | None = None


async def entries(
    store: Store, svc: AttachmentService, scope: PullScope, ids: list[str]
) -> list[Entry]:
    """What the export holds for these incidents (already in the caller's scope), by role."""
    found = []
    for record_id in ids:
        record = await store.record("incidents", record_id)
        if record is None or record.deleted:
            continue
        allowed = scope.reads_pii_of(record.author_officer)
        for ref in refs_of(record):
            found.append((record, ref, allowed))
    marked = await svc.index.marked(str(ref["sha256"]) for _, ref, _ in found)
    found = [(r, as_marked(ref, marked), allowed) for r, ref, allowed in found]
    held = await svc.index.held_for(
        ("incidents", r.id, r.author_officer, str(ref["sha256"])) for r, ref, _ in found
    )
    out = []
    for record, ref, allowed in found:
        record_id, sha = record.id, str(ref["sha256"])
        meta = held.get(("incidents", record_id, sha))
        media_type = meta.media_type if meta else str(ref.get("media_type", ""))
        pii = bool(ref.get("pii"))
        if pii and not allowed:
            status = "withheld_pii"
        elif meta is None:
            status = "not_received"
        elif meta.quarantined_ms is not None:
            status = "tampered"
        elif allowed:
            status = "original"
        elif media_type in images.STRIPPABLE:
            status = "copy"
        else:
            status = "withheld_media"
        out.append(
            Entry(record_id, sha, media_type, int(ref.get("size", 0)),
                  ref.get("captured_at"), pii, status)
        )  # fmt: skip
    return out


def _copy_bytes(svc: AttachmentService, sha: str, media_type: str) -> bytes:
    with svc.blobs.open_checked(sha) as f:
        return images.stripped(f, media_type)


def planned_bytes(files: list[Entry]) -> int:
    """The bytes of files a zip of these entries would hold, by the sizes the records
    declare (a copy counted as its original: it is rarely larger)."""
    given: dict[tuple[str, str], int] = {}
    for e in files:
        if e.status in GIVEN:
            key = (e.record_sha256, e.status)
            given[key] = max(given.get(key, 0), e.size)
    return sum(given.values())


def _stream(source: BinaryIO, z: zipfile.ZipFile, name: str, budget: Budget) -> tuple[str, int]:
    """``source`` into the zip as ``name`` a chunk at a time (a video does not sit whole in
    memory); its SHA-256 and size."""
    digest, size = hashlib.sha256(), 0
    with z.open(name, "w", force_zip64=True) as out:
        while chunk := source.read(CHUNK):
            budget.take(len(chunk))
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(slots=True)
class Budget:
    """The bytes of files a zip may still take: records may declare sizes smaller than
    their files, so the limit is kept as the files are written too."""

    most: int
    taken: int = 0

    def take(self, size: int) -> None:
        self.taken += size
        if self.taken > self.most:
            raise ExportTooLarge(self.taken, self.most)


def write_zip(target: Path, gpkg: bytes, files: list[Entry], svc: AttachmentService) -> None:
    """The zip at ``target`` (blocking: run in a thread). Fills each entry's path and hash.
    Files are stored, not deflated: photos and audio are compressed already."""
    budget = Budget(svc.settings.max_export_bytes)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        written: dict[tuple[str, str], tuple[str, str, int]] = {}
        for e in files:
            if e.status not in GIVEN:
                continue
            key = (e.record_sha256, e.status)
            if key not in written:  # one file per blob and variant, however many records
                ext = EXTENSIONS.get(e.media_type, "bin")
                suffix = "" if e.status == "original" else "-copy"
                name = f"attachments/{e.record_sha256}{suffix}.{ext}"
                try:
                    if e.status == "original":
                        with svc.blobs.open_checked(e.record_sha256) as f:
                            written[key] = (name, *_stream(f, z, name, budget))
                    else:
                        data = _copy_bytes(svc, e.record_sha256, e.media_type)
                        budget.take(len(data))
                        z.writestr(name, data)
                        written[key] = (name, hashlib.sha256(data).hexdigest(), len(data))
                except BlobTampered:  # changed since the index said it was held: quarantined
                    e.status = "tampered"
                    continue
                except BlobMissing:  # gone from the store (deleted behind the server's back)
                    e.status = "missing"  # not tampering: nothing is quarantined for it
                    continue
                except images.UnreadableImage:  # no copy: one file does not stop the zip
                    e.status = "unreadable_image"
                    continue
            e.path, e.sha256, e.file_size = written[key]
        z.writestr("incidents.gpkg", _with_table(gpkg, files))
        manifest = {"format": "ronda-export-1", "attachments": [asdict(e) for e in files]}
        z.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        sums = sorted({(e.sha256, e.path) for e in files if e.path and e.sha256})
        z.writestr("SHA256SUMS", "".join(f"{h}  {p}\n" for h, p in sums))


def _with_table(gpkg: bytes, files: list[Entry]) -> bytes:
    """The GeoPackage with an ``attachments`` attribute table (no geometry) beside the
    incidents layer: one row per attachment, its path in the zip when given out."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "incidents.gpkg"
        path.write_bytes(gpkg)
        frame = pd.DataFrame(
            [asdict(e) for e in files],
            columns=[
                "incident_id", "record_sha256", "media_type", "size", "captured_at", "pii",
                "status", "path", "sha256", "file_size",
            ],
        )  # fmt: skip
        frame["pii"] = frame["pii"].astype(int)
        pyogrio.write_dataframe(frame, path, layer="attachments", driver="GPKG", append=False)
        return path.read_bytes()


def audit_details(files: list[Entry]) -> dict[str, Any]:
    given = [e for e in files if e.path]
    return {
        "attachments": len(files),
        "originals": sorted({e.record_sha256 for e in given if e.status == "original"}),
        "copies": sorted({e.record_sha256 for e in given if e.status == "copy"}),
        "pii_originals": sum(1 for e in given if e.pii and e.status == "original"),
        "withheld": sum(1 for e in files if e.status.startswith("withheld")),
    }


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
