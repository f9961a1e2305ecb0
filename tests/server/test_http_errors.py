"""HTTP-level error answers: 405 names the allowed methods, geo errors are not 500s."""

from __future__ import annotations

import re

from starlette.routing import Route

from geo.errors import BadParameterError, GeoError, InvalidInputError, TooManyCellsError
from server.openapi import openapi_document
from tests.server.conftest import Served
from tests.server.test_protocol_doc import section, table_rows
from tests.server.test_tiles import push_points

CANDIDATES = ("PATCH", "PUT", "DELETE", "TRACE")  # one of them is not taken by a path


def concrete(path: str) -> str:
    """A request path for a route template: every ``{param}`` (any convertor) becomes 1."""
    return re.sub(r"\{[^}]+\}", "1", path)


def methods_by_path(served: Served) -> dict[str, set[str]]:
    """Template -> the methods of every route declared with it (several may share one)."""
    out: dict[str, set[str]] = {}
    for route in served.app.routes:
        assert isinstance(route, Route), f"not a plain route: {route!r}; extend this test"
        out.setdefault(route.path, set()).update(route.methods or ())
    return out


async def test_every_405_carries_allow_with_the_methods_of_the_path(served: Served) -> None:
    table = methods_by_path(served)
    assert {"GET", "HEAD", "POST"} <= table["/login"]  # two routes share this path
    for template, methods in table.items():
        unused = next(m for m in CANDIDATES if m not in methods)
        answer = await served.client.request(unused, concrete(template))
        assert answer.status_code == 405, (template, answer.status_code)
        assert answer.json()["error"]["code"] == "method_not_allowed"
        assert "allow" in answer.headers, f"{template}: 405 without Allow"
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert allowed == methods, (template, allowed, methods)


async def test_a_geo_error_in_a_route_is_a_422_with_its_code(served: Served) -> None:
    # Incidents from Tumbes to Tacna: the density layer's 200 m grid over them would need far
    # more than its 4 million cells, so geo raises TooManyCellsError inside the request.
    await push_points(served, "off-a", [(-80.45, -3.57), (-70.25, -18.01), (-77.03, -12.05)])
    answer = await served.client.get(
        "/ogc/collections/density/items", headers=served.auth("chief-a")
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "too_many_cells"
    assert error["message"] and error["details"]["cells"] > error["details"]["max"]


def test_geo_codes_a_request_can_meet_are_documented_as_422() -> None:
    rows = table_rows(section("Request-level errors"))
    for cls in (GeoError, TooManyCellsError, BadParameterError, InvalidInputError):
        assert rows[cls.code][0] == "422", cls.code


def test_map_operations_document_too_many_cells() -> None:
    doc = openapi_document()
    for path in ("/tiles/{layer}/{z}/{x}/{y}.mvt", "/ogc/collections/{collection_id}/items"):
        schema = doc["paths"][path]["get"]["responses"]["422"]["content"]["application/json"]
        assert (
            "too_many_cells"
            in schema["schema"]["properties"]["error"]["properties"]["code"]["enum"]
        )


async def test_a_literal_path_is_not_taken_for_a_template_parameter(served: Served) -> None:
    """``/v1/plans/hot-cells`` is a path of its own, not the plan ``hot-cells``: a DELETE is
    405 naming GET, as its Allow says, not an attempt to withdraw a plan of that id."""
    answer = await served.client.delete("/v1/plans/hot-cells", headers=served.auth("chief-a"))
    assert answer.status_code == 405, answer.text
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
