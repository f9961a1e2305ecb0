"""HTTP Basic carrying a device token on the map endpoints (issue 19, item 11).

QGIS 3.22 cannot send a bearer header from a layer; its Basic method can.  The token is the
password, the user name is ignored.  Basic must give exactly the bearer's scope and audit on
/ogc and /tiles, and nothing anywhere else.
"""

from __future__ import annotations

import base64
import logging

import pytest

from tests.server.conftest import Served
from tests.server.test_error_shape import assert_error_shape
from tests.server.test_tiles import _points, push_points

ITEMS = "/ogc/collections/{}/items"
BASIC_CHALLENGE = 'Basic realm="Ronda"'


def basic(password: str, user: str = "ronda") -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def token(served: Served, officer_id: str) -> str:
    return served.people.tokens[officer_id]


async def _matched(served: Served, layer: str, headers: dict[str, str]) -> int:
    answer = await served.client.get(ITEMS.format(layer), headers=headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["numberMatched"])


@pytest.mark.parametrize("user", ["ronda", "", "chief-a", "any:thing"])
async def test_basic_gives_the_bearer_scope_whatever_the_user_name(
    served: Served, user: str
) -> None:
    await push_points(served, "off-a", _points(5, 1))
    await push_points(served, "off-b", _points(3, 2))
    # Station A's chief sees station A's 5, the analyst all 8 (docs/layers.md, the role rules).
    assert await _matched(served, "incidents", basic(token(served, "chief-a"), user)) == 5
    assert await _matched(served, "incidents", basic(token(served, "analyst"), user)) == 8
    assert await _matched(served, "incidents", served.auth("chief-a")) == 5


async def test_basic_reads_tiles_and_tilejson(served: Served) -> None:
    await push_points(served, "off-a", _points(5, 1))
    creds = basic(token(served, "chief-a"))
    tilejson = await served.client.get("/tiles/incidents.json", headers=creds)
    assert tilejson.status_code == 200, tilejson.text
    # Lima's centre at zoom 14 (the points are within 500 m of it).
    tile = await served.client.get("/tiles/incidents/14/4686/8744.mvt", headers=creds)
    assert tile.status_code == 200, tile.text
    assert (
        tile.content
        == (
            await served.client.get(
                "/tiles/incidents/14/4686/8744.mvt", headers=served.auth("chief-a")
            )
        ).content
    )
    assert len(tile.content) > 0


async def test_basic_is_audited_like_the_bearer(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ronda.access"):
        await served.client.get(ITEMS.format("incidents"), headers=basic(token(served, "analyst")))
        await served.client.get(ITEMS.format("incidents"), headers=served.auth("analyst"))
    lines = [r for r in caplog.records if r.name == "ronda.access"]
    assert len(lines) == 2
    device = served.people.analyst.device_id
    assert [(r.device_id, r.role, r.status) for r in lines] == [(device, "analyst", 200)] * 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path",
    [
        ITEMS.format("incidents"),
        ITEMS.format("sectors") + "/st-a-s1",
        "/tiles/incidents.json",
        "/tiles/incidents/14/4686/8744.mvt",
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("rdt_not-a-token"),
        {"Authorization": "Basic not base64!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Bearer rdt_not-a-token"},
        {"Authorization": "Digest username=x"},
    ],
    ids=["none", "wrong-token", "garbled", "no-colon", "wrong-bearer", "other-scheme"],
)
async def test_wrong_credentials_on_a_map_endpoint_answer_401(
    served: Served, path: str, headers: dict[str, str]
) -> None:
    answer = await served.client.get(path, headers=headers)
    assert_error_shape(answer, 401, "unauthorized")
    # Not on a tile: a Basic challenge there hangs a blocking QGIS render (server/auth.py).
    challenge = "Bearer" if path.endswith(".mvt") else BASIC_CHALLENGE
    assert answer.headers["WWW-Authenticate"] == challenge


async def test_a_revoked_token_is_refused_through_basic(served: Served) -> None:
    creds = basic(token(served, "chief-a"))
    assert (await served.client.get(ITEMS.format("incidents"), headers=creds)).status_code == 200
    revoke = f"/v1/admin/devices/{served.people.chief_a.device_id}/revoke"
    assert (await served.client.post(revoke, headers=served.auth("admin"))).status_code == 200
    answer = await served.client.get(ITEMS.format("incidents"), headers=creds)
    assert_error_shape(answer, 401, "unauthorized")


async def test_basic_keeps_role_refusals(served: Served) -> None:
    # Administrators get 403 on the restricted layers, whichever scheme carries their token.
    for creds in (basic(token(served, "admin")), served.auth("admin")):
        answer = await served.client.get(ITEMS.format("incidents"), headers=creds)
        assert_error_shape(answer, 403, "forbidden")


async def test_public_layer_needs_no_credentials_and_ignores_wrong_ones(served: Served) -> None:
    for creds in ({}, basic("rdt_not-a-token")):
        answer = await served.client.get(ITEMS.format("public"), headers=creds)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("method", "path", "officer"),
    [
        ("GET", "/v1/me", "off-a"),
        ("GET", "/v1/sync/pull", "off-a"),
        ("POST", "/v1/sync/push", "off-a"),
        ("GET", "/v1/admin/devices", "admin"),
        ("GET", "/v1/attachments/incidents/no-such-record", "chief-a"),
    ],
)
async def test_basic_is_refused_off_the_map_endpoints(
    served: Served, method: str, path: str, officer: str
) -> None:
    answer = await served.client.request(method, path, headers=basic(token(served, officer)))
    assert_error_shape(answer, 401, "unauthorized")
    # No Basic challenge there: a browser must not offer to sign in to sync with a token.
    assert answer.headers["WWW-Authenticate"] == "Bearer"
