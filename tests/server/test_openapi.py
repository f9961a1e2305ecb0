"""The OpenAPI document: valid 3.1, complete, and true to what the app really answers."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from server import web
from server.openapi import openapi_document
from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.support import batch, incident, log_entry, new_id

DOC = openapi_document()


def check(answer: httpx.Response, path: str, method: str) -> dict[str, Any]:
    """Validate an answer against the schema documented for its endpoint and status."""
    responses = DOC["paths"][path][method]["responses"]
    status = str(answer.status_code)
    assert status in responses, f"{method.upper()} {path} answered {status}, not documented"
    schema = responses[status]["content"]["application/json"]["schema"]
    body = answer.json()
    root = {**schema, "components": DOC["components"]}
    validator = jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(body), key=str)
    assert not errors, f"{method.upper()} {path} {status}: {errors[0]}"
    return body  # type: ignore[no-any-return]


def test_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"] == "3.1.0"
    validate(DOC)


# The browser pages and their cookie-session data (server.web) are not the API: they are
# HTML, forms and the map's own GeoJSON, changed with the pages; the OpenAPI document covers
# the API that other programs use (the public API under /public/... included).
WEB_PATHS = {route.path for route in web.routes}


def test_every_route_is_documented_and_nothing_else(served: Served) -> None:
    served_ops = set()
    for route in served.app.routes:
        assert isinstance(route, Route)
        if route.path in WEB_PATHS:
            continue
        for method in route.methods or ():
            if method != "HEAD":
                served_ops.add((route.path, method.lower()))
    templates = {route.path: route for route in served.app.routes if isinstance(route, Route)}

    def served_by(path: str) -> str:
        """The route that serves a documented path: itself, or for a public layer's own path
        (`/tiles/stations/{z}/{x}/{y}.mvt`) the templated route it is an instance of."""
        if path in templates:
            return path
        sample = re.sub(r"\{[a-z_]+\}", "0", path)
        found = [t for t, r in templates.items() if r.path_regex.match(sample)]
        assert len(found) == 1, (path, found)
        return found[0]

    documented = {
        (served_by(path), method) for path, item in DOC["paths"].items() for method in item
    }
    assert served_ops == documented
    assert {"/healthz", "/readyz", "/metrics", "/openapi.json"} <= {p for p, _ in served_ops}


def test_operations_declare_bearer_401_and_500() -> None:
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            if op["security"]:
                # The map endpoints take the token as Basic's password too (QGIS).
                maps = path.startswith(("/tiles/", "/ogc/"))
                assert op["security"] == [{"bearer": []}, *([{"basic": []}] if maps else [])]
                assert "401" in op["responses"], (path, method)
            assert "500" in op["responses"], (path, method)


def test_parameters_have_bounds_and_defaults() -> None:
    pull = {p["name"]: p for p in DOC["paths"]["/v1/sync/pull"]["get"]["parameters"]}
    assert pull["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100_000,
        "default": 500,
    }
    assert pull["cursor"]["schema"]["type"] == "string"
    conflicts = {p["name"]: p for p in DOC["paths"]["/v1/conflicts"]["get"]["parameters"]}
    assert conflicts["after"]["schema"]["default"] == 0
    assert conflicts["limit"]["schema"]["maximum"] == 1000


async def test_served_document_is_the_document(app_client: httpx.AsyncClient) -> None:
    answer = await app_client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.json() == DOC


async def test_enroll_and_admin_answers_match(served: Served) -> None:
    client, admin = served.client, served.auth("admin")
    issued = await client.post("/v1/admin/enrollments", json={"officer_id": "off-a"}, headers=admin)
    code = check(issued, "/v1/admin/enrollments", "post")["code"]
    enrolled = await client.post("/v1/enroll", json={"code": code, "device_name": "Moto G"})
    new_device = check(enrolled, "/v1/enroll", "post")["device_id"]
    again = await client.post("/v1/enroll", json={"code": code, "device_name": "Moto G"})
    assert check(again, "/v1/enroll", "post")["error"]["code"] == "enrollment_invalid"
    station = {"id": "st-c", "name": "Comisaría C", "district_code": None}
    check(await client.post("/v1/admin/stations", json=station, headers=admin), *_ST_POST)
    check(await client.get("/v1/admin/stations", headers=served.auth("chief-a")), *_ST_GET)
    officer = {"id": "off-c", "name": "Pedro Ríos", "role": "officer", "station_id": "st-zz"}
    missing = await client.post("/v1/admin/officers", json=officer, headers=admin)
    assert check(missing, "/v1/admin/officers", "post")["error"]["code"] == "not_found"
    officer["station_id"] = "st-c"
    check(await client.post("/v1/admin/officers", json=officer, headers=admin), *_OF_POST)
    check(await client.get("/v1/admin/officers", headers=admin), "/v1/admin/officers", "get")
    devices = check(
        await client.get("/v1/admin/devices", headers=admin), "/v1/admin/devices", "get"
    )
    assert new_device in {d["id"] for d in devices["devices"]}
    revoke = f"/v1/admin/devices/{new_device}/revoke"
    check(await client.post(revoke, headers=admin), "/v1/admin/devices/{device_id}/revoke", "post")
    reload = await client.post("/v1/admin/places/reload", headers=admin)
    assert check(reload, "/v1/admin/places/reload", "post")["placement"] is False
    refused = await client.get("/v1/admin/devices", headers=served.auth("off-a"))
    assert check(refused, "/v1/admin/devices", "get")["error"]["code"] == "forbidden"


_ST_POST = ("/v1/admin/stations", "post")
_ST_GET = ("/v1/admin/stations", "get")
_OF_POST = ("/v1/admin/officers", "post")


@pytest.mark.parametrize(
    ("officer", "role"),
    [("off-a", "officer"), ("chief-a", "chief"), ("analyst", "analyst"), ("admin", "admin")],
)
async def test_me_answers_match(served: Served, officer: str, role: str) -> None:
    answer = await served.client.get("/v1/me", headers=served.auth(officer))
    assert check(answer, "/v1/me", "get")["role"] == role


async def test_sync_answers_match(served: Served) -> None:
    client, people = served.client, served.people
    clock, rid = HybridClock(), new_id()
    device = people.officer_a.device_id
    changes = [
        incident(rid, clock, pii={"victims": [{"name": "María Torres", "age": 34}]}),
        log_entry(device, 1, "", clock),
        {"collection": "vehicles", "id": "x"},
    ]
    body = {**batch(changes), "device_time_ms": 1}
    pushed = await client.post("/v1/sync/push", json=body, headers=served.auth("off-a"))
    answer = check(pushed, "/v1/sync/push", "post")
    assert answer["summary"] == {"applied": 2, "unchanged": 0, "rejected": 1}
    assert "clock_offset_ms" in answer
    replay = await client.post("/v1/sync/push", json=body, headers=served.auth("off-a"))
    assert replay.headers["Ronda-Replayed"] == "true"
    check(replay, "/v1/sync/push", "post")
    reused = await client.post(
        "/v1/sync/push", json={**body, "changes": []}, headers=served.auth("off-a")
    )
    assert check(reused, "/v1/sync/push", "post")["error"]["code"] == "batch_id_reused"
    # a concurrent edit (base_seq 0) and a delete give a conflict and a tombstone
    other = incident(rid, HybridClock(offset_ms=1000), {"status": "closed"}, base_seq=0)
    delete = incident(rid, HybridClock(offset_ms=2000), op="delete", base_seq=1)
    await client.post("/v1/sync/push", json=batch([other]), headers=served.auth("off-a2"))
    await client.post("/v1/sync/push", json=batch([delete]), headers=served.auth("chief-a"))
    for who in ("off-a", "off-a2", "chief-a", "analyst", "off-b"):
        page = await client.get("/v1/sync/pull", params={"limit": 1}, headers=served.auth(who))
        check(page, "/v1/sync/pull", "get")
    full = check(await client.get("/v1/sync/pull", headers=served.auth("chief-a")), *_PULL)
    assert {c["collection"] for c in full["changes"]} == {"incidents", "patrol_logs"}
    assert any(c.get("deleted") and "pii" in c for c in full["changes"])
    conflicts = await client.get("/v1/conflicts", headers=served.auth("chief-a"))
    assert check(conflicts, "/v1/conflicts", "get")["conflicts"]
    chain = await client.get(f"/v1/chains/{device}", headers=served.auth("chief-a"))
    assert check(chain, "/v1/chains/{device_id}", "get")["intact"] is True


_PULL = ("/v1/sync/pull", "get")


async def test_snapshot_lines_match(served: Served) -> None:
    """Every line of a snapshot is a ``SnapshotLine``; a refused one is a documented error."""
    client, clock = served.client, HybridClock()
    device = served.people.officer_a.device_id
    pii = {"victims": [{"name": "María Torres", "age": 34}]}
    changes = [incident(new_id(), clock, pii=pii), log_entry(device, 1, "", clock)]
    await client.post("/v1/sync/push", json=batch(changes), headers=served.auth("off-a"))
    schema = DOC["paths"]["/v1/sync/snapshot"]["get"]["responses"]["200"]["content"]
    root = {**schema["application/x-ndjson"]["schema"], "components": DOC["components"]}
    validator = jsonschema.Draft202012Validator(root)
    for who in ("off-a", "chief-a", "analyst"):
        answer = await client.get("/v1/sync/snapshot", headers=served.auth(who))
        assert answer.status_code == 200
        lines = [orjson.loads(line) for line in answer.content.splitlines()]
        for line in lines:
            errors = sorted(validator.iter_errors(line), key=str)
            assert not errors, f"{who}: {line}: {errors[0]}"
        assert lines[-1]["complete"] is True and lines[-1]["count"] == len(lines) - 1
    refused = await client.get("/v1/sync/snapshot", headers=served.auth("admin"))
    assert check(refused, "/v1/sync/snapshot", "get")["error"]["code"] == "forbidden"
    bad = await client.get(
        "/v1/sync/snapshot", params={"cursor": "ffffffffffff.9"}, headers=served.auth("off-a")
    )
    assert check(bad, "/v1/sync/snapshot", "get")["error"]["code"] == "invalid_cursor"


async def test_sync_error_answers_match(served: Served) -> None:
    client = served.client
    bad_cursor = await client.get(
        "/v1/sync/pull", params={"cursor": "x"}, headers=served.auth("off-a")
    )
    assert check(bad_cursor, *_PULL)["error"]["code"] == "invalid_cursor"
    bad_limit = await client.get("/v1/sync/pull", params={"limit": 0}, headers=served.auth("off-a"))
    assert check(bad_limit, *_PULL)["error"]["code"] == "invalid_request"
    admin_pull = await client.get("/v1/sync/pull", headers=served.auth("admin"))
    assert check(admin_pull, *_PULL)["error"]["code"] == "forbidden"
    no_token = await client.post("/v1/sync/push", json=batch([]))
    assert check(no_token, "/v1/sync/push", "post")["error"]["code"] == "unauthorized"
    json_type = {**served.auth("off-a"), "Content-Type": "application/json"}
    headers = {**json_type, "Content-Encoding": "br"}
    encoded = await client.post("/v1/sync/push", content=b"{}", headers=headers)
    assert check(encoded, "/v1/sync/push", "post")["error"]["code"] == "unsupported_encoding"
    not_json = await client.post("/v1/sync/push", content=b"{", headers=json_type)
    assert check(not_json, "/v1/sync/push", "post")["error"]["code"] == "invalid_json"
    deep = await client.post("/v1/sync/push", content=b"[" * 300 + b"]" * 300, headers=json_type)
    assert check(deep, "/v1/sync/push", "post")["error"]["code"] == "too_deep"
    form = await client.post("/v1/sync/push", content=b"{}", headers=served.auth("off-a"))
    assert check(form, "/v1/sync/push", "post")["error"]["code"] == "unsupported_media_type"
    too_many = {"batch_id": "b1", "changes": [{}] * 1001}
    big = await client.post("/v1/sync/push", json=too_many, headers=served.auth("off-a"))
    assert check(big, "/v1/sync/push", "post")["error"]["code"] == "batch_too_large"
    officer = await client.get("/v1/conflicts", headers=served.auth("off-a"))
    assert check(officer, "/v1/conflicts", "get")["error"]["code"] == "forbidden"


async def test_health_answers_match(app_client: httpx.AsyncClient) -> None:
    check(await app_client.get("/healthz"), "/healthz", "get")
    check(await app_client.get("/readyz"), "/readyz", "get")
    metrics = await app_client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "text/plain" in DOC["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
