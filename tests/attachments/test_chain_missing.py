"""Chain verification names the attachments the server received but no longer holds
(docs/protocol.md, "Chain verification": ``attachments.missing``): a real upload, its blob
file deleted behind the server's back, and the report is no longer intact. Both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from sync.clock import HybridClock
from tests.attachments.support import create, jpeg_with_gps, patch, ref, sha
from tests.server.conftest import Served, served_on_both_backends
from tests.support import batch, log_entry

served = served_on_both_backends()


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, attachments=AttachmentSettings(dir=str(tmp_path / "att")))


async def test_a_received_blob_gone_from_the_store_is_reported_missing(
    served: Served, tmp_path: Path
) -> None:
    client, auth, chief = served.client, served.auth("off-a"), served.auth("chief-a")
    device = served.people.officer_a.device_id
    kept, lost, later = (jpeg_with_gps(noise=n) for n in (31, 32, 33))
    clock = HybridClock()
    body = {"kind": "note", "at": "2026-11-20T22:15:00-05:00"}
    first = log_entry(device, 1, "", clock, {**body, "attachments": [ref(kept), ref(lost)]})
    second = log_entry(device, 2, first["hash"], clock, {**body, "attachments": [ref(later)]})
    pushed = await client.post("/v1/sync/push", json=batch([first, second]), headers=auth)
    assert [r["status"] for r in pushed.json()["results"]] == ["applied", "applied"], pushed.text
    for data in (kept, lost):
        created = await create(client, auth, data, first["id"], collection="patrol_logs")
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        assert (await patch(client, auth, location, 0, data)).status_code == 204
    report = (await client.get(f"/v1/chains/{device}", headers=chief)).json()
    assert report["intact"] is True
    assert report["attachments"]["missing"] == [] and report["attachments"]["checked"] == 3

    digest = sha(lost)
    (tmp_path / "att" / "blobs" / digest[:2] / digest[2:4] / digest).unlink()
    answer = await client.get(f"/v1/chains/{device}", headers=chief)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["attachments"] == {
        "checked": 3,
        "tampered": [],
        "missing": [digest],
        "pending": [sha(later)],  # never sent: not an error
    }
    assert report["intact"] is False
    assert (report["gaps"], report["broken_links"], report["tampered"]) == ([], [], [])
