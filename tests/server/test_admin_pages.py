"""The administrator's pages (issue 15): where a sign-in lands (item 2), devices searched,
paged and revoked with a reason (13), enrollment by POST-redirect-GET (14), and the audit log
in words, filtered and paged (15). On a real SQLite file and, when RONDA_TEST_PG_URL is set,
a real PostgreSQL database."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from server.web.sessions import SESSION_COOKIE, set_password
from sync.identity import create_device_token
from sync.store.records import AuditEvent, Officer
from tests.server.conftest import Served, served_on_both_backends
from tests.server.test_web_sessions import PASSWORD, csrf_of

CODE = re.compile(r'id="enroll-code">([A-Z2-9]{4}-[A-Z2-9]{4})<')


served = served_on_both_backends()


async def signed_in_as(served: Served, officer: str, next_path: str | None = None) -> str:
    """Sign in through the form (with ``?next=`` when given); return where it lands."""
    client = served.client
    client.cookies.clear()
    await set_password(served.store, officer, PASSWORD)
    form = await client.get("/login", params={"next": next_path} if next_path else None)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    data = {"csrf": token.group(1), "officer_id": officer, "password": PASSWORD}
    hidden = re.search(r'name="next" value="([^"]*)"', form.text)
    if hidden:
        data["next"] = html.unescape(hidden.group(1))
    answer = await client.post("/login", data=data)
    assert answer.status_code == 303, answer.text
    client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    return answer.headers["location"]


# --- item 2: each role lands on its home, or on the page it asked for when it may see it ---


async def test_sign_in_lands_each_role_on_a_page_it_may_see(served: Served) -> None:
    plain = await served.client.get("/login")
    assert 'name="next"' not in plain.text  # no "/map" planted for every role any more
    assert await signed_in_as(served, "admin") == "/admin/devices"
    assert (await served.client.get("/admin/devices")).status_code == 200
    assert await signed_in_as(served, "admin", "/map") == "/admin/devices"
    assert await signed_in_as(served, "admin", "/admin/audit?action=revoke") == (
        "/admin/audit?action=revoke"
    )
    assert await signed_in_as(served, "admin", "//evil.example/x") == "/admin/devices"
    assert await signed_in_as(served, "chief-a") == "/map"
    assert await signed_in_as(served, "chief-a", "/admin/devices") == "/map"
    assert await signed_in_as(served, "chief-a", "/conflicts") == "/conflicts"
    assert await signed_in_as(served, "analyst") == "/map"
    assert await signed_in_as(served, "analyst", "/public") == "/public"
    served.client.cookies.clear()


async def test_a_wrong_password_keeps_the_page_asked_for(served: Served) -> None:
    await set_password(served.store, "admin", PASSWORD)
    client = served.client
    client.cookies.clear()
    form = await client.get("/login", params={"next": "/admin/audit"})
    token = csrf_of(form)
    data = {"csrf": token, "officer_id": "admin", "password": "wrong one!", "next": "/admin/audit"}
    wrong = await client.post("/login", data=data)
    assert wrong.status_code == 401
    assert 'name="next" value="/admin/audit"' in wrong.text
    right = await client.post("/login", data={**data, "csrf": csrf_of(wrong), "password": PASSWORD})
    assert right.headers["location"] == "/admin/audit"
    client.cookies.clear()


# --- item 13: devices searched, paged, revoked with a reason that is audited ---


async def _many_devices(served: Served) -> None:
    """117 more devices: 60 of a new officer "Óscar Ñahui", 57 of Ana Quispe (off-a)."""
    await served.store.put_officer(Officer("of-nahui", "Óscar Ñahui", "officer", "st-a"))
    for i in range(60):
        await create_device_token(served.store, "of-nahui", f"nahui-{i:02d}", 1_000 + i)
    for i in range(57):
        await create_device_token(served.store, "off-a", f"quispe-{i:02d}", 2_000 + i)


def _rows(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr data-device="([^"]+)"', page.text)


async def test_devices_are_searched_by_officer_and_paged(served: Served) -> None:
    await _many_devices(served)
    await signed_in_as(served, "admin")
    client = served.client
    first = await client.get("/admin/devices")
    # 6 seeded (one per person) + 117: 123 devices, 50 a page
    assert "123 dispositivos" in first.text and "Página 1 de 3" in first.text
    assert len(_rows(first)) == 50
    last = await client.get("/admin/devices", params={"page": "3"})
    assert len(_rows(last)) == 23 and "Página 3 de 3" in last.text
    assert 'id="page-next"' not in last.text and 'id="page-prev"' in last.text
    seen = set()
    for n in (1, 2, 3):
        seen |= set(_rows(await client.get("/admin/devices", params={"page": str(n)})))
    assert len(seen) == 123  # every device on exactly one page
    # by name, without accents or case; by id; by status
    nahui = await client.get("/admin/devices", params={"q": "nahui"})
    assert "60 dispositivos" in nahui.text and "Página 1 de 2" in nahui.text
    assert "quispe-" not in nahui.text
    page2 = await client.get("/admin/devices", params={"q": "nahui", "page": "2"})
    assert len(_rows(page2)) == 10 and "quispe-" not in page2.text
    quispe = await client.get("/admin/devices", params={"q": "QUISPE"})
    assert "58 dispositivos" in quispe.text  # 57 + the seeded phone-off-a
    by_id = await client.get("/admin/devices", params={"q": "chief-a"})
    assert "1 dispositivo<" in by_id.text and "phone-chief-a" in by_id.text
    nobody = await client.get("/admin/devices", params={"q": "zzz-nobody"})
    assert "0 dispositivos" in nobody.text and 'id="no-devices"' in nobody.text
    served.client.cookies.clear()


async def test_revoking_asks_for_confirmation_and_audits_the_reason(served: Served) -> None:
    await signed_in_as(served, "admin")
    client, device = served.client, served.people.officer_b.device_id
    auth = served.auth("off-b")
    listed = await client.get("/admin/devices", params={"q": "off-b"})
    link = re.search(rf'href="(/admin/devices/{device}/revoke[^"]*)"', listed.text)
    assert link, "the list links each active device to its confirmation step"
    confirm = await client.get(html.unescape(link.group(1)))
    assert confirm.status_code == 200
    assert 'name="reason"' in confirm.text and "required" in confirm.text
    assert "Jorge Flores" in confirm.text  # whose device, shown before revoking
    assert (await client.get("/v1/me", headers=auth)).status_code == 200  # not revoked yet
    action = f"/admin/devices/{device}/revoke"
    back = parse_qs(urlsplit(html.unescape(link.group(1))).query)["back"][0]
    assert back == "q=off-b"
    forged = await client.post(action, data={"reason": "perdido"})
    assert forged.status_code == 403
    empty = await client.post(action, data={"csrf": csrf_of(confirm), "reason": "  "})
    assert empty.status_code == 400 and 'role="alert"' in empty.text
    assert (await client.get("/v1/me", headers=auth)).status_code == 200
    reason = "Celular robado durante el patrullaje"
    done = await client.post(
        action, data={"csrf": csrf_of(confirm), "reason": reason, "back": back}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/devices?q=off-b&revoked={device}"
    assert (await client.get("/v1/me", headers=auth)).status_code == 401
    after = await client.get(done.headers["location"])
    assert f"Dispositivo {device} revocado." in after.text
    assert f"/admin/devices/{device}/revoke" not in after.text  # no second revocation offered
    again = await client.post(action, data={"csrf": csrf_of(confirm), "reason": "otra vez"})
    assert again.status_code == 303
    events = [e for _, e in await served.store.audit_events(0, 100) if e.action == "revoke"]
    assert len(events) == 1  # revoking a revoked device writes nothing
    assert events[0].officer_id == "admin" and events[0].target == device
    assert events[0].details["reason"] == reason
    assert events[0].details["officer_id"] == "off-b"
    served.client.cookies.clear()


# --- item 14: enrollment by POST-redirect-GET; the code in no URL, no table, one per POST ---


async def test_enrollment_result_is_a_get_that_reloads_without_a_new_code(
    served: Served,
) -> None:
    await signed_in_as(served, "admin")
    client = served.client
    devices = await client.get("/admin/devices")
    posted = await client.post(
        "/admin/devices/enroll", data={"officer_id": "off-a2", "csrf": csrf_of(devices)}
    )
    assert posted.status_code == 303
    where = posted.headers["location"]
    assert re.fullmatch(r"/admin/devices/enrolled/[A-Za-z0-9_-]{22}", where)
    shown = await client.get(where)
    code = CODE.search(shown.text)
    assert shown.status_code == 200 and code
    assert code.group(1) not in where and code.group(1).replace("-", "") not in where
    assert "no-store" in shown.headers["cache-control"]
    assert "digítelo" in shown.text and "dígítelo" not in shown.text  # the typo
    assert "Luis Mamani" in shown.text
    reloaded = await client.get(where)
    assert CODE.search(reloaded.text).group(1) == code.group(1)  # type: ignore[union-attr]
    enrolls = [e for _, e in await served.store.audit_events(0, 100) if e.action == "enroll"]
    assert len(enrolls) == 1 and enrolls[0].target == "off-a2"
    # the code works once; the page then says so instead of showing it
    body = {"code": code.group(1), "device_name": "Moto G"}
    assert (await client.post("/v1/enroll", json=body)).status_code == 201
    assert (await client.post("/v1/enroll", json=body)).status_code == 403
    used = await client.get(where)
    assert used.status_code == 200 and not CODE.search(used.text)
    assert "ya se usó" in used.text
    # another administrator's session (another cookie) gets nothing from the address
    await set_password(served.store, "admin", PASSWORD)
    await signed_in_as(served, "admin")
    other = await client.get(where)
    assert other.status_code == 404 and not CODE.search(other.text)
    assert (await client.get("/admin/devices/enrolled/not-a-view")).status_code == 404
    served.client.cookies.clear()


async def test_enrollment_code_is_stored_nowhere_in_the_clear(
    served: Served, tmp_path: Path
) -> None:
    if served.settings.database.url.startswith("postgresql"):
        pytest.skip("reads the SQLite file's bytes")
    await signed_in_as(served, "admin")
    devices = await served.client.get("/admin/devices")
    posted = await served.client.post(
        "/admin/devices/enroll", data={"officer_id": "off-a", "csrf": csrf_of(devices)}
    )
    code = CODE.search((await served.client.get(posted.headers["location"])).text)
    assert code
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ronda.db*"))
    for form in (code.group(1), code.group(1).replace("-", "")):
        assert form.encode() not in raw
    served.client.cookies.clear()


# --- item 15: the audit log in words, with who/what/why, filters and pages ---

# 2025-03-01 00:00 in Lima (UTC-5) is 05:00 UTC
LIMA_MARCH_1_MS = 1_740_805_200_000


async def _audit_events(served: Served) -> None:
    add = served.store.add_audit
    await add(AuditEvent(LIMA_MARCH_1_MS - 60_000, "chief-a", "view_pii", "rec-1", {"via": "map"}))
    await add(AuditEvent(LIMA_MARCH_1_MS, "admin", "revoke", "dev-x", {"reason": "Robado"}))
    await add(AuditEvent(LIMA_MARCH_1_MS + 60_000, "analyst", "export", "incidents.csv", {}))
    for i in range(120):  # a busy day later on
        at = LIMA_MARCH_1_MS + 86_400_000 * 3 + i * 1000
        await add(AuditEvent(at, "off-a", "pull_pii", "incidents", {"records": ["r"] * 3}))


def _events(page: httpx.Response) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-event="(\d+)"', page.text)]


async def test_audit_log_speaks_spanish_or_english_and_shows_the_reason(served: Served) -> None:
    await _audit_events(served)
    await signed_in_as(served, "admin")
    client = served.client
    es = await client.get("/admin/audit", params={"action": "revoke"})
    assert "Revocó un dispositivo" in es.text and "Motivo:</b> Robado" in es.text
    assert "dev-x" in es.text and "Admin" in es.text
    assert "2025-03-01 00:00" in es.text  # Lima time
    en = await client.get("/admin/audit", params={"action": "revoke", "lang": "en"})
    assert "Revoked a device" in en.text and "Reason:</b> Robado" in en.text
    assert "Revocó" not in en.text
    pulls = await client.get("/admin/audit", params={"action": "pull_pii"})
    assert "Sincronizó datos personales" in pulls.text and "Registros:</b> 3" in pulls.text
    served.client.cookies.clear()


async def test_audit_log_filters_by_officer_action_and_lima_dates(served: Served) -> None:
    await _audit_events(served)
    await signed_in_as(served, "admin")
    client = served.client

    async def actions(**params: str) -> list[str]:
        page = await client.get("/admin/audit", params=params)
        assert page.status_code == 200
        return re.findall(r'data-action="([a-z_]+)"', page.text)

    march_1 = {"since": "2025-03-01", "until": "2025-03-01"}
    assert await actions(**march_1) == ["export", "revoke"]  # 23:59 of Feb 28 is out
    assert await actions(since="2025-02-28", until="2025-02-28") == ["view_pii"]
    assert await actions(officer="rojas", **march_1) == ["export"]  # Carmen Rojas, by name
    assert await actions(officer="chief-a") == ["view_pii"]
    assert await actions(action="export") == ["export"]
    assert await actions(action="export", officer="chief-a") == []
    bad = await client.get("/admin/audit", params={"since": "2025-03-02", "until": "2025-03-01"})
    assert 'id="bad-dates"' in bad.text
    served.client.cookies.clear()


def _link(page: httpx.Response, link_id: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*id="{link_id}"', page.text)
    return html.unescape(found.group(1)) if found else None


async def test_audit_log_pages_newest_first(served: Served) -> None:
    await _audit_events(served)
    await signed_in_as(served, "admin")
    client = served.client
    events = await served.store.audit_events(0, 1000)
    pulls = [i for i, e in events if e.action == "pull_pii"][::-1]  # newest first
    assert len(pulls) == 120
    first = await client.get("/admin/audit", params={"officer": "off-a"})
    assert _events(first) == pulls[:50] and _link(first, "audit-newer") is None
    second = await client.get(_link(first, "audit-older") or "")
    assert _events(second) == pulls[50:100]
    third = await client.get(_link(second, "audit-older") or "")
    assert _events(third) == pulls[100:] and _link(third, "audit-older") is None
    back = await client.get(_link(third, "audit-newer") or "")
    assert _events(back) == pulls[50:100]
    assert "officer=off-a" in (_link(back, "audit-newest") or "")  # the filters stay
    served.client.cookies.clear()


async def test_admin_pages_refuse_other_roles(served: Served) -> None:
    await signed_in_as(served, "chief-a")
    for path in (
        "/admin/devices",
        "/admin/audit",
        f"/admin/devices/{served.people.officer_a.device_id}/revoke",
    ):
        assert (await served.client.get(path)).status_code == 403
    served.client.cookies.clear()
    assert (await served.client.get("/admin/audit")).headers["location"].startswith("/login")


async def test_the_api_audits_enrollments_and_revocations_too(served: Served) -> None:
    client, admin = served.client, served.auth("admin")
    issued = await client.post("/v1/admin/enrollments", json={"officer_id": "off-a"}, headers=admin)
    assert issued.status_code == 201
    device = served.people.officer_b.device_id
    url = f"/v1/admin/devices/{device}/revoke"
    assert (await client.post(url, headers=admin)).status_code == 200
    assert (await client.post(url, headers=admin)).status_code == 200  # again: no new event
    events = [(e.action, e.target, e.details) for _, e in await served.store.audit_events(0, 50)]
    by_api = {"via": "api", "via_device": served.people.admin.device_id}
    assert events == [
        ("enroll", "off-a", by_api),
        ("revoke", device, {**by_api, "officer_id": "off-b"}),
    ]
    await signed_in_as(served, "admin")
    page = await client.get("/admin/audit", params={"action": "revoke"})
    assert "Desde:</b> la API" in page.text and "Efectivo:</b> off-b" in page.text
    served.client.cookies.clear()


async def test_officers_page_names_roles_in_the_page_language(served: Served) -> None:
    await signed_in_as(served, "admin")
    es = await served.client.get("/admin/officers")
    assert "<td>comisario</td>" in es.text and '<option value="chief">comisario</option>' in es.text
    en = await served.client.get("/admin/officers", params={"lang": "en"})
    assert "<td>chief</td>" in en.text and "<td>administrator</td>" in en.text
    served.client.cookies.clear()
