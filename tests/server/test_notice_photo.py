"""A notice's photo reaches the phones in scope (issue 14 item 4), stripped of its EXIF, and a
notice cannot pass on a photo its poster did not upload (review finding: a notice may name any
hash, such as that of a victim's photo in an incident)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import piexif
import pytest

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from tests.attachments.support import create, jpeg_with_gps, patch, push_incident, ref, sha, upload
from tests.server.conftest import Served, sign_in_web
from tests.server.test_notices import notice_body


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    attachments = AttachmentSettings(dir=str(tmp_path / "att"))
    return Settings(_env_file=None, attachments=attachments)


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
    client = served.client
    # An officer's photo, and a victim's (marked pii: personal data wherever it is named)
    scene, victim = jpeg_with_gps(noise=2), jpeg_with_gps(noise=4)
    refs = [ref(scene), ref(victim, pii=True)]
    await push_incident(client, served.auth("off-a"), "inc-v", refs)
    for data in (scene, victim):
        assert (await upload(client, served.auth("off-a"), data, "inc-v")).status_code == 204
    for data, reason in ((scene, "not_posters_upload"), (victim, "pii")):
        record_id = await _post(served, data)  # the chief names the photo's hash
        got = await client.get(
            f"/v1/attachments/notices/{record_id}/{sha(data)}", headers=served.auth("off-a2")
        )
        assert got.status_code == 403, got.text
        assert got.json()["error"]["details"]["reason"] == reason
        assert io.BytesIO(got.content).read(2) != b"\xff\xd8"


async def _page_csrf(served: Served) -> str:
    page = await served.client.get("/notices")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text
    return found.group(1)


async def test_a_photo_chosen_on_the_web_form_reaches_the_phones(served: Served) -> None:
    client, photo = served.client, jpeg_with_gps(noise=3)
    await sign_in_web(served, "chief-a")
    form = {"csrf": await _page_csrf(served), "text": "Auto gris", "category": "robo", "hours": "4"}
    files = {"photo": ("foto.jpg", photo, "image/jpeg")}
    posted = await client.post("/notices", data=form, files=files)
    assert posted.headers["location"] == "/notices?msg=posted", posted.text
    assert "Con foto" in (await client.get("/notices")).text
    client.cookies.clear()
    pulled = await client.get("/v1/sync/pull", headers=served.auth("off-a"))
    (doc,) = [c for c in pulled.json()["changes"] if c["collection"] == "notices"]
    (attached,) = doc["body"]["attachments"]
    assert attached["sha256"] == sha(photo) and attached["size"] == len(photo)
    assert attached["media_type"] == "image/jpeg"
    got = await client.get(
        f"/v1/attachments/notices/{doc['id']}/{sha(photo)}", headers=served.auth("off-a")
    )
    assert got.status_code == 200, got.text
    assert not piexif.load(got.content).get("GPS")  # the officer's copy has no GPS


async def test_the_web_form_refuses_what_is_not_a_photo_and_posts_nothing(served: Served) -> None:
    client = served.client
    await sign_in_web(served, "chief-a")
    csrf = await _page_csrf(served)
    form = {"csrf": csrf, "text": "Persona buscada", "category": "robo", "hours": "4"}
    pdf = b"%PDF-1.7\n" + b"0" * 2000
    posted = await client.post("/notices", data=form, files={"photo": ("a.jpg", pdf, "image/jpeg")})
    assert posted.headers["location"] == "/notices?msg=photo_refused"
    # Bytes another officer uploaded (a victim's photo) are refused, not posted unservable.
    victim = jpeg_with_gps(noise=4)
    await push_incident(client, served.auth("off-a"), "inc-w", [ref(victim, pii=True)])
    assert (await upload(client, served.auth("off-a"), victim, "inc-w")).status_code == 204
    files = {"photo": ("v.jpg", victim, "image/jpeg")}
    posted = await client.post("/notices", data=form, files=files)
    assert posted.headers["location"] == "/notices?msg=photo_refused"
    page = await client.get("/notices")
    assert "Persona buscada" not in page.text
    too_big = {"photo": ("big.jpg", b"\xff\xd8\xff" + b"0" * (13 * 1024 * 1024), "image/jpeg")}
    refused = await client.post("/notices", data=form, files=too_big)
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "payload_too_large"


async def test_a_refused_notice_stores_no_photo(served: Served, tmp_path: Path) -> None:
    """Security review (2026-12-05): a chief's notice for another station was refused, but
    its photo was stored first (up to 12 MB a post, outside any daily cap)."""
    client, photo = served.client, jpeg_with_gps(noise=5)
    await sign_in_web(served, "chief-a")
    form = {"csrf": await _page_csrf(served), "text": "Auto gris", "category": "robo",
            "hours": "4", "stations": "st-b"}  # fmt: skip
    files = {"photo": ("foto.jpg", photo, "image/jpeg")}
    posted = await client.post("/notices", data=form, files=files)
    assert posted.headers["location"] == "/notices?msg=forbidden", posted.text
    assert not [p for p in (tmp_path / "att").rglob("*") if p.is_file() and sha(photo) in p.name]
