"""The map's export with attachments (/web/export.zip; server/web/export_media.py): the zip's
files hash to what its manifest and SHA256SUMS say, the GeoPackage inside opens with GDAL
(incidents layer and an attachments table), roles get what the download endpoint would give
them (originals, metadata-free copies, nothing of pii), and the export is audited. SQLite and
PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pyogrio
import pytest

from server.app import create_app
from server.attachment_settings import AttachmentSettings
from server.settings import DatabaseSettings, Settings
from server.web.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, set_password
from sync.clock import HybridClock
from sync.store.base import Store
from sync.store.sql import SQLStore
from tests.attachments.support import jpeg_with_gps, ref, sha, upload
from tests.support import PG_URL, batch, incident, reset_postgres, seed_people, store_params

PASSWORD = "una-clave-larga-1"
PERIOD = {"since": "2026-11-01", "until": "2026-11-30"}


class Site:
    def __init__(
        self,
        client: httpx.AsyncClient,
        store: Store,
        tokens: dict[str, str],
        settings: AttachmentSettings,
    ) -> None:
        self.client, self.store, self.tokens = client, store, tokens
        self.settings = settings

    def auth(self, officer: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[officer]}"}


@pytest.fixture(params=store_params())
async def site(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Site]:
    if request.param == "postgres":
        assert PG_URL
        await reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    settings = Settings(
        _env_file=None,
        database=DatabaseSettings(url=url),
        attachments=AttachmentSettings(dir=str(tmp_path / "att")),
    )
    store = SQLStore(url)
    app = create_app(settings, store)
    async with app.router.lifespan_context(app):
        people = await seed_people(store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Site(client, store, people.tokens, settings.attachments)


def wav() -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * 800)
    return out.getvalue()


async def sign_in(client: httpx.AsyncClient, store: Store, officer: str) -> None:
    await set_password(store, officer, PASSWORD)
    client.cookies.clear()
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    client.cookies.set(LOGIN_CSRF_COOKIE, token.group(1))
    answer = await client.post(
        "/login", data={"csrf": token.group(1), "officer_id": officer, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])


async def push_and_send(
    site: Site, record_id: str, refs: list[dict[str, Any]], files: list[bytes]
) -> None:
    """off-a's incident naming ``refs``, then the bytes of ``files`` uploaded for it."""
    fields = {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "location": {"lon": -77.03, "lat": -12.05},
        "attachments": refs,
    }
    pushed = await site.client.post(
        "/v1/sync/push",
        json=batch([incident(record_id, HybridClock(), fields)]),
        headers=site.auth("off-a"),
    )
    assert pushed.json()["results"][0]["status"] == "applied", pushed.text
    for data in files:
        done = await upload(site.client, site.auth("off-a"), data, record_id)
        assert done.status_code == 204, done.text


async def export(site: Site, officer: str, tmp_path: Path) -> tuple[zipfile.ZipFile, Path]:
    await sign_in(site.client, site.store, officer)
    answer = await site.client.get("/web/export.zip", params=PERIOD)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    path = tmp_path / f"{officer}.zip"
    path.write_bytes(answer.content)
    return zipfile.ZipFile(path), path


def by_hash(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["record_sha256"]: a for a in manifest["attachments"]}


