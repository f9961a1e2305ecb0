"""Browser sign-in, sessions, CSRF, lockout, audited personal data and exports."""

from __future__ import annotations

import re

import httpx
import pytest

from server.settings import Settings, WebSettings
from server.web.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, set_password
from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.support import batch, incident, new_id

PASSWORD = "una-clave-larga-1"


@pytest.fixture
def app_settings() -> Settings:
    web = WebSettings(throttle_after=3, secure_cookies=True)
    return Settings(_env_file=None, web=web)


async def login(
    client: httpx.AsyncClient, officer: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    # The cookie is Secure in this module and the test client speaks http: set it by hand.
    client.cookies.set(LOGIN_CSRF_COOKIE, token.group(1))
    return await client.post(
        "/login", data={"csrf": token.group(1), "officer_id": officer, "password": password}
    )


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


async def test_sign_in_sets_a_safe_cookie_and_signs_out(served: Served) -> None:
    await set_password(served.store, "chief-a", PASSWORD)
    client = served.client
    assert (await client.get("/map")).headers["location"].startswith("/login")
    answer = await login(client, "chief-a")
    assert answer.status_code == 303 and answer.headers["location"] == "/map"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    page = await client.get("/map")
    assert page.status_code == 200 and "maplibre-gl.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    forged = await client.post("/logout", data={"csrf": "nope"})
    assert forged.status_code == 403
    out = await client.post("/logout", data={"csrf": csrf_of(page)})
    assert out.status_code == 303
    client.cookies.clear()


async def test_login_form_needs_its_csrf_cookie(served: Served) -> None:
    await set_password(served.store, "chief-a", PASSWORD)
    served.client.cookies.clear()
    answer = await served.client.post(
        "/login", data={"csrf": "x", "officer_id": "chief-a", "password": PASSWORD}
    )
    assert answer.status_code == 403
    served.client.cookies.set(LOGIN_CSRF_COOKIE, "x")
    for origin in ("https://evil.example", "null"):  # "null": a sandboxed frame's form
        cross = await served.client.post(
            "/login",
            data={"csrf": "x", "officer_id": "chief-a", "password": PASSWORD},
            headers={"Origin": origin},
        )
        assert cross.status_code == 403


async def test_back_off_after_repeated_failures(served: Served) -> None:
    # More in test_sign_in_throttle.py; here: the page's words and the password reset.
    await set_password(served.store, "chief-a", PASSWORD)
    wrong = await login(served.client, "chief-a", "wrong password")
    assert wrong.status_code == 401 and "incorrectos" in wrong.text
    for _ in range(2):
        assert (await login(served.client, "chief-a", "wrong password")).status_code == 401
    waiting = await login(served.client, "chief-a")
    assert waiting.status_code == 429 and "espere" in waiting.text
    assert int(waiting.headers["retry-after"]) >= 1
    # the CLI's password reset forgets the failures
    await set_password(served.store, "chief-a", PASSWORD)
    assert (await login(served.client, "chief-a")).status_code == 303


async def test_personal_data_by_role_and_audited(served: Served) -> None:
    rid, clock = new_id(), HybridClock()
    fields = {"category": "robo", "occurred_at": "2025-09-01T10:00:00-05:00"}
    pii = {"victims": [{"name": "María Torres", "age": 34}]}
    pushed = await served.client.post(
        "/v1/sync/push",
        json=batch([incident(rid, clock, fields, pii=pii)]),
        headers=served.auth("off-a2"),
    )
    assert pushed.status_code == 200
    for officer in ("chief-a", "off-a", "off-b", "analyst"):
        await set_password(served.store, officer, PASSWORD)
    seen = {}
    for officer in ("chief-a", "off-a", "off-b", "analyst"):
        served.client.cookies.clear()
        answer = await login(served.client, officer)
        served.client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
        seen[officer] = await served.client.get(f"/web/data/incident/{rid}")
    assert seen["chief-a"].json()["pii"] == pii
    assert "pii" not in seen["off-a"].json()  # an officer sees only what they wrote
    assert seen["off-b"].status_code == 403  # another station
    assert "pii" not in seen["analyst"].json() and seen["analyst"].json()["pii_allowed"] is False
    events = [e for _, e in await served.store.audit_events(0, 100)]
    assert [(e.officer_id, e.action, e.target) for e in events if e.action == "view_pii"] == [
        ("chief-a", "view_pii", rid)
    ]
    served.client.cookies.clear()
    answer = await login(served.client, "chief-a")
    served.client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    csv = await served.client.get(
        "/web/export.csv", params={"since": "2025-08-01", "until": "2025-09-30"}
    )
    assert csv.status_code == 200 and "María" not in csv.text
    gpkg = await served.client.get(
        "/web/export.gpkg", params={"since": "2025-08-01", "until": "2025-09-30"}
    )
    assert gpkg.content[:16] == b"SQLite format 3\x00"
    exports = [e for _, e in await served.store.audit_events(0, 100) if e.action == "export"]
    assert [e.target for e in exports] == ["incidents.csv", "incidents.gpkg"]
    served.client.cookies.clear()


async def test_admin_pages_enroll_with_qr_and_need_csrf(served: Served) -> None:
    await set_password(served.store, "admin", PASSWORD)
    answer = await login(served.client, "admin")
    assert answer.headers["location"] == "/admin/devices"
    served.client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    page = await served.client.get("/admin/devices")
    forged = await served.client.post("/admin/devices/enroll", data={"officer_id": "off-a"})
    assert forged.status_code == 403
    posted = await served.client.post(
        "/admin/devices/enroll", data={"officer_id": "off-a", "csrf": csrf_of(page)}
    )
    assert posted.status_code == 303  # POST-redirect-GET (issue 15, item 14)
    issued = await served.client.get(posted.headers["location"])
    code = re.search(r'id="enroll-code">([A-Z0-9-]+)<', issued.text)
    assert code and "<svg" in issued.text
    enrolled = await served.client.post(
        "/v1/enroll", json={"code": code.group(1), "device_name": "x"}
    )
    assert enrolled.status_code == 201
    for path in ("/admin/officers", "/admin/stations", "/admin/audit"):
        assert (await served.client.get(path)).status_code == 200
    audit = await served.client.get("/admin/audit")
    assert "enroll" in audit.text
    served.client.cookies.clear()
    await set_password(served.store, "off-a", PASSWORD)
    answer = await login(served.client, "off-a")
    served.client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    assert (await served.client.get("/admin/devices")).status_code == 403
    served.client.cookies.clear()


async def test_assets_come_from_this_server(served: Served) -> None:
    js = await served.client.get("/vendor/maplibre/maplibre-gl.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert (await served.client.get("/vendor/maplibre/../../secret")).status_code == 404
    assert (await served.client.get("/static/map.js")).status_code == 200
    assert (await served.client.get("/static/..%2Fweb%2Fsessions.py")).status_code == 404


async def test_map_tiles_accept_a_signed_in_session(served: Served) -> None:
    await set_password(served.store, "chief-a", PASSWORD)
    client = served.client
    assert (await client.get("/tiles/incidents.json")).status_code == 401
    answer = await login(client, "chief-a")
    client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    tilejson = await client.get("/tiles/incidents.json")
    assert tilejson.status_code == 200 and tilejson.json()["tilejson"] == "3.0.0"
    client.cookies.clear()
