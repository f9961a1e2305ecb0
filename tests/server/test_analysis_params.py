"""Analysis times out of range are a 400, not a 500, and the OpenAPI document says the bounds."""

from __future__ import annotations

import pytest

from server.openapi import openapi_document
from tests.server.conftest import Served
from tests.server.test_tiles import _points, push_points

END_OF_9999 = 253_402_300_799  # 9999-12-31T23:59:59Z, worked out by hand: not from the code

BAD = [
    ("hotspots", "start", str(2**63)),
    ("hotspots", "end", str(2**63 + 12)),
    ("hotspots", "end", "9" * 40),
    ("hotspots", "end", str(END_OF_9999 + 1)),
    ("hotspots", "start", "0001-01-01"),  # before 1970: negative epoch seconds
    ("hotspots", "start", "²"),  # a digit to str.isdigit(), not to int()
    ("emerging", "start", str(2**63)),
    ("emerging", "end", str(2**64)),
    ("pai", "test_end", str(2**63)),
    ("rates", "end", str(2**63)),
    ("dosage", "start", str(2**63)),
]


@pytest.mark.parametrize(("endpoint", "name", "value"), BAD)
async def test_times_out_of_range_are_invalid_requests(
    served: Served, endpoint: str, name: str, value: str
) -> None:
    await push_points(served, "off-a", _points(5))
    answer = await served.client.get(
        f"/v1/analysis/{endpoint}", params={name: value}, headers=served.auth("chief-a")
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["parameter"] == name


async def test_the_bounds_themselves_are_accepted(served: Served) -> None:
    await push_points(served, "off-a", _points(5))
    auth = served.auth("chief-a")
    top = await served.client.get(
        "/v1/analysis/hotspots", params={"start": "0", "end": str(END_OF_9999)}, headers=auth
    )
    assert top.status_code == 200, top.text
    assert top.json()["window"]["end"] == END_OF_9999
    pai = await served.client.get(
        "/v1/analysis/pai",
        params={"start": "1700000000", "end": "1800000000", "test_end": str(END_OF_9999)},
        headers=auth,
    )
    assert pai.status_code == 200, pai.text


def test_openapi_gives_the_time_bounds() -> None:
    doc = openapi_document()
    for path, name in [
        ("/v1/analysis/hotspots", "start"),
        ("/v1/analysis/hotspots", "end"),
        ("/v1/analysis/emerging", "start"),
        ("/v1/analysis/pai", "test_end"),
    ]:
        (param,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name]
        (number,) = [s for s in param["schema"]["anyOf"] if s["type"] == "integer"]
        assert (number["minimum"], number["maximum"]) == (0, END_OF_9999), (path, name)
