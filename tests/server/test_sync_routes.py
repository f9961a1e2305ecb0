"""The sync endpoints over HTTP (in-process): bodies, encodings, limits, tokens, logs."""

from __future__ import annotations

import gzip
import io
import logging
import zlib

import httpx
import orjson
import pytest

from server.logs import JSONFormatter
from server.settings import Settings, SyncSettings
from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.support import batch, incident, log_entry, new_id

pytestmark = pytest.mark.asyncio
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def app_settings() -> Settings:
    sync = SyncSettings(max_body_bytes=64 * 1024, max_decompressed_bytes=256 * 1024)
    return Settings(_env_file=None, sync=sync)


async def _pull_ids(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    answer = await client.get("/v1/sync/pull", params={"limit": 1000}, headers=headers)
    assert answer.status_code == 200
    return {c["id"] for c in answer.json()["changes"]}


def _error(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


async def test_push_pull_over_http(app_client: httpx.AsyncClient, served: Served) -> None:
    clock = HybridClock()
    rid = new_id()
    body = batch([incident(rid, clock)])
    answer = await app_client.post("/v1/sync/push", json=body, headers=served.auth("off-a"))
    assert answer.status_code == 200 and answer.json()["summary"]["applied"] == 1
    again = await app_client.post("/v1/sync/push", json=body, headers=served.auth("off-a"))
    assert again.content == answer.content and again.headers["ronda-replayed"] == "true"
    assert await _pull_ids(app_client, served.auth("chief-a")) == {rid}
    assert await _pull_ids(app_client, served.auth("off-b")) == set()


async def test_compressed_bodies(app_client: httpx.AsyncClient, served: Served) -> None:
    clock = HybridClock()
    headers = served.auth("off-a")
    ids = []
    for encoding, pack in (("gzip", gzip.compress), ("deflate", zlib.compress)):
        rid = new_id()
        ids.append(rid)
        raw = pack(orjson.dumps(batch([incident(rid, clock)])))
        answer = await app_client.post(
            "/v1/sync/push", content=raw, headers={**headers, **JSON, "Content-Encoding": encoding}
        )
        assert answer.status_code == 200, answer.text
    assert await _pull_ids(app_client, headers) == set(ids)


async def test_bad_bodies_lose_nothing_else(app_client: httpx.AsyncClient, served: Served) -> None:
    headers = served.auth("off-a")
    clock = HybridClock()
    kept = new_id()
    await app_client.post("/v1/sync/push", json=batch([incident(kept, clock)]), headers=headers)
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode="wb") as packer:
        for _ in range(64):
            packer.write(b" " * (1 << 20))  # 64 MiB of spaces: valid JSON padding
    cases = [
        (b'{"batch_id": "b", "changes": [', {}, 400, "invalid_json"),
        (b"[1, 2]", {}, 400, "invalid_request"),
        (b"x" * (70 * 1024), {}, 413, "payload_too_large"),
        (bomb.getvalue(), {"Content-Encoding": "gzip"}, 413, "payload_too_large"),
        (b"\x1f\x8b\x08garbage", {"Content-Encoding": "gzip"}, 400, "invalid_request"),
        (b"{}", {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
    ]
    assert len(bomb.getvalue()) < 64 * 1024
    for content, extra, status, code in cases:
        answer = await app_client.post(
            "/v1/sync/push", content=content, headers={**headers, **JSON, **extra}
        )
        assert (answer.status_code, _error(answer)) == (status, code), content[:30]
    assert await _pull_ids(app_client, headers) == {kept}
    assert (await app_client.get("/readyz")).status_code == 200


async def test_tokens_and_revocation(app_client: httpx.AsyncClient, served: Served) -> None:
    assert _error(await app_client.get("/v1/sync/pull")) == "unauthorized"
    bad = {"Authorization": "Bearer rdt_not-a-token"}
    assert (await app_client.get("/v1/sync/pull", headers=bad)).status_code == 401
    officer = served.auth("off-a")
    assert (await app_client.get("/v1/sync/pull", headers=officer)).status_code == 200
    device_id = served.people.officer_a.device_id
    forbidden = await app_client.post(
        f"/v1/admin/devices/{device_id}/revoke", headers=served.auth("chief-a")
    )
    assert forbidden.status_code == 403
    revoked = await app_client.post(
        f"/v1/admin/devices/{device_id}/revoke", headers=served.auth("admin")
    )
    assert revoked.json() == {"device_id": device_id, "revoked": True}
    answer = await app_client.get("/v1/sync/pull", headers=officer)
    assert (answer.status_code, _error(answer)) == (401, "unauthorized")
    push = await app_client.post(
        "/v1/sync/push", json=batch([incident(new_id(), HybridClock())]), headers=officer
    )
    assert push.status_code == 401


async def test_enrollment_flow(app_client: httpx.AsyncClient, served: Served) -> None:
    admin = served.auth("admin")
    issued = await app_client.post(
        "/v1/admin/enrollments", json={"officer_id": "off-b"}, headers=admin
    )
    assert issued.status_code == 201
    code = issued.json()["code"]
    enrolled = await app_client.post(
        "/v1/enroll", json={"code": code.lower(), "device_name": "Moto G"}
    )
    assert enrolled.status_code == 201, enrolled.text
    token = enrolled.json()["token"]
    me = await app_client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["station_id"] == "st-b" and me.json()["role"] == "officer"
    reuse = await app_client.post("/v1/enroll", json={"code": code, "device_name": "otro"})
    assert (reuse.status_code, _error(reuse)) == (403, "enrollment_invalid")


async def test_conflicts_and_chain_endpoints(app_client: httpx.AsyncClient, served: Served) -> None:
    people = served.people
    rid = new_id()
    later = HybridClock(offset_ms=5000)
    early = HybridClock()
    first = batch([incident(rid, early)])
    await app_client.post("/v1/sync/push", json=first, headers=served.auth("off-a"))
    win = batch([incident(rid, later, {"status": "closed"}, base_seq=1)])
    lose = batch([incident(rid, early, {"status": "referred"}, base_seq=1)])
    await app_client.post("/v1/sync/push", json=win, headers=served.auth("off-a2"))
    await app_client.post("/v1/sync/push", json=lose, headers=served.auth("off-a"))
    listed = await app_client.get("/v1/conflicts", headers=served.auth("chief-a"))
    assert [(c["field"], c["losing_value"]) for c in listed.json()["conflicts"]] == [
        ("status", "referred")
    ]
    assert (await app_client.get("/v1/conflicts", headers=served.auth("off-a"))).status_code == 403
    device = people.officer_a.device_id
    e1 = log_entry(device, 1, "", early)
    await app_client.post("/v1/sync/push", json=batch([e1]), headers=served.auth("off-a"))
    report = await app_client.get(f"/v1/chains/{device}", headers=served.auth("chief-a"))
    assert report.json()["intact"] is True and report.json()["entries"] == 1
    other = await app_client.get(f"/v1/chains/{device}", headers=served.auth("off-b"))
    assert other.status_code == 403


async def test_logs_hold_no_tokens_or_personal_data(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("ronda")
    logger.addHandler(handler)
    try:
        pii = {"victims": [{"name": "Juana Ccori", "dni": "47112233"}]}
        body = batch([incident(new_id(), HybridClock(), pii=pii)])
        headers = served.auth("off-a")
        await app_client.post("/v1/sync/push", json=body, headers=headers)
        await app_client.get("/v1/sync/pull", headers=headers)
        await app_client.post("/v1/sync/push", content=b"{bad", headers={**headers, **JSON})
    finally:
        logger.removeHandler(handler)
    text = lines.getvalue()
    assert '"route":"/v1/sync/push"' in text
    token = served.people.tokens["off-a"]
    for secret in ("Juana", "47112233", token, token[4:20]):
        assert secret not in text


async def test_pulling_personal_data_is_audited(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    pii = {"victims": [{"name": "Juana Ccori", "dni": "47112233"}]}
    body = batch([incident(new_id(), HybridClock(), pii=pii)])
    await app_client.post("/v1/sync/push", json=body, headers=served.auth("off-a"))
    await app_client.get("/v1/sync/pull", headers=served.auth("off-a2"))  # redacted: no audit
    await app_client.get("/v1/sync/pull", headers=served.auth("chief-a"))
    events = await served.store.audit_events(0, 10)
    assert [(e.officer_id, e.action, e.details["records"]) for _, e in events] == [
        ("chief-a", "pull_pii", 1)
    ]
