"""Patrol plans over HTTP (issue 14 item 3): a chief publishes, the station's phones pull the
plan (and no other station's phones do), officers' positions become dosage against it, roles
and CSRF are checked, every write is audited, answers are as the OpenAPI document says. On
SQLite and, when RONDA_TEST_PG_URL is set, PostgreSQL.

The expected minutes are worked out by hand from the positions sent (docs/protocol.md,
"Dosage against a plan"), never by the code under test."""

from __future__ import annotations

from typing import Any

import h3

from sync.clock import HybridClock
from sync.store.records import AuditQuery
from tests.server.conftest import Served, served_on_both_backends, sign_in_web
from tests.server.test_openapi import check
from tests.support import batch, log_entry

CELL = h3.latlng_to_cell(-12.05, -77.03, 9)
NEAR = h3.grid_ring(CELL, 1)[0]  # a neighbour: its centre ~300 m from CELL's (res 9)
FAR = h3.grid_ring(CELL, 3)[0]  # 3 rings away: ~900 m
DAY = "2026-11-20"


served = served_on_both_backends()


def _at(cell: str, north_m: float = 0.0) -> tuple[int, int]:
    """A point in ``cell`` (its centre, moved ``north_m`` metres north) as lon_e6, lat_e6."""
    lat, lon = h3.cell_to_latlng(cell)
    return round(lon * 1e6), round((lat + north_m / 111_320) * 1e6)


async def _positions(served: Served, officer: str, fixes: list[tuple[str, str]]) -> None:
    """Push ``(Lima time of day, cell)`` positions of ``DAY`` as one device's log entries."""
    device = served.people.tokens[officer]
    ident = {"off-a": served.people.officer_a, "off-a2": served.people.officer_a2}[officer]
    clock, prev, changes = HybridClock(), "", []
    for n, (time, cell) in enumerate(fixes, start=1):
        lon_e6, lat_e6 = _at(cell, north_m=(n % 3) * 5.0)
        body = {"kind": "checkpoint", "at": f"{DAY}T{time}-05:00", "lon_e6": lon_e6}
        body["lat_e6"] = lat_e6
        entry = log_entry(ident.device_id, n, prev, clock, body)
        prev = entry["hash"]
        changes.append(entry)
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers={"Authorization": f"Bearer {device}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"]["applied"] == len(fixes), answer.text


def _plan(minutes: int = 10) -> dict[str, Any]:
    return {
        "date": DAY,
        "note": "Refuerzo",
        "assignments": [{"sector": "s1", "shift": "14-22", "minutes": minutes, "cells": [CELL]}],
    }


async def _pull(served: Served, officer: str) -> list[dict[str, Any]]:
    answer = await served.client.get("/v1/sync/pull", headers=served.auth(officer))
    return check(answer, "/v1/sync/pull", "get")["changes"]  # type: ignore[no-any-return]


async def test_a_plan_reaches_the_station_and_positions_become_dosage(served: Served) -> None:
    client = served.client
    made = await client.post("/v1/plans", json=_plan(), headers=served.auth("chief-a"))
    plan = check(made, "/v1/plans", "post")
    assert made.status_code == 201
    assert plan["assignments"][0]["starts_at"] == f"{DAY}T14:00:00-05:00"
    assert plan["assignments"][0]["ends_at"] == f"{DAY}T22:00:00-05:00"
    assert len(plan["assignments"][0]["cells"][0]["boundary"]) == 6

    pulled = [d for d in await _pull(served, "off-a") if d["collection"] == "patrol_plans"]
    assert [(d["id"], d["seq"], d["deleted"]) for d in pulled] == [(plan["id"], plan["seq"], False)]
    assert not [d for d in await _pull(served, "off-b") if d["collection"] == "patrol_plans"]

    # off-a: 15:00 -> 15:01 in (60 s), 15:01 -> 15:02:30 in (90 s), 15:02:30 -> 15:03 starts
    # in (30 s; ~300 m in 30 s is 10 m/s), 15:03 -> 15:13 is a 10-minute gap (dropped),
    # 15:13 -> 15:14 in (60 s),
    # 15:14 -> 15:14:10 jumps 3 rings away in 10 s (> 25 m/s: dropped), then outside;
    # 21:59:30 -> 22:00:30 starts inside the shift (60 s). 13:59 is before the shift.
    # Total 300 s = 5 minutes.
    await _positions(
        served,
        "off-a",
        [
            ("13:59:00", CELL),
            ("15:00:00", CELL),
            ("15:01:00", CELL),
            ("15:02:30", CELL),
            ("15:03:00", NEAR),
            ("15:13:00", CELL),
            ("15:14:00", CELL),
            ("15:14:10", FAR),
            ("15:15:00", FAR),
            ("21:59:30", CELL),
            ("22:00:30", CELL),
        ],
    )
    # off-a2: 16:00 -> 16:02 (120 s), a repeated 16:02 (0 s), 16:02 -> 16:04 (120 s): 4 minutes.
    await _positions(
        served,
        "off-a2",
        [("16:00:00", CELL), ("16:02:00", CELL), ("16:02:00", CELL), ("16:04:00", CELL)],
    )
    answer = await client.get(f"/v1/plans/{plan['id']}/dosage", headers=served.auth("chief-a"))
    dosage = check(answer, "/v1/plans/{plan_id}/dosage", "get")
    (done,) = dosage["assignments"]
    assert (done["sector"], done["shift"], done["planned_minutes"]) == ("s1", "14-22", 10)
    assert {o["officer_id"]: o["minutes"] for o in done["officers"]} == {
        "off-a": 5.0,
        "off-a2": 4.0,
    }
    assert done["minutes"] == 9.0
    assert done["cells"] == [{"cell": CELL, "minutes": 9.0}]
    assert done["progress"] == 0.9
    analyst = await client.get(f"/v1/plans/{plan['id']}/dosage", headers=served.auth("analyst"))
    assert check(analyst, "/v1/plans/{plan_id}/dosage", "get")["assignments"] == [done]

    audit = await served.store.audit_search(AuditQuery(actions=("publish_plan",)))
    assert [(e.officer_id, e.target) for _, e in audit] == [("chief-a", plan["id"])]
    views = await served.store.audit_search(AuditQuery(actions=("view_plan_dosage",)))
    assert sorted(e.officer_id for _, e in views) == ["analyst", "chief-a"]


