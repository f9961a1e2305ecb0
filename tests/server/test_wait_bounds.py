"""The wake-up long-poll is held no longer than the request timeout allows (review finding):
with ``wait_max_s`` above ``server.request_timeout_s``, every long-poll became a 503."""

from __future__ import annotations

import httpx
import pytest

from server.settings import ServerSettings, Settings, SyncSettings
from tests.server.conftest import Served


@pytest.fixture
def app_settings() -> Settings:
    return Settings(
        _env_file=None,
        server=ServerSettings(request_timeout_s=4.0),
        sync=SyncSettings(wait_max_s=60),
    )


async def test_a_long_poll_ends_before_the_request_timeout(
    app_client: httpx.AsyncClient, served: Served
) -> None:
    headers = served.auth("off-a")
    cursor = (await app_client.get("/v1/sync/pull", headers=headers)).json()["cursor"]
    answer = await app_client.get(
        "/v1/sync/wait", params={"cursor": cursor, "timeout_s": 60}, headers=headers
    )
    assert answer.status_code == 200, answer.text  # was 503 `timeout` at 4 s
    assert answer.json()["changed"] is False
