"""Every error answer has one shape: {"error": {"code": str, "message": str, "details": {}}}.

And a 500 says nothing internal: no exception text, type or traceback reaches the client.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from server.app import create_app
from server.settings import DatabaseSettings, ServerSettings, Settings, SyncSettings
from sync.store.sql import SQLStore
from tests.server.conftest import Served
from tests.support import batch

SECRET = "s3cr3t-internal-detail /var/lib/ronda rdt_leaked"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def app_settings() -> Settings:
    # Small caps so that "too large" needs only small bodies.
    sync = SyncSettings(max_body_bytes=2048, max_decompressed_bytes=4096, max_changes=5)
    return Settings(_env_file=None, sync=sync)


def assert_error_shape(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["code"] == code
    return error  # type: ignore[no-any-return]


CASES: list[tuple[str, str, str, Callable[[Served], dict[str, Any]], int, str]] = [
    ("unknown route", "GET", "/v1/nowhere", lambda s: {}, 404, "not_found"),
    ("wrong method", "DELETE", "/v1/sync/push", lambda s: {}, 405, "method_not_allowed"),
    ("no token", "GET", "/v1/me", lambda s: {}, 401, "unauthorized"),
    (
        "not a bearer token",
        "GET",
        "/v1/me",
        lambda s: {"headers": {"Authorization": "Basic YWRtaW46YWRtaW4="}},
        401,
        "unauthorized",
    ),
    (
        "unknown token",
        "GET",
        "/v1/sync/pull",
        lambda s: {"headers": {"Authorization": "Bearer rdt_unknown"}},
        401,
        "unauthorized",
    ),
    (
        "bad JSON",
        "POST",
        "/v1/sync/push",
        lambda s: {"content": b'{"batch_id": ', "headers": {**s.auth("off-a"), **JSON}},
        400,
        "invalid_json",
    ),
    (
        "nested too deep",
        "POST",
        "/v1/sync/push",
        lambda s: {"content": b"[" * 300 + b"]" * 300, "headers": {**s.auth("off-a"), **JSON}},
        400,
        "too_deep",
    ),
    (
        "not sent as JSON",
        "POST",
        "/v1/sync/push",
        lambda s: {"content": b"{}", "headers": {**s.auth("off-a"), "Content-Type": "text/plain"}},
        415,
        "unsupported_media_type",
    ),
    (
        "bad envelope",
        "POST",
        "/v1/sync/push",
        lambda s: {"json": {"changes": []}, "headers": s.auth("off-a")},
        400,
        "invalid_request",
    ),
    (
        "bad admin body",
        "POST",
        "/v1/admin/stations",
        lambda s: {"json": {"id": "st-x", "color": "red"}, "headers": s.auth("admin")},
        400,
        "invalid_request",
    ),
    (
        "bad cursor",
        "GET",
        "/v1/sync/pull?cursor=-1",
        lambda s: {"headers": s.auth("off-a")},
        400,
        "invalid_cursor",
    ),
    (
        "oversized body",
        "POST",
        "/v1/sync/push",
        lambda s: {"json": batch([{"pad": "x" * 4000}]), "headers": s.auth("off-a")},
        413,
        "payload_too_large",
    ),
    (
        "oversized once decompressed",
        "POST",
        "/v1/sync/push",
        lambda s: {
            "content": gzip.compress(b" " * 100_000),
            "headers": {**s.auth("off-a"), **JSON, "Content-Encoding": "gzip"},
        },
        413,
        "payload_too_large",
    ),
    (
        "too many changes",
        "POST",
        "/v1/sync/push",
        lambda s: {"json": batch([{}] * 6), "headers": s.auth("off-a")},
        413,
        "batch_too_large",
    ),
    (
        "unsupported encoding",
        "POST",
        "/v1/sync/push",
        lambda s: {
            "content": b"{}",
            "headers": {**s.auth("off-a"), **JSON, "Content-Encoding": "br"},
        },
        415,
        "unsupported_encoding",
    ),
    (
        "corrupt deflate",
        "POST",
        "/v1/sync/push",
        lambda s: {
            "content": zlib.compress(b'{"a": 1}')[:-3] + b"zz",
            "headers": {**s.auth("off-a"), **JSON, "Content-Encoding": "deflate"},
        },
        400,
        "invalid_request",
    ),
    (
        "forbidden role",
        "GET",
        "/v1/conflicts",
        lambda s: {"headers": s.auth("off-a")},
        403,
        "forbidden",
    ),
    (
        "admin pulls",
        "GET",
        "/v1/sync/pull",
        lambda s: {"headers": s.auth("admin")},
        403,
        "forbidden",
    ),
    (
        "unknown enrollment code",
        "POST",
        "/v1/enroll",
        lambda s: {"json": {"code": "AAAA-BBBB", "device_name": "x"}},
        403,
        "enrollment_invalid",
    ),
    (
        "unknown device",
        "POST",
        "/v1/admin/devices/dev-none/revoke",
        lambda s: {"headers": s.auth("admin")},
        404,
        "not_found",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_error_answers_have_the_shape(
    served: Served,
    method: str,
    path: str,
    kwargs: Callable[[Served], dict[str, Any]],
    status: int,
    code: str,
) -> None:
    answer = await served.client.request(method, path, **kwargs(served))
    assert_error_shape(answer, status, code)
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_batch_id_reused_has_the_shape(served: Served) -> None:
    first = batch([], "b-1")
    await served.client.post("/v1/sync/push", json=first, headers=served.auth("off-a"))
    again = {**first, "changes": [{"collection": "incidents"}]}
    answer = await served.client.post("/v1/sync/push", json=again, headers=served.auth("off-a"))
    assert assert_error_shape(answer, 409, "batch_id_reused")["details"] == {"batch_id": "b-1"}


async def test_revoked_token_has_the_shape(served: Served) -> None:
    device = served.people.officer_a.device_id
    revoke = f"/v1/admin/devices/{device}/revoke"
    assert (await served.client.post(revoke, headers=served.auth("admin"))).status_code == 200
    answer = await served.client.get("/v1/me", headers=served.auth("off-a"))
    assert_error_shape(answer, 401, "unauthorized")


async def test_store_down_has_the_shape(served: Served) -> None:
    await served.store.close()
    assert_error_shape(await served.client.get("/readyz"), 503, "store_unavailable")


async def _boom(request: Request) -> Response:
    raise RuntimeError(SECRET)


async def _slow(request: Request) -> Response:
    await asyncio.sleep(5)
    return Response("late")


async def test_500_has_the_shape_and_leaks_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    settings = Settings(_env_file=None, database=DatabaseSettings(url=url))
    app = create_app(settings, SQLStore(url))
    app.add_route("/boom", _boom, methods=["GET", "POST"])
    async with app.router.lifespan_context(app):
        # The app re-raises after answering (for servers to log); the client must not.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.post("/boom", json={"token": "rdt_x"})
    error = assert_error_shape(answer, 500, "internal_error")
    assert error["details"] == {}
    for leak in ("s3cr3t", "/var/lib", "rdt_", "RuntimeError", "Traceback", "_boom", ".py"):
        assert leak not in answer.text
    logged = capsys.readouterr().err
    assert "RuntimeError" in logged and "_boom" in logged  # the traceback goes to the log
    assert SECRET not in logged  # but not the message: it may quote data


async def test_timeout_has_the_shape(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    settings = Settings(
        _env_file=None,
        database=DatabaseSettings(url=url),
        server=ServerSettings(request_timeout_s=0.05),
    )
    app = create_app(settings, SQLStore(url))
    app.add_route("/slow", _slow, methods=["GET"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get("/slow")
    assert_error_shape(answer, 503, "timeout")
