"""The chiefs' notices page (/notices): post through the form (CSRF), see who acknowledged and
who not yet, withdraw; officers are refused; an analyst may name a district."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sync.clock import HybridClock
from tests.server.conftest import Served, sign_in_web
from tests.support import new_id


async def _csrf(served: Served) -> str:
    page = await served.client.get("/notices")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


async def test_chief_posts_sees_acknowledgements_and_withdraws(served: Served) -> None:
    await sign_in_web(served, "chief-a")
    csrf = await _csrf(served)
    form = {"csrf": csrf, "text": "Buscado: moto roja", "category": "robo", "hours": "4"}
    posted = await served.client.post("/notices", data=form)
    assert posted.status_code == 303 and posted.headers["location"] == "/notices?msg=posted"
    page = await served.client.get("/notices?msg=posted")
    assert "Aviso publicado" in page.text and "Buscado: moto roja" in page.text
    nid = re.search(r'data-notice="([^"]+)"', page.text)
    assert nid
    # Written under the chief's web device, and pulled by the station's phones.
    got = await served.client.get("/v1/sync/pull", headers=served.auth("off-a"))
    docs = [c for c in got.json()["changes"] if c["collection"] == "notices"]
    assert [(d["notice_id"], d["station_id"]) for d in docs] == [(nid.group(1), "st-a")]
    change = {
        "collection": "notice_acks",
        "id": nid.group(1),
        "op": "ack",
        "hlc": str(HybridClock().tick()),
        "at": datetime.now(UTC).isoformat(),
    }
    body = {"batch_id": new_id(), "changes": [change]}
    pushed = await served.client.post("/v1/sync/push", json=body, headers=served.auth("off-a"))
    assert pushed.json()["results"][0]["status"] == "applied"
    page = await served.client.get("/notices")
    acked = re.search(r'class="ack-count">(\d+)<', page.text)
    assert acked and acked.group(1) == "1"
    assert "Ana Quispe" in page.text  # off-a acknowledged
    missing = page.text.split('class="missing"')[1].split("</p>")[0]
    assert "Luis Mamani" in missing and "Ana Quispe" not in missing
    stale = await served.client.post(f"/notices/{nid.group(1)}/withdraw", data={"csrf": "x"})
    assert stale.status_code == 403
    gone = await served.client.post(f"/notices/{nid.group(1)}/withdraw", data={"csrf": csrf})
    assert gone.headers["location"] == "/notices?msg=withdrawn"
    assert "Buscado: moto roja" not in (await served.client.get("/notices")).text


async def test_officers_are_refused_and_analysts_name_a_district(served: Served) -> None:
    await sign_in_web(served, "off-a")
    assert (await served.client.get("/notices")).status_code == 403
    await sign_in_web(served, "analyst")
    csrf = await _csrf(served)
    form = {"csrf": csrf, "text": "Aviso distrital", "category": "robo", "district": "150102"}
    assert (await served.client.post("/notices", data=form)).status_code == 303
    got = await served.client.get("/v1/sync/pull", headers=served.auth("off-b"))
    assert [c["station_id"] for c in got.json()["changes"] if c["collection"] == "notices"] == [
        "st-b"
    ]
    bad = {"csrf": csrf, "text": "   ", "category": "robo"}
    refused = await served.client.post("/notices", data=bad)
    assert refused.headers["location"] == "/notices?msg=invalid"


async def test_every_notices_route_sends_the_signed_out_to_login_and_refuses_officers(
    served: Served,
) -> None:
    routes = [("GET", "/notices"), ("POST", "/notices"), ("POST", f"/notices/{new_id()}/withdraw")]
    for method, path in routes:
        answer = await served.client.request(method, path)
        assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fnotices"
    await sign_in_web(served, "off-a")
    for method, path in routes:
        assert (await served.client.request(method, path)).status_code == 403, path