async def test_export_zip_holds_the_files_by_role_with_hashes(site: Site, tmp_path: Path) -> None:
    photo, pii_photo, audio, missing = (
        jpeg_with_gps(noise=1),
        jpeg_with_gps(noise=2),
        wav(),
        jpeg_with_gps(noise=3),
    )
    refs = [ref(photo), ref(pii_photo, pii=True), ref(audio, "audio/wav"), ref(missing)]
    await push_and_send(site, "inc-z1", refs, [photo, pii_photo, audio])

    # The chief: every received file, as the phone sent it.
    z, _ = await export(site, "chief-a", tmp_path)
    with z:
        manifest = json.loads(z.read("manifest.json"))
        items = by_hash(manifest)
        assert {h: a["status"] for h, a in items.items()} == {
            sha(photo): "original",
            sha(pii_photo): "original",
            sha(audio): "original",
            sha(missing): "not_received",
        }
        for data in (photo, pii_photo, audio):
            assert z.read(items[sha(data)]["path"]) == data
        assert items[sha(missing)]["path"] is None
        sums = dict(
            (name, digest)
            for digest, name in (
                line.split("  ") for line in z.read("SHA256SUMS").decode().splitlines()
            )
        )
        assert len(sums) == 3
        for name, digest in sums.items():
            assert hashlib.sha256(z.read(name)).hexdigest() == digest
        gpkg = tmp_path / "chief.gpkg"
        gpkg.write_bytes(z.read("incidents.gpkg"))
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {"incidents", "attachments"}
    points = pyogrio.read_dataframe(gpkg, layer="incidents")
    assert points["id"].tolist() == ["inc-z1"]
    table = pyogrio.read_dataframe(gpkg, layer="attachments")
    assert sorted(table["record_sha256"]) == sorted(
        sha(d) for d in (photo, pii_photo, audio, missing)
    )
    assert set(table.loc[table["status"] == "original", "path"]) == set(sums)

    # An analyst (no personal data): the photo as a copy without metadata, nothing else.
    z, _ = await export(site, "analyst", tmp_path)
    with z:
        items = by_hash(json.loads(z.read("manifest.json")))
        assert items[sha(pii_photo)]["status"] == "withheld_pii"
        assert items[sha(audio)]["status"] == "withheld_media"
        copy = items[sha(photo)]
        assert copy["status"] == "copy"
        data = z.read(copy["path"])
        assert data[:3] == b"\xff\xd8\xff" and data != photo
        assert b"Exif" not in data and b"SN-4471-XK" not in data
        assert hashlib.sha256(data).hexdigest() == copy["sha256"]
        names = [n for n in z.namelist() if n.startswith("attachments/")]
        assert names == [copy["path"]]
        assert pii_photo not in z.read("incidents.gpkg")

    # Both exports audited, naming what went out.
    events = [e for _, e in await site.store.audit_events(0, 200) if e.target == "incidents.zip"]
    assert [(e.officer_id, e.action) for e in events] == [
        ("chief-a", "export"),
        ("analyst", "export"),
    ]
    assert events[0].details["originals"] == sorted(sha(d) for d in (photo, pii_photo, audio))
    assert events[0].details["pii_originals"] == 1
    assert events[1].details["copies"] == [sha(photo)] and events[1].details["originals"] == []
    assert events[1].details["withheld"] == 2
    site.client.cookies.clear()


async def test_a_blob_gone_from_the_store_is_missing_not_tampered(
    site: Site, tmp_path: Path
) -> None:
    """A received file deleted from the store behind the server's back is ``missing`` in the
    export, and is not quarantined as tampered (review finding: it read as tampered)."""
    kept, gone = jpeg_with_gps(noise=11), jpeg_with_gps(noise=12)
    await push_and_send(site, "inc-z2", [ref(kept), ref(gone)], [kept, gone])
    blob = tmp_path / "att" / "blobs" / sha(gone)[:2] / sha(gone)[2:4] / sha(gone)
    blob.unlink()
    z, _ = await export(site, "chief-a", tmp_path)
    with z:
        items = by_hash(json.loads(z.read("manifest.json")))
        assert items[sha(kept)]["status"] == "original"
        assert items[sha(gone)]["status"] == "missing" and items[sha(gone)]["path"] is None
    site.client.cookies.clear()
    where = f"/v1/attachments/incidents/inc-z2/{sha(gone)}"
    answer = await site.client.get(where, headers=site.auth("chief-a"))
    assert answer.status_code == 404  # not 409 attachment_tampered: nothing was quarantined
    assert answer.json()["error"]["code"] == "attachment_missing"
    assert not list((tmp_path / "att" / "quarantine").iterdir())


