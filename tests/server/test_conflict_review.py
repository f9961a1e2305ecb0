"""The chief's conflict review: the choice is a synced write, audited, CSRF-checked, by role.

Runs on SQLite and (with RONDA_TEST_PG_URL) PostgreSQL: the review's table, its
one-review-per-conflict rule and the chief's write through the merge are the store's.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import DatabaseSettings, Settings
from server.web.sessions import SESSION_COOKIE, set_password
from sync.client import SyncClient
from sync.clock import HybridClock, now_ms
from sync.store.sql import SQLStore
from tests.server.conftest import Served, fresh_url, serving
from tests.server.test_web_sessions import PASSWORD, login
from tests.support import batch, incident, new_id, store_params

WHEN = "2026-11-20T22:15:00-05:00"
SECRET_NAME = "Teodora Ccahuana"


@pytest.fixture(params=store_params())
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    """The app on SQLite and (when reachable) PostgreSQL."""
    url = await fresh_url(request.param, tmp_path)
    settings = Settings(_env_file=None, database=DatabaseSettings(url=url))
    async with serving(settings, SQLStore(url)) as running:
        yield running


async def push(served: Served, who: str, change: dict[str, Any]) -> dict[str, Any]:
    answer = await served.client.post(
        "/v1/sync/push", json=batch([change]), headers=served.auth(who)
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["results"][0]
    assert result["status"] != "rejected", result
    return result


async def status_conflict(served: Served) -> str:
    """off-a2 closes an incident (clock 5 s ahead); off-a, not having seen it, refers it."""
    rid, early, later = new_id(), HybridClock(), HybridClock(offset_ms=5000)
    await push(served, "off-a", incident(rid, early, {"category": "robo", "occurred_at": WHEN}))
    await push(served, "off-a2", incident(rid, later, {"status": "closed"}, 1))
    lost = await push(served, "off-a", incident(rid, early, {"status": "referred"}, 1))
    assert lost["conflicts"] == 1
    return rid


async def sign_in(served: Served, officer: str) -> str:
    """Sign ``officer`` in on the test client; return the page's CSRF token."""
    await set_password(served.store, officer, PASSWORD)
    served.client.cookies.clear()
    answer = await login(served.client, officer)
    served.client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    page = await served.client.get("/conflicts")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


async def conflict_ids(served: Served, who: str = "chief-a") -> dict[str, int]:
    listed = await served.client.get("/v1/conflicts", headers=served.auth(who))
    return {c["field"]: c["id"] for c in listed.json()["conflicts"]}


async def pulled(served: Served, who: str, rid: str) -> dict[str, Any]:
    """The record as a fresh device of ``who`` pulls it (every page)."""
    cursor: str | None = None
    found: dict[str, Any] | None = None
    while True:
        params: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = (
            await served.client.get("/v1/sync/pull", params=params, headers=served.auth(who))
        ).json()
        for doc in page["changes"]:
            if doc["id"] == rid:
                found = doc
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert found is not None
    return found


async def review_events(served: Served) -> list[Any]:
    return [e for _, e in await served.store.audit_events(0, 1000) if e.action == "review_conflict"]


async def test_the_page_shows_both_values_with_officer_names_and_a_link(served: Served) -> None:
    rid = await status_conflict(served)
    await sign_in(served, "chief-a")
    page = (await served.client.get("/conflicts")).text
    # Seeded names (tests/support.py): off-a is Ana Quispe, off-a2 Luis Mamani.
    assert "Ana Quispe" in page and "Luis Mamani" in page
    assert "cerrado" in page and "derivado" in page  # values in Spanish, not codes
    assert f'href="/map?incident={rid}"' in page
    assert 'value="other"' in page and '/review"' in page
    english = (await served.client.get("/conflicts", params={"lang": "en"})).text
    assert "Current value" in english and "Recorded by" in english and "referred" in english


async def test_times_read_in_lima(served: Served) -> None:
    """An incident's time is shown as people read it, in Lima (review finding, 2026-12-05:
    "Valor vigente 2026-12-04T15:30:00Z" for times typed as 10:30)."""
    rid, early, later = new_id(), HybridClock(), HybridClock(offset_ms=5000)
    await push(served, "off-a", incident(rid, early, {"category": "robo", "occurred_at": WHEN}))
    await push(served, "off-a2", incident(rid, later, {"occurred_at": "2026-12-04T15:30:00Z"}, 1))
    lost = incident(rid, early, {"occurred_at": "2026-12-04T10:15:00-05:00"}, 1)
    assert (await push(served, "off-a", lost))["conflicts"] == 1
    await sign_in(served, "chief-a")
    page = (await served.client.get("/conflicts")).text
    assert "04/12/2026 10:30" in page and "04/12/2026 10:15" in page
    assert "15:30:00Z" not in page


