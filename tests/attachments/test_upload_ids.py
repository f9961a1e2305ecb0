"""Upload ids say nothing of their device (docs/attachments.md, "Upload"): they are in URLs
and in client and proxy logs, and a part shared by one device's uploads (they began with a
hash of the device id) linked them. The daily cap still counts a device's open uploads, and
an upload made before the change (an id in the old form) still resumes. Both backends."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from tests.attachments.support import TUS, create, jpeg_with_gps, patch, push_incident, ref, sha
from tests.server.conftest import Served, served_on_both_backends

served = served_on_both_backends()
SIZE = 60_000  # each file below; the cap holds two open uploads, not three


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    attachments = AttachmentSettings(
        dir=str(tmp_path / "att"), max_device_bytes_per_day=SIZE * 5 // 2
    )
    return Settings(_env_file=None, attachments=attachments)


def _file(noise: int) -> bytes:
    data = jpeg_with_gps(noise=noise)
    return data + b"\0" * (SIZE - len(data))


def _old_tag(device_id: str) -> str:
    """What began every upload id of a device before (sha256 of its id, 8 hex digits)."""
    return hashlib.sha256(device_id.encode()).hexdigest()[:8]


async def test_upload_ids_carry_nothing_of_the_device(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    device = served.people.officer_a.device_id
    files = [_file(1), _file(2)]
    await push_incident(client, auth, "inc-ids", [ref(f) for f in files])
    ids = []
    for data in files:
        created = await create(client, auth, data, "inc-ids")
        assert created.status_code == 201, created.text
        ids.append(created.headers["location"].rsplit("/", 1)[1])
    for upload_id in ids:
        assert len(upload_id) == 32 and not upload_id.startswith(_old_tag(device))
        assert device not in upload_id
    assert ids[0][:8] != ids[1][:8]  # random: equal with odds of 1 in 2**32


async def test_the_daily_cap_counts_open_uploads_through_their_markers(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    files = [_file(n) for n in (3, 4, 5)]
    await push_incident(client, auth, "inc-cap", [ref(f) for f in files])
    first = (await create(client, auth, files[0], "inc-cap")).headers["location"]
    second = (await create(client, auth, files[1], "inc-cap")).headers["location"]
    assert (await patch(client, auth, second, 0, files[1][:1000])).status_code == 204
    refused = await create(client, auth, files[2], "inc-cap")  # 3 x SIZE > 2.5 x SIZE
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
    assert refused.json()["error"]["details"]["used"] == 2 * SIZE
    assert (await client.delete(first, headers={**TUS, **auth})).status_code == 204
    # The terminated upload counts no more; the other still does: 2 x SIZE fits.
    assert (await create(client, auth, files[2], "inc-cap")).status_code == 201
    # Another device's uploads are not this device's.
    chief = served.auth("chief-a")
    await push_incident(client, chief, "inc-chief", [ref(files[0])])
    assert (await create(client, chief, files[0], "inc-chief")).status_code == 201


async def test_an_upload_with_an_id_of_the_old_form_still_resumes(
    served: Served, tmp_path: Path
) -> None:
    client, auth = served.client, served.auth("off-a")
    device = served.people.officer_a.device_id
    data = _file(6)
    await push_incident(client, auth, "inc-old", [ref(data)])
    location = (await create(client, auth, data, "inc-old")).headers["location"]
    assert (await patch(client, auth, location, 0, data[:1000])).status_code == 204
    # Made into an upload of before: the old id form, no marker.
    uploads = tmp_path / "att" / "uploads"
    new_id = location.rsplit("/", 1)[1]
    old_id = _old_tag(device) + new_id[8:]
    record = json.loads((uploads / f"{new_id}.json").read_text())
    record["id"] = old_id
    (uploads / f"{old_id}.json").write_text(json.dumps(record))
    os.replace(uploads / f"{new_id}.part", uploads / f"{old_id}.part")
    (uploads / f"{new_id}.json").unlink()
    for marker in (uploads / "devices").glob(f"*/{new_id}"):
        marker.unlink()
    old = f"/v1/uploads/{old_id}"
    head = await client.head(old, headers={**TUS, **auth})
    assert head.status_code == 200 and head.headers["upload-offset"] == "1000"
    assert (await patch(client, auth, old, 1000, data[1000:])).status_code == 204
    got = await client.get(f"/v1/attachments/incidents/inc-old/{sha(data)}", headers=auth)
    assert got.status_code == 200 and got.content == data
