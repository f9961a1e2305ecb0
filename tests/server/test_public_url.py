"""Links in TileJSON, OGC API answers and the enrollment QR come from ``server.public_url``;
without it they follow the request's Host, and then no shared cache may keep the answer."""

from __future__ import annotations

import re
from typing import Any

import pytest

from server.settings import ServerSettings, Settings
from server.web.sessions import SESSION_COOKIE, set_password
from tests.server.conftest import Served
from tests.server.test_tiles import _points, push_points
from tests.server.test_web_sessions import PASSWORD, csrf_of, login

PUBLIC = "https://ronda.example/base"
EVIL = {"Host": "evil.example"}


@pytest.fixture
def app_settings(request: pytest.FixtureRequest) -> Settings:
    server = ServerSettings(public_url=getattr(request, "param", None))
    return Settings(_env_file=None, server=server)


def hrefs(doc: Any) -> list[str]:
    """Every link-like string of a JSON document (href, tiles, servers, $id)."""
    if isinstance(doc, dict):
        out = [v for k, v in doc.items() if k in ("href", "url", "$id") and isinstance(v, str)]
        out += [t for t in doc.get("tiles", []) if isinstance(t, str)]
        return out + [h for v in doc.values() for h in hrefs(v)]
    if isinstance(doc, list):
        return [h for v in doc for h in hrefs(v)]
    return []


PAGES = [
    "/tiles/public.json",
    "/ogc/",
    "/ogc/api",
    "/ogc/collections",
    "/ogc/collections/public",
    "/ogc/collections/public/queryables",
    "/ogc/collections/stations/items?limit=1",
]


async def test_unset_links_follow_host_but_are_never_shared(served: Served) -> None:
    for path in PAGES:
        answer = await served.client.get(path, headers=EVIL)
        assert answer.status_code == 200, (path, answer.text)
        links = hrefs(answer.json())
        assert links and all(h.startswith("http://evil.example/") for h in links), (path, links)
        cache = answer.headers.get("cache-control", "")
        assert "private" in cache and "public" not in cache, (path, cache)
        vary = {v.strip().lower() for v in answer.headers.get("vary", "").split(",")}
        assert "host" in vary, (path, answer.headers.get("vary"))


@pytest.mark.parametrize("app_settings", [PUBLIC], indirect=True)
async def test_configured_url_makes_every_link_whatever_the_host(served: Served) -> None:
    for path in PAGES:
        answer = await served.client.get(path, headers=EVIL)
        assert answer.status_code == 200, (path, answer.text)
        assert "evil" not in answer.text, path
        links = hrefs(answer.json())
        assert links and all(h.startswith(PUBLIC + "/") for h in links), (path, links)
    tilejson = await served.client.get("/tiles/public.json?category=robo", headers=EVIL)
    assert tilejson.json()["tiles"] == [
        f"{PUBLIC}/tiles/public/{{z}}/{{x}}/{{y}}.mvt?category=robo"
    ]
    assert tilejson.headers["cache-control"] == "public, max-age=300"  # safe to share now
    landing = (await served.client.get("/ogc/", headers=EVIL)).json()
    assert {link["rel"]: link["href"] for link in landing["links"]}["data"] == (
        f"{PUBLIC}/ogc/collections"
    )


@pytest.mark.parametrize("app_settings", [PUBLIC], indirect=True)
async def test_paging_links_of_restricted_items_use_the_configured_url(served: Served) -> None:
    await push_points(served, "off-a", _points(3))
    url = "/ogc/collections/incidents/items?limit=2"
    page = await served.client.get(url, headers={**EVIL, **served.auth("chief-a")})
    links = {link["rel"]: link["href"] for link in page.json()["links"]}
    assert links["self"] == f"{PUBLIC}/ogc/collections/incidents/items?limit=2"
    assert links["next"].startswith(f"{PUBLIC}/ogc/collections/incidents/items?limit=2&after=")


@pytest.mark.parametrize("app_settings", [PUBLIC], indirect=True)
async def test_enrollment_qr_names_the_configured_server(served: Served) -> None:
    await set_password(served.store, "admin", PASSWORD)
    answer = await login(served.client, "admin")
    served.client.cookies.set(SESSION_COOKIE, answer.cookies[SESSION_COOKIE])
    page = await served.client.get("/admin/devices")
    posted = await served.client.post(
        "/admin/devices/enroll",
        data={"officer_id": "off-a", "csrf": csrf_of(page)},
        headers=EVIL | {"Origin": "http://evil.example"},
    )
    assert posted.status_code == 303, posted.text  # POST-redirect-GET (issue 15, item 14)
    issued = await served.client.get(posted.headers["location"], headers=EVIL)
    served.client.cookies.clear()
    assert issued.status_code == 200, issued.text
    payload = re.search(r"ronda:enroll\?server=([^&\"<]+)", issued.text)
    assert payload and payload.group(1) == "https%3A%2F%2Fronda.example%2Fbase"


def test_public_url_must_be_a_plain_http_url() -> None:
    assert ServerSettings(public_url="https://r.example/x/").public_url == "https://r.example/x"
    for bad in ("r.example", "ftp://r.example", "https://r.example/?a=1", "https://u@r.example"):
        with pytest.raises(ValueError):
            ServerSettings(public_url=bad)