async def test_choosing_the_other_value_is_a_synced_write_and_audited(served: Served) -> None:
    rid = await status_conflict(served)
    before = await pulled(served, "off-a2", rid)
    assert before["fields"]["status"] == "closed"
    conflict_id = (await conflict_ids(served))["status"]
    csrf = await sign_in(served, "chief-a")
    answer = await served.client.post(
        f"/conflicts/{conflict_id}/review", data={"csrf": csrf, "choice": "other"}
    )
    assert answer.status_code == 303 and "msg=done_other" in answer.headers["location"]
    record = await served.store.record("incidents", rid)
    assert record is not None and record.doc["fields"]["status"] == "referred"
    assert record.seq > before["seq"]
    # The chief's write carries the chief's web device and a clock newer than off-a2's.
    hlc, device, _ = record.clocks["status"]
    assert device == "web-chief-a" and hlc > before["hlc"]
    # A device that pulls receives it; the officer's device sees the new value.
    after = await pulled(served, "off-a2", rid)
    assert after["fields"]["status"] == "referred" and after["seq"] == record.seq
    # It was an edit that had seen the current value: no new conflict.
    assert list((await conflict_ids(served)).values()) == [conflict_id]
    events = await review_events(served)
    assert len(events) == 1
    event = events[0]
    assert (event.officer_id, event.target) == ("chief-a", rid)
    assert event.details["conflict_id"] == conflict_id and event.details["choice"] == "other"
    assert event.details["seq"] == record.seq
    assert event.details["value_device"] == served.people.officer_a.device_id
    page = (await served.client.get("/conflicts")).text
    assert "Revisado por Rosa Huamán" in page and 'value="other"' not in page
    again = await served.client.post(
        f"/conflicts/{conflict_id}/review", data={"csrf": csrf, "choice": "kept"}
    )
    assert "msg=already_reviewed" in again.headers["location"]
    assert len(await review_events(served)) == 1
    assert (await served.store.record("incidents", rid)).seq == record.seq  # type: ignore[union-attr]


async def test_keeping_the_current_value_writes_nothing_but_the_review(served: Served) -> None:
    rid = await status_conflict(served)
    seq = (await served.store.record("incidents", rid)).seq  # type: ignore[union-attr]
    conflict_id = (await conflict_ids(served))["status"]
    csrf = await sign_in(served, "chief-a")
    answer = await served.client.post(
        f"/conflicts/{conflict_id}/review", data={"csrf": csrf, "choice": "kept"}
    )
    assert answer.status_code == 303 and "msg=done" in answer.headers["location"]
    record = await served.store.record("incidents", rid)
    assert record is not None and record.seq == seq and record.doc["fields"]["status"] == "closed"
    reviews = await served.store.conflict_reviews([conflict_id])
    assert reviews[conflict_id].choice == "kept" and reviews[conflict_id].seq is None
    assert [e.details["choice"] for e in await review_events(served)] == ["kept"]


