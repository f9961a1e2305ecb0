"""The conflict log shows personal data by one rule, on the API and on the web page, audited."""

from __future__ import annotations

from server.web.sessions import SESSION_COOKIE, set_password
from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.server.test_web_sessions import PASSWORD, login
from tests.support import batch, incident, new_id

SECRET_DNI = "40917733"
SECRET_NAME = "Teodora Ccahuana"


async def personal_data_conflict(served: Served) -> str:
    """An incident whose victims its author and the chief changed concurrently: off-a's
    version loses."""
    rid, early, later = new_id(), HybridClock(), HybridClock(offset_ms=5000)
    fields = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00"}
    first = incident(rid, early, fields, pii={"victims": [{"name": "Ana", "dni": "11111111"}]})
    changes = [("off-a", first)]
    win = incident(rid, later, {"status": "closed"}, 1, pii={"victims": [{"name": "Ana R."}]})
    losing = {"victims": [{"name": SECRET_NAME, "dni": SECRET_DNI}]}
    lose = incident(rid, early, {"status": "referred"}, 1, pii=losing)
    for who, change in [*changes, ("chief-a", win), ("off-a", lose)]:
        answer = await served.client.post(
            "/v1/sync/push", json=batch([change]), headers=served.auth(who)
        )
        assert answer.status_code == 200, answer.text
    listed = (await served.client.get("/v1/conflicts", headers=served.auth("chief-a"))).json()
    assert any(c["field"] == "pii.victims" for c in listed["conflicts"]), listed
    return rid


async def page_as(served: Served, officer: str) -> str:
    await set_password(served.store, officer, PASSWORD)
    served.client.cookies.clear()
    answer = await login(served.client, officer)
    served.client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    page = await served.client.get("/conflicts")
    served.client.cookies.clear()
    assert page.status_code == 200
    assert "no-store" in page.headers["cache-control"]
    return page.text


async def pii_views(served: Served) -> list[tuple[str, str, str]]:
    events = [e for _, e in await served.store.audit_events(0, 1000)]
    return [(e.officer_id, e.target, e.details["via"]) for e in events if e.action == "view_pii"]


async def test_analyst_sees_no_personal_data_on_the_page_either(served: Served) -> None:
    rid = await personal_data_conflict(served)
    before = await pii_views(served)
    page = await page_as(served, "analyst")
    assert SECRET_DNI not in page and SECRET_NAME not in page
    assert "pii.victims" not in page
    assert rid in page  # the page works: the record's other conflict (status) is listed
    api = await served.client.get("/v1/conflicts", headers=served.auth("analyst"))
    assert all(not c["field"].startswith("pii") for c in api.json()["conflicts"])
    assert await pii_views(served) == before  # nothing personal shown, nothing audited


async def test_chief_sees_it_and_every_view_is_audited(served: Served) -> None:
    rid = await personal_data_conflict(served)  # one API read by chief-a already
    assert await pii_views(served) == [("chief-a", rid, "api")]
    page = await page_as(served, "chief-a")
    assert SECRET_DNI in page
    assert await pii_views(served) == [("chief-a", rid, "api"), ("chief-a", rid, "conflicts_page")]
    events = [e for _, e in await served.store.audit_events(0, 1000) if e.action == "view_pii"]
    assert events[-1].details["fields"] == ["pii.victims"]


async def test_a_lost_description_is_shown_as_personal_data(served: Served) -> None:
    """The free text names people as often as not (sync/free_text.py): an analyst, who pulls
    incidents without it, does not read a losing version of it in the conflict log either
    (found by a review, 2026-12-05); the chief does, audited."""
    rid, early, later = new_id(), HybridClock(), HybridClock(offset_ms=5000)
    fields = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00"}
    win = incident(rid, later, {"description": "Robo de celular"}, 1)
    lose = incident(rid, early, {"description": f"{SECRET_NAME}, DNI {SECRET_DNI}"}, 1)
    for who, change in [("off-a", incident(rid, early, fields)), ("chief-a", win), ("off-a", lose)]:
        answer = await served.client.post(
            "/v1/sync/push", json=batch([change]), headers=served.auth(who)
        )
        assert answer.status_code == 200, answer.text
    api = await served.client.get("/v1/conflicts", headers=served.auth("analyst"))
    assert api.status_code == 200 and SECRET_DNI not in api.text
    page = await page_as(served, "analyst")
    assert SECRET_DNI not in page and SECRET_NAME not in page
    chief = (await served.client.get("/v1/conflicts", headers=served.auth("chief-a"))).json()
    assert [c["field"] for c in chief["conflicts"]] == ["description"]
    assert SECRET_DNI in chief["conflicts"][0]["losing_value"]
    assert await pii_views(served) == [("chief-a", rid, "api")]
