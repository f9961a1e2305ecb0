"""The sign-in guard of the web pages: signed out, a page sends the browser to sign in (and
back to the page after); signed in with another role, it answers the 403 page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.server.conftest import Served, sign_in_web

# (method, path asked, the page sign-in returns to). Each page's "next" is chosen by the
# page: its own path and query, or a fixed page (the briefing returns to the map).
SIGNED_OUT = [
    ("GET", "/map?since=2025-01-01&cat=robo", "/map?since=2025-01-01&cat=robo"),
    ("GET", "/briefing?since=2025-01-01", "/map"),
    ("GET", "/compstat?week=3", "/compstat"),
    ("GET", "/compstat.csv", "/compstat"),
    ("GET", "/compstat.pdf", "/compstat"),
    ("GET", "/plans?date=2025-01-01", "/plans"),
    ("GET", "/conflicts?after=5", "/conflicts"),
    ("POST", "/conflicts/7/review", "/conflicts"),
    ("GET", "/notices", "/notices"),
    ("POST", "/notices", "/notices"),
    ("POST", "/notices/n-1/withdraw", "/notices"),
    ("GET", "/admin/devices?q=off", "/admin/devices?q=off"),
    ("POST", "/admin/officers", "/admin/officers"),
    ("GET", "/admin/audit", "/admin/audit"),
    ("GET", "/admin/devices/enrolled/v-1", "/admin/devices/enrolled/v-1"),
]


@pytest.mark.parametrize(("method", "path", "back"), SIGNED_OUT)
async def test_a_signed_out_browser_is_sent_to_sign_in_and_back(
    served: Served, method: str, path: str, back: str
) -> None:
    answer = await served.client.request(method, path)
    assert answer.status_code == 303
    where = urlsplit(answer.headers["location"])
    assert where.path == "/login" and parse_qs(where.query) == {"next": [back]}


# (officer signed in, method, path): a role the page does not admit.
REFUSED = [
    ("admin", "GET", "/map"),
    ("admin", "GET", "/briefing"),
    ("off-a", "GET", "/compstat"),
    ("off-a", "GET", "/compstat.csv"),
    ("off-a", "GET", "/plans"),
    ("off-a", "GET", "/conflicts"),
    ("analyst", "POST", "/conflicts/7/review"),
    ("off-a", "GET", "/notices"),
    ("off-a", "POST", "/notices/n-1/withdraw"),
    ("chief-a", "GET", "/admin/devices"),
    ("analyst", "GET", "/admin/audit"),
    ("chief-a", "POST", "/admin/stations"),
]


@pytest.mark.parametrize(("officer", "method", "path"), REFUSED)
async def test_a_role_the_page_does_not_admit_gets_the_forbidden_page(
    served: Served, officer: str, method: str, path: str
) -> None:
    await sign_in_web(served, officer)
    answer = await served.client.request(method, path)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
