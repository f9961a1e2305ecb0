"""Settings of evidence attachments (``RONDA_ATTACHMENTS__*``; docs/attachments.md)."""

from __future__ import annotations

from typing import Literal

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
    max_export_bytes: int = Field(
        2 * 1024 * 1024 * 1024,
        ge=1024 * 1024,
        description="Most bytes of files one zip export of the map holds (422 above).",
    )
    upload_expiry_hours: float = Field(
        24.0, gt=0, le=720, description="A partial upload untouched this long is removed."
    )
    store: Literal["file", "s3"] = Field(
        "file",
        description="Where finished blobs live: the folder (`file`) or an S3-compatible bucket.",
    )
    s3_endpoint_url: str = Field(
        "", description="S3 endpoint (empty: AWS); credentials from the AWS_* variables."
    )
    s3_bucket: str = Field("", description="Bucket of the blobs (store `s3`; it must exist).")
    s3_region: str = Field("us-east-1", description="Region of the bucket.")
    s3_prefix: str = Field("", description="Key prefix: objects are PREFIXblobs/<sha256>.")
    s3_part_bytes: int = Field(
        8 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        description="Blobs larger than this go up as multipart uploads of parts this size.",
    )
    s3_cache_max_bytes: int = Field(
        10 * 1024 * 1024 * 1024,
        ge=1024 * 1024,
        description="Local copies of S3 blobs are kept up to this many bytes; least used go.",
    )
