"""The map's date filters at the edges of the calendar: a 400, never a 500."""

from __future__ import annotations

import pytest

from server.web.sessions import SESSION_COOKIE, set_password
from tests.server.conftest import Served
from tests.server.test_web_sessions import PASSWORD, login

EDGES = [
    {"until": "0001-01-01"},  # the default start, 90 days before, is before year 1
    {"until": "9999-12-31"},  # the day after the end is after year 9999
    {"since": "0001-01-01", "until": "0001-01-02"},
]


@pytest.mark.parametrize("params", EDGES)
async def test_dates_beyond_the_calendar_are_invalid_requests(
    served: Served, params: dict[str, str]
) -> None:
    await set_password(served.store, "chief-a", PASSWORD)
    answer = await login(served.client, "chief-a")
    served.client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    for path in ("/web/data/incidents.geojson", "/web/export.csv"):
        got = await served.client.get(path, params=params)
        assert got.status_code == 400, (path, got.status_code)
        assert got.json()["error"]["code"] == "invalid_request"
    served.client.cookies.clear()
