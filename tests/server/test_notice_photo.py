"""A notice's photo reaches the phones in scope (issue 14 item 4), stripped of its EXIF, and a
notice cannot pass on a photo its poster did not upload (review finding: a notice may name any
hash, such as that of a victim's photo in an incident)."""

from __future__ import annotations

import io
from pathlib import Path

import piexif
import pytest

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from tests.attachments.support import create, jpeg_with_gps, patch, push_incident, ref, sha, upload
from tests.server.conftest import Served
from tests.server.test_notices import notice_body


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    attachments = AttachmentSettings(dir=str(tmp_path / "att"))
    return Settings(_env_file=None, attachments=attachments)  # type: ignore[call-arg]


async def _post(served: Served, photo: bytes) -> str:
    body = notice_body("Moto roja, placa A1B-234", photo=ref(photo))
    posted = await served.client.post("/v1/notices", json=body, headers=served.auth("chief-a"))
    assert posted.status_code == 201, posted.text
    return f"{posted.json()['notice']['notice_id']}@st-a"  # the copy of the chief's own station


async def test_a_notice_photo_reaches_the_station_without_its_exif(served: Served) -> None:
    client, photo = served.client, jpeg_with_gps(noise=1)
    record_id = await _post(served, photo)
    refused = await create(client, served.auth("off-a"), photo, record_id, collection="notices")
    assert refused.status_code == 403, refused.text  # only the poster uploads it
    created = await create(client, served.auth("chief-a"), photo, record_id, collection="notices")
    assert created.status_code == 201, created.text
    done = await patch(client, served.auth("chief-a"), created.headers["location"], 0, photo)
    assert done.status_code == 204, done.text

    path = f"/v1/attachments/notices/{record_id}/{sha(photo)}"
    got = await client.get(path, headers=served.auth("off-a"))
    assert got.status_code == 200, got.text
    assert "GPS" not in piexif.load(got.content) or not piexif.load(got.content)["GPS"]
    assert got.content != photo  # the officer gets the stripped copy, not the original
    other = await client.get(path, headers=served.auth("off-b"))
    assert other.status_code in (403, 404), other.text  # another station's phone


async def test_a_notice_cannot_pass_on_a_photo_its_poster_did_not_upload(served: Served) -> None:
    client, victim = served.client, jpeg_with_gps(noise=2)
    await push_incident(client, served.auth("off-a"), "inc-v", [ref(victim, pii=True)])
    assert (await upload(client, served.auth("off-a"), victim, "inc-v")).status_code == 204
    record_id = await _post(served, victim)  # the chief names the victim photo's hash
    got = await client.get(
        f"/v1/attachments/notices/{record_id}/{sha(victim)}", headers=served.auth("off-a2")
    )
    assert got.status_code == 403, got.text
    assert got.json()["error"]["details"]["reason"] == "not_posters_upload"
    assert io.BytesIO(got.content).read(2) != b"\xff\xd8"
