"""A hash is not the file (docs/attachments.md): a record serves a held file only if its
bytes were sent for it or by its author; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.attachment_settings import AttachmentSettings
from server.settings import Settings
from sync.clock import HybridClock
from tests.attachments.support import create, jpeg_with_gps, patch, push_incident, ref, sha, upload
from tests.server.conftest import Served, served_on_both_backends
from tests.support import batch, log_entry

served = served_on_both_backends()


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, attachments=AttachmentSettings(dir=str(tmp_path / "att")))


def url(record_id: str, data: bytes, tail: str = "") -> str:
    return f"/v1/attachments/incidents/{record_id}/{sha(data)}{tail}"


async def test_naming_a_held_hash_in_a_record_of_ones_own_does_not_hand_out_the_file(
    served: Served,
) -> None:
    """Every officer of a station sees the hashes of its files in a pull (an analyst those
    of every station). An officer who names one in a new incident of their own gets, for
    that incident, a file not received, and must send its bytes to have it served: a
    victim's photo is not handed out for knowing its hash (found by a review, 2026-12-04)."""
    client = served.client
    data = jpeg_with_gps()
    await push_incident(client, served.auth("off-a"), "inc-1", [ref(data, pii=True)])
    assert (await upload(client, served.auth("off-a"), data, "inc-1")).status_code == 204
    for who, record_id in (("off-b", "inc-b"), ("off-a2", "inc-a2")):  # another station; own
        auth = served.auth(who)
        await push_incident(client, auth, record_id, [ref(data)])  # not marked pii
        got = await client.get(url(record_id, data), headers=auth)
        assert got.status_code == 404, got.text
        assert got.json()["error"]["code"] == "attachment_missing"
        thumb = await client.get(url(record_id, data, "/thumbnail"), headers=auth)
        assert thumb.status_code == 404
        listed = await client.get(f"/v1/attachments/incidents/{record_id}", headers=auth)
        assert listed.json()["attachments"][0]["received"] is False
        page = (await client.get("/v1/sync/pull?limit=5000", headers=auth)).json()
        if who == "off-b":
            assert page["attachments"] == {sha(data): {"received": False, "media_type": None}}
        # nor does the upload pretend the bytes are there: they are asked for in full
        created = await create(client, auth, data, record_id)
        assert created.status_code == 201 and "upload-offset" not in created.headers
        if who == "off-a2":  # sending them proves having them: then the record serves them
            done = await patch(client, auth, created.headers["location"], 0, data)
            assert done.status_code == 204
            assert (await client.get(url(record_id, data), headers=auth)).content == data
    # the uploader's record still serves it, to the roles that may see it
    assert (await client.get(url("inc-1", data), headers=served.auth("chief-a"))).status_code == 200
    # and to the analyst it is personal data wherever it is named (it was marked in inc-1)
    assert (await client.get(url("inc-b", data), headers=served.auth("analyst"))).status_code == 403


async def test_a_file_once_marked_pii_stays_personal_data(served: Served) -> None:
    """The author takes a victim's photo off the list; a colleague then names its hash
    again, unmarked, there or in another incident of the same author: the file was
    "delivered" by the incident's author, so it was served to the colleague (the residual of
    the security review, 2026-12-05, and its sibling). A file once marked is now personal data
    in every record (the download, thumbnail and list here; the map's detail and the export
    read it through the same ``as_marked``), whoever names it unmarked after."""
    client = served.client
    data = jpeg_with_gps()
    author, colleague = served.auth("off-a"), served.auth("off-a2")
    await push_incident(client, author, "inc-1", [ref(data, pii=True)])
    assert (await upload(client, author, data, "inc-1")).status_code == 204
    await push_incident(client, author, "inc-1", [])  # the author takes it off the list
    await push_incident(client, author, "inc-5", [])  # another incident of the author's
    await push_incident(client, colleague, "inc-1", [ref(data)])  # named again, unmarked
    await push_incident(client, colleague, "inc-5", [ref(data)])
    for record_id in ("inc-1", "inc-5"):
        for who in ("off-a2", "analyst"):
            for tail in ("", "/thumbnail"):
                got = await client.get(url(record_id, data, tail), headers=served.auth(who))
                assert got.status_code == 403, (record_id, who, tail, got.text)
                assert got.json()["error"]["details"]["reason"] == "pii"
        listed = await client.get(f"/v1/attachments/incidents/{record_id}", headers=colleague)
        assert listed.json()["attachments"][0]["pii"] is True
        chief = await client.get(url(record_id, data), headers=served.auth("chief-a"))
        assert chief.status_code == 200 and chief.content == data  # the original, as before
    # naming it unmarked again, even by the author, does not make it public to the station
    await push_incident(client, author, "inc-1", [ref(data)])
    assert (await client.get(url("inc-1", data), headers=colleague)).status_code == 403


async def test_a_file_a_patrol_log_marks_pii_is_personal_data_everywhere(served: Served) -> None:
    """The same rule for a patrol-log entry's ``body.attachments``: a photo the author marked
    there and a colleague named unmarked in another of the author's incidents was served to
    the colleague and to analysts through that incident (found by a review, 2026-12-05)."""
    client, author = served.client, served.auth("off-a")
    data = jpeg_with_gps(noise=8)
    body = {"kind": "note", "at": "2026-11-20T22:15:00-05:00", "attachments": [ref(data, pii=True)]}
    entry = log_entry(served.people.officer_a.device_id, 1, "", HybridClock(), body)
    pushed = await client.post("/v1/sync/push", json=batch([entry]), headers=author)
    assert pushed.json()["results"][0]["status"] == "applied", pushed.text
    created = await create(client, author, data, entry["id"], collection="patrol_logs")
    assert (await patch(client, author, created.headers["location"], 0, data)).status_code == 204
    await push_incident(client, author, "inc-6", [])
    await push_incident(client, served.auth("off-a2"), "inc-6", [ref(data)])  # unmarked
    for who in ("off-a2", "analyst"):
        for tail in ("", "/thumbnail"):
            got = await client.get(url("inc-6", data, tail), headers=served.auth(who))
            assert got.status_code == 403, (who, tail, got.text)
    chief = await client.get(url("inc-6", data), headers=served.auth("chief-a"))
    assert chief.status_code == 200 and chief.content == data