async def test_roles_scope_and_withdrawal(served: Served) -> None:
    client = served.client
    for who in ("off-a", "analyst", "admin"):
        refused = await client.post("/v1/plans", json=_plan(), headers=served.auth(who))
        assert check(refused, "/v1/plans", "post")["error"]["code"] == "forbidden", who
    plan = check(
        await client.post("/v1/plans", json=_plan(), headers=served.auth("chief-a")),
        "/v1/plans",
        "post",
    )
    path = f"/v1/plans/{plan['id']}"
    assert (
        check(await client.get(path, headers=served.auth("off-a")), "/v1/plans/{plan_id}", "get")[
            "id"
        ]
        == plan["id"]
    )
    hidden = await client.get(path, headers=served.auth("off-b"))
    assert check(hidden, "/v1/plans/{plan_id}", "get")["error"]["code"] == "not_found"
    officer = await client.get(path + "/dosage", headers=served.auth("off-a"))
    assert check(officer, "/v1/plans/{plan_id}/dosage", "get")["error"]["code"] == "forbidden"
    listed = await client.get("/v1/plans", params={"date": DAY}, headers=served.auth("off-a"))
    assert [p["id"] for p in check(listed, "/v1/plans", "get")["plans"]] == [plan["id"]]
    other = await client.get("/v1/plans", headers=served.auth("off-b"))
    assert check(other, "/v1/plans", "get")["plans"] == []

    bad = {
        **_plan(),
        "assignments": [
            {
                "sector": "s1",
                "shift": "14-22",
                "minutes": 5,
                "cells": ["8f0000000000000", "000000000000000"],  # resolution 15; not a cell
            }
        ],
    }
    refused = await client.post("/v1/plans", json=bad, headers=served.auth("chief-a"))
    assert check(refused, "/v1/plans", "post")["error"]["code"] == "invalid_request"
    twice = {**_plan(), "assignments": [_plan()["assignments"][0]] * 2}
    refused = await client.post("/v1/plans", json=twice, headers=served.auth("chief-a"))
    assert check(refused, "/v1/plans", "post")["error"]["code"] == "invalid_request"

    gone = await client.delete(path, headers=served.auth("chief-a"))
    assert check(gone, "/v1/plans/{plan_id}", "delete")["deleted"] is True
    again = await client.delete(path, headers=served.auth("chief-a"))
    assert check(again, "/v1/plans/{plan_id}", "delete")["error"]["code"] == "not_found"
    pulled = [d for d in await _pull(served, "off-a") if d["collection"] == "patrol_plans"]
    assert [(d["id"], d["deleted"]) for d in pulled] == [(plan["id"], True)]
    listed = await client.get("/v1/plans", headers=served.auth("chief-a"))
    assert check(listed, "/v1/plans", "get")["plans"] == []
    withdrawn = await served.store.audit_search(AuditQuery(actions=("withdraw_plan",)))
    assert [e.target for _, e in withdrawn] == [plan["id"]]


async def test_the_web_session_needs_its_csrf_token(served: Served) -> None:
    await sign_in_web(served, "chief-a")
    client = served.client
    refused = await client.post("/v1/plans", json=_plan())
    assert check(refused, "/v1/plans", "post")["error"]["code"] == "forbidden"
    page = await client.get("/plans")
    assert page.status_code == 200
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    made = await client.post("/v1/plans", json=_plan(), headers={"X-CSRF-Token": token})
    plan = check(made, "/v1/plans", "post")
    devices = await served.store.list_devices("chief-a")
    assert "web-chief-a" in {d.id for d in devices}
    shown = await client.get("/plans", params={"date": DAY})
    assert f'data-id="{plan["id"]}"' in shown.text
    client.cookies.clear()
    anonymous = await client.get("/v1/plans/hot-cells")
    assert check(anonymous, "/v1/plans/hot-cells", "get")["error"]["code"] == "unauthorized"
    hot = await client.get("/v1/plans/hot-cells", headers=served.auth("chief-a"))
    assert check(hot, "/v1/plans/hot-cells", "get")["cells"] == []


async def test_a_phone_cannot_push_a_plan(served: Served) -> None:
    change = {"collection": "patrol_plans", "id": "plan-x", "op": "upsert", "hlc": "0-0"}
    answer = await served.client.post(
        "/v1/sync/push", json=batch([change]), headers=served.auth("chief-a")
    )
    (result,) = check(answer, "/v1/sync/push", "post")["results"]
    assert (result["status"], result["error"]["code"]) == ("rejected", "unknown_collection")
