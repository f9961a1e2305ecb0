"""Settings of evidence attachments (``RONDA_ATTACHMENTS__*``; docs/attachments.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AttachmentSettings(BaseModel):
    dir: str = Field(
        "./attachments",
        description="Folder of the filesystem blob store: blobs, partial uploads, quarantine.",
    )
    max_file_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Largest attachment, in bytes (413 above)."
    )
    max_device_bytes_per_day: int = Field(
        2 * 1024 * 1024 * 1024,
        ge=1024,
        description="Bytes one device may upload per UTC day, started uploads included (429).",
    )
    upload_expiry_hours: float = Field(
        24.0, gt=0, le=720, description="A partial upload untouched this long is removed."
    )
