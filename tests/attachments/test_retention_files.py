"""Retention removes the files an incident marks as personal data with its people
(docs/operations.md, "Retention"), on SQLite and PostgreSQL, through the served app: what a
chief, a device's pull and the blob store show afterwards.

Expected answers come from how the incidents were built: which files each names and marks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from server.attachment_settings import AttachmentSettings
from server.retention.run import apply, plan
from server.settings import Settings
from sync.clock import HybridClock, now_ms
from sync.store.sql import SQLStore
from tests.attachments.support import jpeg_with_gps, ref, sha, upload
from tests.server.conftest import Served, served_on_both_backends
from tests.support import batch, incident

served = served_on_both_backends()
LATER = now_ms() + 6 * 365 * 86_400_000  # beyond the default five years for personal data
VICTIM = {"victims": [{"name": "Rosa Quispe", "dni": "40123456"}]}


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, attachments=AttachmentSettings(dir=str(tmp_path / "att")))


async def push(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    record_id: str,
    status: str,
    refs: list[dict[str, Any]],
    pii: dict[str, Any] | None = None,
) -> None:
    fields = {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "status": status,
        "attachments": refs,
    }
    change = incident(record_id, HybridClock(), fields, 0, pii)
    answer = await client.post("/v1/sync/push", json=batch([change]), headers=auth)
    assert answer.json()["results"][0]["status"] == "applied", answer.text


async def held(store: SQLStore, table: str) -> set[str]:
    async with store.engine.connect() as conn:
        return {r[0] for r in await conn.execute(text(f"SELECT sha256 FROM {table}"))}


def blob_files(root: Path) -> set[str]:
    return {p.name for p in (root / "blobs").rglob("*") if p.is_file()}


async def test_files_marked_personal_go_with_the_people(served: Served, tmp_path: Path) -> None:
    client, store, off = served.client, served.store, served.auth("off-a")
    assert isinstance(store, SQLStore)
    victim_photo, scene, shared, only_file = (jpeg_with_gps(noise=n) for n in (1, 2, 3, 4))
    # inc-1: closed, a victim, the victim's photo (pii), a scene photo (not pii), and a photo
    # marked pii here that the open incident inc-2 also names: that file stays, for inc-2.
    # inc-3: closed, no people, only a file marked pii: due for that file alone.
    refs_1 = [ref(victim_photo, pii=True), ref(scene), ref(shared, pii=True)]
    await push(client, off, "inc-1", "closed", refs_1, VICTIM)
    await push(client, off, "inc-2", "open", [ref(shared, pii=True)])
    await push(client, off, "inc-3", "closed", [ref(only_file, pii=True)])
    for data, record_id in ((victim_photo, "inc-1"), (scene, "inc-1"), (shared, "inc-1")):
        assert (await upload(client, off, data, record_id)).status_code == 204
    assert (await upload(client, off, only_file, "inc-3")).status_code == 204
    chief = served.auth("chief-a")
    base = "/v1/attachments/incidents"
    thumb = await client.get(f"{base}/inc-1/{sha(victim_photo)}/thumbnail", headers=chief)
    assert thumb.status_code == 200  # a derived copy is now kept beside the blobs
    root = tmp_path / "att"
    assert any(root.glob(f"derived/{sha(victim_photo)}.*"))
    settings = served.settings

    planned = await plan(store, settings, LATER)
    assert (planned.counts["incident_pii"], planned.counts["pii_files"]) == (2, 2)
    report = await apply(store, settings, tmp_path / "archive", LATER)
    assert (report.counts["incident_pii"], report.counts["pii_files"]) == (2, 2)

    gone, kept = {sha(victim_photo), sha(only_file)}, {sha(scene), sha(shared)}
    assert blob_files(root) == kept
    assert not any(root.glob(f"derived/{sha(victim_photo)}.*"))
    assert await held(store, "attachment") == kept
    assert not (await held(store, "attachment_use")) & gone
    for record_id, data in (("inc-1", victim_photo), ("inc-3", only_file)):
        got = await client.get(f"{base}/{record_id}/{sha(data)}", headers=chief)
        assert got.status_code == 404, got.text
    # The incidents' new versions name only what is not personal data; devices pull them.
    page = (await client.get("/v1/sync/pull?limit=5000", headers=chief)).json()
    docs = {c["id"]: c for c in page["changes"]}
    assert docs["inc-1"]["fields"]["attachments"] == [ref(scene)]
    assert docs["inc-1"]["pii"] == {} and docs["inc-3"]["fields"]["attachments"] == []
    assert docs["inc-2"]["fields"]["attachments"] == [ref(shared, pii=True)]
    assert (await client.get(f"{base}/inc-2/{sha(shared)}", headers=chief)).content == shared
    assert (await client.get(f"{base}/inc-1/{sha(scene)}", headers=chief)).content == scene
    listed = (await client.get(f"{base}/inc-1", headers=chief)).json()["attachments"]
    assert [a["sha256"] for a in listed] == [sha(scene)]
    # The archive says files went, and names none of them (pii_archive is off; the audit's
    # archived views name the files they showed, as the audit did).
    (archive,) = (tmp_path / "archive").iterdir()
    raw = (archive / "incident_pii.jsonl").read_bytes()
    rows = [orjson.loads(line) for line in raw.split()]
    assert sorted((r["id"], r["had_files"]) for r in rows) == [("inc-1", 2), ("inc-3", 1)]
    assert not any(s.encode() in raw for s in gone | kept)
    # No personal data is due any more (the audit of the views, six years old then, is).
    again = (await plan(store, settings, LATER)).counts
    assert (again["incident_pii"], again["pii_files"]) == (0, 0), again


async def test_a_file_the_incident_ever_marked_goes_too(served: Served, tmp_path: Path) -> None:
    """A file marked once stays personal data in its incident (docs/attachments.md, "The pii
    mark"): taken off the list by the author and named again unmarked by a colleague, it
    still goes with the incident's personal data, and the incident is due for it alone."""
    client, store = served.client, served.store
    assert isinstance(store, SQLStore)
    author, colleague = served.auth("off-a"), served.auth("off-a2")
    photo = jpeg_with_gps(noise=5)
    await push(client, author, "inc-4", "closed", [ref(photo, pii=True)])
    assert (await upload(client, author, photo, "inc-4")).status_code == 204
    await push(client, author, "inc-4", "closed", [])
    await push(client, colleague, "inc-4", "closed", [ref(photo)])  # unmarked now

    planned = await plan(store, served.settings, LATER)
    assert (planned.counts["incident_pii"], planned.counts["pii_files"]) == (1, 1)
    await apply(store, served.settings, tmp_path / "archive", LATER)

    assert blob_files(tmp_path / "att") == set()
    chief = served.auth("chief-a")
    got = await client.get(f"/v1/attachments/incidents/inc-4/{sha(photo)}", headers=chief)
    assert got.status_code == 404, got.text
    page = (await client.get("/v1/sync/pull?limit=5000", headers=chief)).json()
    assert {c["id"]: c for c in page["changes"]}["inc-4"]["fields"]["attachments"] == []
    assert await held(store, "attachment_mark") == set()


async def test_a_marked_file_kept_for_another_incident_goes_with_that_one(
    served: Served, tmp_path: Path
) -> None:
    """A personal file kept because an open incident names it (unmarked, by a colleague)
    goes when that incident's personal data is due, though it holds no people: retention
    marks the file in it when it keeps the file."""
    client, store = served.client, served.store
    assert isinstance(store, SQLStore)
    author, colleague = served.auth("off-a"), served.auth("off-a2")
    photo = jpeg_with_gps(noise=6)
    await push(client, author, "inc-6", "closed", [ref(photo, pii=True)], VICTIM)
    assert (await upload(client, author, photo, "inc-6")).status_code == 204
    await push(client, author, "inc-7", "open", [])
    await push(client, colleague, "inc-7", "open", [ref(photo)])  # unmarked
    report = await apply(store, served.settings, tmp_path / "a1", LATER)
    assert (report.counts["incident_pii"], report.counts["pii_files"]) == (1, 0)
    assert blob_files(tmp_path / "att") == {sha(photo)}  # kept: inc-7 names it

    await push(client, colleague, "inc-7", "closed", [ref(photo)])
    report = await apply(store, served.settings, tmp_path / "a2", LATER)
    assert (report.counts["incident_pii"], report.counts["pii_files"]) == (1, 1)
    assert blob_files(tmp_path / "att") == set()