def png_claiming(width: int, height: int) -> bytes:
    """A real PNG of ``width`` x ``height`` one-bit pixels, all zero: a few KB on the wire,
    ``width * height`` bytes and more once decoded for a copy."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG")
    return out.getvalue()


async def test_an_image_no_copy_can_be_made_of_is_refused_not_a_500(
    site: Site, tmp_path: Path
) -> None:
    """Security review (2026-12-05): a 760 KB PNG of 14000 x 14000 took 2 GB to thumbnail,
    and one such file (or a JPEG header on HTML) failed an analyst's whole zip with a 500.
    Above 64 M pixels (here 100 M, which Pillow's own guard only warns about) or undecodable:
    422 ``attachment_unreadable`` on the copy and the thumbnail, ``unreadable_image`` in the
    zip, whose other files are all there."""
    huge, fake, fine = (
        png_claiming(10_000, 10_000),
        b"\xff\xd8\xff" + b"<html>x</html>" * 50,
        jpeg_with_gps(noise=21),
    )
    refs = [ref(huge, "image/png"), ref(fake), ref(fine)]
    await push_and_send(site, "inc-z3", refs, [huge, fake, fine])
    for data in (huge, fake):
        for tail, who in (("/thumbnail", "chief-a"), ("", "analyst")):
            where = f"/v1/attachments/incidents/inc-z3/{sha(data)}{tail}"
            answer = await site.client.get(where, headers=site.auth(who))
            assert answer.status_code == 422, (tail, who, answer.text)
            assert answer.json()["error"]["code"] == "attachment_unreadable"
    big = await site.client.get(
        f"/v1/attachments/incidents/inc-z3/{sha(huge)}/thumbnail", headers=site.auth("chief-a")
    )
    assert big.json()["error"]["details"] == {
        "width": 10_000, "height": 10_000, "max_pixels": 64_000_000
    }  # fmt: skip
    z, _ = await export(site, "analyst", tmp_path)
    with z:
        items = by_hash(json.loads(z.read("manifest.json")))
        assert items[sha(huge)]["status"] == items[sha(fake)]["status"] == "unreadable_image"
        assert items[sha(fine)]["status"] == "copy" and items[sha(fine)]["path"] in z.namelist()


async def test_an_export_over_the_limit_is_refused_and_leaves_nothing(
    site: Site, tmp_path: Path
) -> None:
    """A zip is built in the attachment folder before it is sent: without a limit, a year of
    every station's videos filled the disk (security review, 2026-12-05). Over
    ``max_export_bytes`` the export is a 422 ``export_too_large``: at once when the records'
    declared sizes pass it, and while writing when a record declares less than its file."""
    photo, other = jpeg_with_gps(noise=5), jpeg_with_gps(noise=6)
    await push_and_send(site, "inc-big", [ref(photo), ref(other)], [photo, other])
    exports = tmp_path / "att" / "exports"
    site.settings.max_export_bytes = len(photo) + len(other) - 1
    await sign_in(site.client, site.store, "chief-a")
    answer = await site.client.get("/web/export.zip", params=PERIOD)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "export_too_large"
    assert error["details"] == {
        "bytes": len(photo) + len(other),
        "max_bytes": len(photo) + len(other) - 1,
    }
    assert not exports.exists() or not any(exports.iterdir())
    # a record that names a file by its hash with a smaller size than it has (the bytes
    # came for another of the author's incidents, outside the period): refused while writing
    liar = jpeg_with_gps(noise=7)
    await push_and_send(site, "inc-true", [ref(liar)], [liar])
    moved = incident("inc-true", HybridClock(), {"occurred_at": "2026-10-02T10:00:00-05:00"})
    pushed = await site.client.post(
        "/v1/sync/push", json=batch([moved]), headers=site.auth("off-a")
    )
    assert pushed.json()["results"][0]["status"] == "applied", pushed.text
    await push_and_send(site, "inc-liar", [{**ref(liar), "size": 1}], [])
    site.settings.max_export_bytes = len(photo) + len(other) + 1 + len(liar) // 2
    answer = await site.client.get("/web/export.zip", params=PERIOD)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"]["bytes"] > site.settings.max_export_bytes
    assert not any(exports.iterdir())
    site.settings.max_export_bytes = 2**31  # and within the limit, the zip as ever
    z, _ = await export(site, "chief-a", tmp_path)
    with z:
        assert len([n for n in z.namelist() if n.startswith("attachments/")]) == 3
