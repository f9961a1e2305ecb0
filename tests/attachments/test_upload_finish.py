"""The end of an upload on both backends: the upload is done only once the index has its row
(a failed row is added by the next HEAD before it answers the full offset), and the upload
record is made durable when the first offset is answered (docs/attachments.md, "Upload")."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from sync.attachments.uploads import device_key
from tests.attachments.support import TUS, create, jpeg_with_gps, patch, push_incident, ref, sha
from tests.server.conftest import Served, served_on_both_backends

served = served_on_both_backends()

REFUSE = {  # a real failure of the database on the attachment row, made by a trigger
    "sqlite": [
        "CREATE TRIGGER refuse_attachment BEFORE INSERT ON attachment"
        " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION refuse_attachment() RETURNS trigger AS $$"
        " BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_attachment BEFORE INSERT ON attachment"
        " FOR EACH ROW EXECUTE FUNCTION refuse_attachment()",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER refuse_attachment"],
    "postgresql": [
        "DROP TRIGGER refuse_attachment ON attachment",
        "DROP FUNCTION refuse_attachment()",
    ],
}


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, attachments=AttachmentSettings(dir=str(tmp_path / "att")))


async def _sql(served: Served, statements: list[str]) -> None:
    engine = served.store.engine  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_an_upload_whose_index_row_failed_is_not_answered_done(served: Served) -> None:
    auth = served.auth("off-a")
    # The app's own errors reach the client as the 500 the server answers, not as exceptions.
    transport = httpx.ASGITransport(app=served.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        data = jpeg_with_gps(noise=21)
        await push_incident(client, auth, "inc-row", [ref(data)])
        location = (await create(client, auth, data, "inc-row")).headers["location"]
        dialect = served.store.engine.dialect.name  # type: ignore[attr-defined]
        await _sql(served, REFUSE[dialect])
        last = await patch(client, auth, location, 0, data)
        assert last.status_code == 500
        head = await client.head(location, headers={**TUS, **auth})
        assert head.status_code == 500  # not "complete": the client keeps its copy
        await _sql(served, DROP[dialect])
        head = await client.head(location, headers={**TUS, **auth})
        assert head.status_code == 200 and head.headers["upload-offset"] == str(len(data))
        where = f"/v1/attachments/incidents/inc-row/{sha(data)}"
        got = await client.get(where, headers=auth)
        assert got.status_code == 200 and got.content == data
        listed = (await client.get("/v1/attachments/incidents/inc-row", headers=auth)).json()
        assert listed["attachments"][0]["received"] is True
        assert listed["attachments"][0]["media_type"] == "image/jpeg"


async def test_the_record_is_made_durable_with_the_first_offset(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps(noise=22)
    await push_incident(client, auth, "inc-sync", [ref(data)])
    location = (await create(client, auth, data, "inc-sync")).headers["location"]
    upload_id = location.rsplit("/", 1)[1]
    # A creation reads only this device's uploads: through its marker.
    device = device_key(served.people.officer_a.device_id)
    assert (
        Path(served.settings.attachments.dir) / "uploads" / "devices" / device / upload_id
    ).exists()
    record = Path(served.settings.attachments.dir) / "uploads" / f"{upload_id}.json"
    assert json.loads(record.read_text())["synced"] is False
    assert (await patch(client, auth, location, 0, data[:500])).status_code == 204
    assert json.loads(record.read_text())["synced"] is True
    assert (await patch(client, auth, location, 500, data[500:])).status_code == 204
