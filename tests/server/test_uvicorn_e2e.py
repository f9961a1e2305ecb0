"""End to end against a real uvicorn process: enroll, push, pull, gzip, a bomb, metrics,
revocation, and logs that hold neither tokens nor personal data."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from sync.clock import HybridClock
from tests.server_process import ServerProcess, own_postgres_database, seed_database
from tests.support import incident, log_entry, new_id, store_params

pytestmark = pytest.mark.slow

VICTIM = "Zoila Ccahuana Puma"
WITNESS = "Eusebio Tintaya Quispe"
DNI = "45871236"
BOMB_CHUNK = 1 << 20
BOMB_CHUNKS = 1024  # 1 GiB of zeros


async def gzip_bomb() -> AsyncIterator[bytes]:
    """1 GiB of zeros as a valid gzip stream of ~1 MB, made and sent chunk by chunk.

    After a full flush the deflate state starts afresh, so every 1 MiB block of zeros
    compresses to the same bytes: compress one, repeat it, and close with the real trailer.
    """
    zeros = bytes(BOMB_CHUNK)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip header, no name, no mtime
    crc = 0
    for _ in range(BOMB_CHUNKS):
        crc = zlib.crc32(zeros, crc)
        yield block
    size = (BOMB_CHUNK * BOMB_CHUNKS) & 0xFFFFFFFF
    yield b"\x03\x00" + struct.pack("<II", crc, size)  # empty final block, CRC32, ISIZE


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def pull_all(http: httpx.AsyncClient, token: str) -> dict[str, dict[str, Any]]:
    response = await http.get("/v1/sync/pull", params={"limit": 1000}, headers=auth(token))
    assert response.status_code == 200, response.text
    page = response.json()
    assert not page["has_more"]
    return {change["id"]: change for change in page["changes"]}


async def enroll(http: httpx.AsyncClient, admin_token: str, officer_id: str) -> dict[str, Any]:
    """A one-time code from the admin, redeemed by a new phone; the code works only once."""
    made = await http.post(
        "/v1/admin/enrollments", json={"officer_id": officer_id}, headers=auth(admin_token)
    )
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    redeemed = await http.post("/v1/enroll", json={"code": code, "device_name": "Moto G 3"})
    assert redeemed.status_code == 201, redeemed.text
    again = await http.post("/v1/enroll", json={"code": code, "device_name": "thief"})
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "enrollment_invalid"
    device: dict[str, Any] = redeemed.json() | {"code": code}
    return device


def pii_incident(clock: HybridClock) -> dict[str, Any]:
    fields = {
        "category": "robo_agravado",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "address_text": "Jr. Huallaga cdra. 5",
    }
    pii = {"victims": [{"name": VICTIM, "dni": DNI}], "witnesses": [{"name": WITNESS}]}
    return incident(new_id(), clock, fields, pii=pii)


async def push(
    http: httpx.AsyncClient, token: str, changes: list[dict[str, Any]], compress: bool = False
) -> dict[str, Any]:
    body = orjson.dumps({"batch_id": new_id(), "changes": changes})
    headers = auth(token) | {"Content-Type": "application/json"}
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    response = await http.post("/v1/sync/push", content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["summary"] == {"applied": len(changes), "unchanged": 0, "rejected": 0}
    return answer


def metric(text: str, name: str) -> float:
    """The value of one sample line, e.g. ``ronda_syncs_total{kind="push"}``."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


async def check_bomb(http: httpx.AsyncClient, token: str) -> None:
    headers = auth(token) | {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = await http.post("/v1/sync/push", content=gzip_bomb(), headers=headers)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/readyz")).status_code == 200


async def check_revocation(
    http: httpx.AsyncClient, admin_token: str, device: dict[str, Any], other_token: str
) -> None:
    revoked = await http.post(
        f"/v1/admin/devices/{device['device_id']}/revoke", headers=auth(admin_token)
    )
    assert revoked.status_code == 200, revoked.text
    refused = await http.get("/v1/sync/pull", headers=auth(device["token"]))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    pushed = await http.post(
        "/v1/sync/push", json={"batch_id": new_id(), "changes": []}, headers=auth(device["token"])
    )
    assert pushed.status_code == 401
    assert (await http.get("/v1/sync/pull", headers=auth(other_token))).status_code == 200


def check_logs(server: ServerProcess, secrets: list[str]) -> None:
    text = server.logs()
    for secret in secrets:
        assert secret not in text, f"a secret or personal datum reached the logs: {secret[:6]}…"
    lines = server.stderr_path.read_text().splitlines()
    records = [orjson.loads(line) for line in lines if line.startswith("{")]
    assert any(r.get("route") == "/v1/sync/push" and r.get("status") == 413 for r in records)
    assert not any(r.get("level") == "error" for r in records)


async def database_for(kind: str, tmp_path: Path) -> str:
    if kind == "postgres":
        return await own_postgres_database("ronda_e2e")
    return f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"


@pytest.mark.parametrize("kind", store_params())
async def test_real_server_end_to_end(kind: str, tmp_path: Path) -> None:
    url = await database_for(kind, tmp_path)
    people = await seed_database(url)
    tokens = people.tokens
    clock = HybridClock()
    async with (
        ServerProcess(url, tmp_path / "logs") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as http,
    ):
        device = await enroll(http, tokens["admin"], "off-a")
        me = (await http.get("/v1/me", headers=auth(device["token"]))).json()
        assert (me["device_id"], me["officer_id"]) == (device["device_id"], "off-a")
        first = pii_incident(clock)
        await push(http, device["token"], [first])
        entry = log_entry(device["device_id"], 1, "", clock)
        second = pii_incident(clock)
        await push(http, device["token"], [second, entry], compress=True)
        mine = await pull_all(http, device["token"])
        assert {first["id"], second["id"], entry["id"]} <= set(mine)
        assert mine[first["id"]]["pii"]["victims"][0]["dni"] == DNI  # the author sees it
        others = await pull_all(http, tokens["off-a2"])
        assert all("pii" not in others[i] for i in (first["id"], second["id"]))

        await check_bomb(http, device["token"])
        after = await pull_all(http, tokens["chief-a"])
        assert {first["id"], second["id"], entry["id"]} <= set(after)
        third = incident(new_id(), clock)
        await push(http, device["token"], [third])

        metrics = (await http.get("/metrics")).text
        assert metric(metrics, 'ronda_syncs_total{kind="push"}') >= 3
        assert metric(metrics, 'ronda_syncs_total{kind="pull"}') >= 3
        assert metric(metrics, 'ronda_sync_changes_total{status="applied"}') >= 4
        assert metric(metrics, 'ronda_http_requests_total{route="/v1/sync/push",status="413"}') == 1

        await check_revocation(http, tokens["admin"], device, tokens["off-a2"])
        final = await pull_all(http, tokens["chief-a"])
        assert {first["id"], second["id"], entry["id"], third["id"]} <= set(final)
    secrets = [*tokens.values(), device["token"], device["code"], VICTIM, WITNESS, DNI]
    check_logs(server, secrets)
