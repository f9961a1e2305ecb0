"""The reference client queues attachments offline and uploads them after their record,
resumably, keeping its queue across restarts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from sync.attachment_queue import AttachmentQueue, TusUploader
from sync.client import SyncClient
from tests.attachments.support import jpeg_with_gps, sha
from tests.server.conftest import Served

CHUNK = 1024


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, attachments=AttachmentSettings(dir=str(tmp_path / "att")))


class CutOnce(httpx.AsyncBaseTransport):
    """Fails the n-th PATCH as a dropped connection would."""

    def __init__(self, inner: httpx.AsyncBaseTransport, fail_patch: int) -> None:
        self.inner, self.fail_patch, self.patches = inner, fail_patch, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            self.patches += 1
            if self.patches == self.fail_patch:
                raise httpx.ConnectError("cut", request=request)
        return await self.inner.handle_async_request(request)


async def test_queued_offline_uploaded_after_the_record_and_resumed(
    served: Served, tmp_path: Path
) -> None:
    photo = tmp_path / "foto.jpg"
    data = jpeg_with_gps((640, 480), noise=3)
    photo.write_bytes(data)
    transport = CutOnce(httpx.ASGITransport(app=served.app), fail_patch=3)
    token = served.people.tokens["off-a"]
    device = SyncClient(tmp_path / "device.db", "http://test", token, transport=transport)
    queue = AttachmentQueue(tmp_path / "attachments.db")
    ref = queue.add("incidents", "inc-1", photo)
    assert ref["sha256"] == sha(data) and ref["media_type"] == "image/jpeg"
    fields = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00", "attachments": [ref]}
    device.create_incident(fields, record_id="inc-1")
    uploader = TusUploader(device.http, token, chunk_bytes=CHUNK)
    early = await uploader.upload_pending(queue)  # the record is not on the server yet
    assert early.uploaded == 0 and early.waiting == 1
    await device.sync()
    cut = await uploader.upload_pending(queue)  # the third chunk's connection dies
    assert cut.waiting == 1 and cut.bytes_sent == 3 * CHUNK
    queue.close()
    queue = AttachmentQueue(tmp_path / "attachments.db")  # the app restarts
    assert queue.pending()[0].location is not None
    rest = await uploader.upload_pending(queue)
    assert rest.uploaded == 1 and not queue.pending()
    # At most the chunk in flight was sent again.
    assert cut.bytes_sent + rest.bytes_sent <= len(data) + CHUNK
    got = await device.http.get(
        f"/v1/attachments/incidents/inc-1/{sha(data)}", headers={"Authorization": f"Bearer {token}"}
    )
    assert got.content == data
    queue.close()
    await device.aclose()
