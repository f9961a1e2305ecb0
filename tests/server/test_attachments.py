"""Attachments over HTTP in-process: tus uploads, scope and roles, audit, EXIF stripping,
media types that lie, tampering on disk (docs/attachments.md)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import piexif
import pytest
from PIL import Image

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from tests.attachments.support import (
    SERIAL,
    TUS,
    create,
    jpeg_with_gps,
    patch,
    push_incident,
    ref,
    sha,
    upload,
)
from tests.server.conftest import Served


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    attachments = AttachmentSettings(dir=str(tmp_path / "att"), max_device_bytes_per_day=200_000)
    return Settings(_env_file=None, attachments=attachments)


def url(record_id: str, data: bytes, tail: str = "") -> str:
    return f"/v1/attachments/incidents/{record_id}/{sha(data)}{tail}"


async def test_options_announce_tus(app_client: httpx.AsyncClient) -> None:
    answer = await app_client.options("/v1/uploads")
    assert answer.status_code == 204
    assert answer.headers["tus-version"] == "1.0.0"
    assert set(answer.headers["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "termination", "checksum", "expiration",
    }  # fmt: skip
    assert answer.headers["tus-checksum-algorithm"] == "sha256"


async def test_resumed_upload_arrives_whole_and_downloads_with_range(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    await push_incident(client, auth, "inc-1", [ref(data)])
    created = await create(client, auth, data, "inc-1")
    assert created.status_code == 201 and "upload-expires" in created.headers
    location = created.headers["location"]
    first = await patch(client, auth, location, 0, data[:1000])
    assert first.status_code == 204 and first.headers["upload-offset"] == "1000"
    stale = await patch(client, auth, location, 0, data[:1000])
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "offset_mismatch"
    head = await client.head(location, headers={**TUS, **auth})
    assert head.headers["upload-offset"] == "1000"
    assert head.headers["upload-length"] == str(len(data))
    assert (await patch(client, auth, location, 1000, data[1000:])).status_code == 204
    got = await client.get(url("inc-1", data), headers=auth)  # the author: original bytes
    assert got.status_code == 200 and got.content == data
    assert got.headers["etag"] == f'"{sha(data)}"'
    assert got.headers["content-type"] == "image/jpeg"
    assert "content-encoding" not in got.headers  # a JPEG is not gzipped again
    part = await client.get(url("inc-1", data), headers={**auth, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    # A Range the server cannot read is ignored (RFC 9110 §14.2): the whole file; one past
    # the end is our JSON 416 (both were plain text: security review, 2026-12-05).
    for unreadable in ("bytes=5-1", "bytes=abc", "items=0-1"):
        whole = await client.get(url("inc-1", data), headers={**auth, "Range": unreadable})
        assert whole.status_code == 200 and whole.content == data, unreadable
    past = await client.get(url("inc-1", data), headers={**auth, "Range": "bytes=1000000-"})
    assert past.status_code == 416 and past.json()["error"]["code"] == "range_not_satisfiable"
    assert past.headers["content-range"] == f"bytes */{len(data)}"
    cached = await client.get(
        url("inc-1", data), headers={**auth, "If-None-Match": got.headers["etag"]}
    )
    assert cached.status_code == 304
    listed = (await client.get("/v1/attachments/incidents/inc-1", headers=auth)).json()
    assert listed["attachments"][0]["received"] is True


async def test_checksum_mismatch_is_460_and_keeps_the_offset(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    await push_incident(client, auth, "inc-1", [ref(data)])
    location = (await create(client, auth, data, "inc-1")).headers["location"]
    bad = await patch(client, auth, location, 0, data[:500], checksum=b"\0" * 32)
    assert bad.status_code == 460 and bad.json()["error"]["code"] == "checksum_mismatch"
    head = await client.head(location, headers={**TUS, **auth})
    assert head.headers["upload-offset"] == "0"
    import hashlib

    good = await patch(client, auth, location, 0, data[:500], hashlib.sha256(data[:500]).digest())
    assert good.headers["upload-offset"] == "500"


async def test_bytes_already_held_are_not_sent_again(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    await push_incident(client, auth, "inc-1", [ref(data)])
    await push_incident(client, auth, "inc-2", [ref(data)])
    assert (await upload(client, auth, data, "inc-1")).status_code == 204
    again = await create(client, auth, data, "inc-2")
    assert again.status_code == 201 and again.headers["upload-offset"] == str(len(data))
    head = await client.head(again.headers["location"], headers={**TUS, **auth})
    assert head.headers["upload-offset"] == str(len(data))


async def test_upload_needs_the_record_its_station_and_a_writer(served: Served) -> None:
    client = served.client
    data = jpeg_with_gps()
    missing = await create(client, served.auth("off-a"), data, "inc-1")
    assert missing.status_code == 404
    await push_incident(client, served.auth("off-a"), "inc-1", [ref(data)])
    other = await create(client, served.auth("off-b"), data, "inc-1")
    assert other.status_code == 403
    analyst = await create(client, served.auth("analyst"), data, "inc-1")
    assert analyst.status_code == 403
    wrong_size = await create(client, served.auth("off-a"), data, "inc-1", length=len(data) - 1)
    assert wrong_size.status_code == 400
    no_version = await client.post("/v1/uploads", headers=served.auth("off-a"))
    assert no_version.status_code == 412
    # A size past 64 bits was a 500 (it could not be written back in the error's details:
    # security review, 2026-12-05); a size of more than 18 digits is no file's.
    for huge in (2**64, 10**40 - 1, 10**18):
        answer = await create(client, served.auth("off-a"), data, "inc-1", length=huge)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["details"] == {"max_digits": 18}
    created = await create(client, served.auth("off-a"), data, "inc-1")
    headers = {**served.auth("off-a"), "Tus-Resumable": "1.0.0", "Upload-Offset": "9" * 40,
               "Content-Type": "application/offset+octet-stream"}  # fmt: skip
    answer = await client.patch(created.headers["location"], content=data, headers=headers)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"


async def test_daily_cap_is_429_with_retry_after(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    big = jpeg_with_gps((900, 700), noise=1) + b"\0" * 150_000  # the cap here is 200 kB
    other = jpeg_with_gps((900, 700), noise=2) + b"\0" * 150_000
    await push_incident(client, auth, "inc-1", [ref(big), ref(other)])
    assert (await create(client, auth, big, "inc-1")).status_code == 201
    refused = await create(client, auth, other, "inc-1")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert refused.json()["error"]["code"] == "quota_exceeded"


async def test_the_daily_cap_holds_against_parallel_creations(served: Served) -> None:
    """Security review (2026-12-05): twenty parallel creations each passed the same check
    before any was made (4.98 GiB reserved against a 2 GiB cap). Five files of 150 kB against
    the 200 kB cap here: one is taken, four are refused."""
    client, auth = served.client, served.auth("off-a")
    files = [jpeg_with_gps((900, 700)) + bytes([i]) * 150_000 for i in range(5)]
    await push_incident(client, auth, "inc-1", [ref(f) for f in files])
    answers = await asyncio.gather(*(create(client, auth, f, "inc-1") for f in files))
    assert sorted(a.status_code for a in answers) == [201, 429, 429, 429, 429]


async def test_a_declared_type_that_lies_is_stored_as_what_the_bytes_are(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    await push_incident(client, auth, "inc-1", [ref(data, media_type="application/pdf")])
    assert (await upload(client, auth, data, "inc-1")).status_code == 204
    listed = (await client.get("/v1/attachments/incidents/inc-1", headers=auth)).json()
    item = listed["attachments"][0]
    assert item["media_type"] == "application/pdf" and item["stored_media_type"] == "image/jpeg"
    got = await client.get(url("inc-1", data), headers=auth)
    assert got.headers["content-type"] == "image/jpeg"


async def test_bytes_of_no_allowed_type_are_refused(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = b"#!/bin/sh\necho not a photo\n" * 10
    await push_incident(client, auth, "inc-1", [ref(data)])
    answer = await upload(client, auth, data, "inc-1")
    assert answer.status_code == 415 and answer.json()["error"]["code"] == "attachment_type_refused"
    assert (await client.get(url("inc-1", data), headers=auth)).status_code == 404


async def test_bytes_that_do_not_hash_to_the_name_are_refused(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    forged = bytearray(data)
    forged[-10] ^= 0xFF
    await push_incident(client, auth, "inc-1", [ref(data)])
    location = (await create(client, auth, data, "inc-1")).headers["location"]
    answer = await patch(client, auth, location, 0, bytes(forged))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "attachment_hash_mismatch"


def gps_of(data: bytes) -> dict[int, object]:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


async def test_exif_is_stripped_for_roles_without_personal_data(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    assert gps_of(data), "the test file must carry GPS EXIF a standard reader parses"
    assert piexif.load(data)["Exif"][piexif.ExifIFD.BodySerialNumber] == SERIAL
    await push_incident(client, auth, "inc-1", [ref(data)])
    await upload(client, auth, data, "inc-1")
    chief = await client.get(url("inc-1", data), headers=served.auth("chief-a"))
    assert chief.content == data and gps_of(chief.content)
    for who in ("analyst", "off-a2"):  # all stations without pii; same station, not author
        got = await client.get(url("inc-1", data), headers=served.auth(who))
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        image = Image.open(io.BytesIO(got.content))
        assert image.size == (320, 240)
        assert not image.getexif() and "exif" not in image.info
        assert SERIAL not in got.content and b"RondaCam" not in got.content
        thumb = await client.get(url("inc-1", data, "/thumbnail"), headers=served.auth(who))
        assert thumb.status_code == 200 and not Image.open(io.BytesIO(thumb.content)).getexif()
    assert (await client.get(url("inc-1", data), headers=served.auth("off-b"))).status_code == 403
    assert (await client.get(url("inc-1", data), headers=served.auth("admin"))).status_code == 403


async def test_personal_data_attachments_only_to_pii_roles_and_every_view_audited(
    served: Served,
) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    await push_incident(client, auth, "inc-1", [ref(data, pii=True)])
    await upload(client, auth, data, "inc-1")
    for who in ("analyst", "off-a2"):
        got = await client.get(url("inc-1", data), headers=served.auth(who))
        assert got.status_code == 403 and got.json()["error"]["details"]["reason"] == "pii"
    assert (await client.get(url("inc-1", data), headers=served.auth("chief-a"))).status_code == 200
    assert (await client.get(url("inc-1", data), headers=auth)).status_code == 200
    events = [
        e for _, e in await served.store.audit_events(0, 100) if e.action == "view_attachment"
    ]
    assert [(e.officer_id, e.details["variant"], e.details["pii"]) for e in events] == [
        ("chief-a", "original", True),
        ("off-a", "original", True),
    ]
    assert all(e.target == "incidents/inc-1" for e in events)


async def test_a_blob_changed_on_disk_is_quarantined_with_a_clear_error(
    served: Served, tmp_path: Path
) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    await push_incident(client, auth, "inc-1", [ref(data)])
    await upload(client, auth, data, "inc-1")
    digest = sha(data)
    path = tmp_path / "att" / "blobs" / digest[:2] / digest[2:4] / digest
    path.chmod(0o644)
    changed = bytearray(path.read_bytes())
    changed[200] ^= 0x01
    path.write_bytes(bytes(changed))
    got = await client.get(url("inc-1", data), headers=auth)
    assert got.status_code == 409 and got.json()["error"]["code"] == "attachment_tampered"
    assert not path.exists() and len(list((tmp_path / "att" / "quarantine").iterdir())) == 1
    again = await client.get(url("inc-1", data), headers=auth)
    assert again.status_code == 409
    listed = (await client.get("/v1/attachments/incidents/inc-1", headers=auth)).json()
    assert listed["attachments"][0]["quarantined"] is True
    assert (await upload(client, auth, data, "inc-1")).status_code == 204  # restored by a re-upload
    assert (await client.get(url("inc-1", data), headers=auth)).content == data


async def test_termination_and_expiry(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    await push_incident(client, auth, "inc-1", [ref(data)])
    location = (await create(client, auth, data, "inc-1")).headers["location"]
    assert (await client.delete(location, headers={**TUS, **auth})).status_code == 204
    assert (await client.head(location, headers={**TUS, **auth})).status_code == 404
    location = (await create(client, auth, data, "inc-1")).headers["location"]
    await patch(client, auth, location, 0, data[:100])
    from server.attachment_service import AttachmentService

    svc: AttachmentService = served.app.state.attachments
    devices = svc.uploads.devices
    assert len(list(devices.iterdir())) == 1  # the device's folder of open uploads
    assert svc.uploads.clean_expired(now_ms=2**62) == 1
    assert (await client.head(location, headers={**TUS, **auth})).status_code == 404
    assert not list(svc.uploads.dir.glob("*.part"))
    assert not list(devices.iterdir())  # its last upload gone, the folder goes too
    location = (await create(client, auth, data, "inc-1")).headers["location"]
    await patch(client, auth, location, 0, data[:100])
    assert svc.uploads.clean_expired() == 0  # one still open: its folder stays
    assert [len(list(f.iterdir())) for f in devices.iterdir()] == [1]


async def test_chain_verification_hashes_the_entries_attachments(
    served: Served, tmp_path: Path
) -> None:
    from sync.clock import HybridClock
    from tests.support import batch, log_entry

    client, auth = served.client, served.auth("off-a")
    data, later = jpeg_with_gps(), jpeg_with_gps(noise=7)
    device = served.people.officer_a.device_id
    body = {
        "kind": "note",
        "at": "2026-11-20T22:15:00-05:00",
        "attachments": [ref(data), ref(later)],
    }
    entry = log_entry(device, 1, "", HybridClock(), body, entry_id="log-1")
    pushed = await client.post("/v1/sync/push", json=batch([entry]), headers=auth)
    assert pushed.json()["results"][0]["status"] == "applied", pushed.text
    created = await create(client, auth, data, "log-1", collection="patrol_logs")
    assert (await patch(client, auth, created.headers["location"], 0, data)).status_code == 204
    chief = served.auth("chief-a")
    report = (await client.get(f"/v1/chains/{device}", headers=chief)).json()
    assert report["intact"] is True
    assert report["attachments"] == {
        "checked": 2,
        "tampered": [],
        "missing": [],
        "pending": [sha(later)],
    }
    digest = sha(data)
    path = tmp_path / "att" / "blobs" / digest[:2] / digest[2:4] / digest
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    report = (await client.get(f"/v1/chains/{device}", headers=chief)).json()
    assert report["intact"] is False and report["tampered"] == []
    assert report["attachments"]["tampered"] == [digest]
    got = await client.get(f"/v1/attachments/patrol_logs/log-1/{digest}", headers=auth)
    assert got.status_code == 409 and got.json()["error"]["code"] == "attachment_tampered"


async def test_pull_says_whether_each_attachment_has_arrived(served: Served) -> None:
    from tests.server.test_openapi import check

    client, auth = served.client, served.auth("off-a")
    data, later = jpeg_with_gps(), jpeg_with_gps(noise=9)
    await push_incident(client, auth, "inc-1", [ref(data), ref(later)])
    await upload(client, auth, data, "inc-1")
    page = await client.get("/v1/sync/pull", headers=auth)
    body = check(page, "/v1/sync/pull", "get")
    assert body["attachments"] == {
        sha(data): {"received": True, "media_type": "image/jpeg"},
        sha(later): {"received": False, "media_type": None},
    }
    await push_incident(client, auth, "inc-2", [])
    page = await client.get(f"/v1/sync/pull?cursor={body['cursor']}", headers=auth)
    assert "attachments" not in page.json()