async def test_csrf_is_enforced(served: Served) -> None:
    await status_conflict(served)
    conflict_id = (await conflict_ids(served))["status"]
    csrf = await sign_in(served, "chief-a")
    url = f"/conflicts/{conflict_id}/review"
    forged = await served.client.post(url, data={"csrf": "forged", "choice": "other"})
    assert forged.status_code == 403
    missing = await served.client.post(url, data={"choice": "other"})
    assert missing.status_code == 403
    cross = await served.client.post(
        url, data={"csrf": csrf, "choice": "other"}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert await review_events(served) == []
    assert await served.store.conflict_reviews([conflict_id]) == {}


async def test_a_role_that_may_not_review_gets_403(served: Served) -> None:
    await status_conflict(served)
    conflict_id = (await conflict_ids(served))["status"]
    csrf = await sign_in(served, "analyst")  # the analyst reads the page, without the form
    page = (await served.client.get("/conflicts")).text
    assert '/review"' not in page and "Solo el comisario" in page
    refused = await served.client.post(
        f"/conflicts/{conflict_id}/review", data={"csrf": csrf, "choice": "other"}
    )
    assert refused.status_code == 403
    assert await review_events(served) == []


async def personal_data_conflict(served: Served) -> tuple[str, dict[str, Any]]:
    rid, early, later = new_id(), HybridClock(), HybridClock(offset_ms=5000)
    fields = {"category": "robo", "occurred_at": WHEN}
    await push(served, "off-a", incident(rid, early, fields, pii={"victims": [{"name": "Ana"}]}))
    later_victims = {"victims": [{"name": "Ana R."}]}
    await push(served, "chief-a", incident(rid, later, {}, 1, pii=later_victims))
    losing = {"victims": [{"name": SECRET_NAME, "dni": "40917733"}]}
    await push(served, "off-a", incident(rid, early, {}, 1, pii=losing))
    return rid, losing


async def test_personal_data_choice_reaches_the_chief_not_the_analyst(served: Served) -> None:
    rid, losing = await personal_data_conflict(served)
    csrf = await sign_in(served, "analyst")
    assert SECRET_NAME not in (await served.client.get("/conflicts")).text
    conflict_id = (await conflict_ids(served))["pii.victims"]
    csrf = await sign_in(served, "chief-a")
    assert SECRET_NAME in (await served.client.get("/conflicts")).text
    answer = await served.client.post(
        f"/conflicts/{conflict_id}/review", data={"csrf": csrf, "choice": "other"}
    )
    assert "msg=done_other" in answer.headers["location"]
    record = await served.store.record("incidents", rid)
    assert record is not None and record.pii == losing
    assert (await pulled(served, "chief-a", rid))["pii"] == losing
    assert "pii" not in await pulled(served, "analyst", rid)
    event = (await review_events(served))[0]
    assert SECRET_NAME not in str(event.details)  # the audit names the value, never copies it
    await sign_in(served, "analyst")
    assert SECRET_NAME not in (await served.client.get("/conflicts")).text


async def test_a_deleted_incident_is_not_brought_back_by_a_choice(served: Served) -> None:
    rid = await status_conflict(served)
    seq = (await served.store.record("incidents", rid)).seq  # type: ignore[union-attr]
    gone = incident(rid, HybridClock(offset_ms=10_000), None, seq, op="delete")
    await push(served, "chief-a", gone)
    conflict_id = (await conflict_ids(served))["status"]
    csrf = await sign_in(served, "chief-a")
    answer = await served.client.post(
        f"/conflicts/{conflict_id}/review", data={"csrf": csrf, "choice": "other"}
    )
    assert "msg=review_refused" in answer.headers["location"]
    record = await served.store.record("incidents", rid)
    assert record is not None and record.deleted
    assert await served.store.conflict_reviews([conflict_id]) == {}
    assert await review_events(served) == []


async def test_officer_devices_converge_on_the_chiefs_choice(
    served: Served, tmp_path: Path
) -> None:
    """Two reference clients make the conflict the way phones do (one edits offline, the
    other, clock ahead, edits and syncs first); after the chief's choice both hold it."""
    transport = httpx.ASGITransport(app=served.app)
    tokens = served.people.tokens

    def device(name: str, **options: Any) -> SyncClient:
        return SyncClient(
            tmp_path / f"{name}.db", "http://test", tokens[name], transport=transport, **options
        )

    async with (
        device("off-a") as ana,
        device("off-a2", wall_clock=lambda: now_ms() + 5000, adopt_server_time=False) as luis,
    ):
        rid = ana.create_incident({"category": "robo", "occurred_at": WHEN})
        await ana.sync()
        await luis.sync()
        ana.update_incident(rid, {"status": "referred"})  # offline for now
        luis.update_incident(rid, {"status": "closed"})
        await luis.sync()
        await ana.sync()
        conflict_id = (await conflict_ids(served))["status"]
        assert (ana.incident(rid) or {})["fields"]["status"] == "closed"
        csrf = await sign_in(served, "chief-a")
        answer = await served.client.post(
            f"/conflicts/{conflict_id}/review", data={"csrf": csrf, "choice": "other"}
        )
        assert "msg=done_other" in answer.headers["location"]
        await ana.sync()
        await luis.sync()
        for phone in (ana, luis):
            view = phone.incident(rid)
            assert view is not None and view["fields"]["status"] == "referred"
            assert phone.pending_count() == 0
        server = await served.store.record("incidents", rid)
        assert server is not None and ana.incident(rid) == luis.incident(rid)
        assert (ana.incident(rid) or {})["seq"] == server.seq
