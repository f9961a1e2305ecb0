"""Helpers of the attachment tests: real files (a JPEG with GPS EXIF), pushes, tus calls."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import httpx
import piexif
from PIL import Image

from sync.clock import HybridClock
from tests.support import batch, incident

TUS = {"Tus-Resumable": "1.0.0"}
GPS_LAT = ((12, 1), (2, 1), (4600, 100))  # 12° 2' 46" S: Lima
SERIAL = b"SN-4471-XK"


def jpeg_with_gps(size: tuple[int, int] = (320, 240), noise: int = 0) -> bytes:
    """A valid JPEG whose EXIF holds a GPS IFD, a camera make and a body serial number."""
    image = Image.new("RGB", size, (180, 40 + noise % 200, 40))
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"RondaCam", piexif.ImageIFD.Model: b"X1"},
            "Exif": {piexif.ExifIFD.BodySerialNumber: SERIAL},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"S",
                piexif.GPSIFD.GPSLatitude: GPS_LAT,
                piexif.GPSIFD.GPSLongitudeRef: b"W",
                piexif.GPSIFD.GPSLongitude: ((77, 1), (1, 1), (4200, 100)),
            },
        }
    )
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=85)
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ref(data: bytes, media_type: str = "image/jpeg", pii: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sha256": sha(data),
        "media_type": media_type,
        "size": len(data),
        "captured_at": "2026-11-20T22:15:00-05:00",
    }
    if pii:
        out["pii"] = True
    return out


async def push_incident(
    client: httpx.AsyncClient, auth: dict[str, str], record_id: str, refs: list[dict[str, Any]]
) -> None:
    fields = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00", "attachments": refs}
    change = incident(record_id, HybridClock(), fields)
    answer = await client.post("/v1/sync/push", json=batch([change]), headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "applied", answer.text


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def create(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    data: bytes,
    record_id: str,
    collection: str = "incidents",
    length: int | None = None,
) -> httpx.Response:
    headers = {
        **TUS,
        **auth,
        "Upload-Length": str(len(data) if length is None else length),
        "Upload-Metadata": metadata(
            sha256=sha(data), collection=collection, record_id=record_id, filename="foto.jpg"
        ),
    }
    return await client.post("/v1/uploads", headers=headers)


async def patch(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    location: str,
    offset: int,
    chunk: bytes,
    checksum: bytes | None = None,
) -> httpx.Response:
    headers = {
        **TUS,
        **auth,
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
    }
    if checksum is not None:
        headers["Upload-Checksum"] = "sha256 " + base64.b64encode(checksum).decode()
    return await client.patch(location, content=chunk, headers=headers)


async def upload(
    client: httpx.AsyncClient, auth: dict[str, str], data: bytes, record_id: str
) -> httpx.Response:
    created = await create(client, auth, data, record_id)
    assert created.status_code == 201, created.text
    return await patch(client, auth, created.headers["location"], 0, data)
