"""The one time-window rule (server/maps/window.py, docs/layers.md "Time windows") at its
edges, in the three places that read it: the analysis endpoints (``start``/``end``), the
layers (OGC ``datetime``) and the chief's web pages (``since``/``until``). A date is a whole
Lima day, an end date included; an end instant is exclusive, except in OGC's closed
intervals. Every expected instant below is worked out by hand (Lima is UTC-5 all year).
On SQLite and, when RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from server.maps.places import reload_places, store_layer
from server.maps.window import bound, categories, day_window, interval, time_param
from sync.clock import HybridClock
from sync.errors import InvalidRequest
from tests.server.conftest import Served, served_on_both_backends, sign_in_web
from tests.server.test_placement import _layers
from tests.support import batch, incident, new_id

LIMA_S = -5 * 3600
MAR_1_LIMA = 1_772_341_200  # 2026-03-01T05:00:00Z
APR_1_LIMA = 1_775_019_600  # 2026-04-01T05:00:00Z
PASSWORD = "una-clave-larga-1"
# Around March 2026 in Lima: two just outside, three just inside (one of them on 1 April in
# UTC but 31 March in Lima).
EDGES = {
    "before": "2026-02-28T23:59:59-05:00",  # 2026-03-01T04:59:59Z: March in UTC, not in Lima
    "first": "2026-03-01T00:00:00-05:00",
    "utc_april": "2026-04-01T02:00:00Z",  # 31 March 21:00 in Lima
    "last": "2026-03-31T23:59:59-05:00",
    "after": "2026-04-01T00:00:00-05:00",
}

served = served_on_both_backends()


def test_a_date_is_a_whole_lima_day() -> None:
    assert bound("2026-03-01", end=False, offset_s=LIMA_S) == MAR_1_LIMA
    assert bound("2026-03-31", end=True, offset_s=LIMA_S) == APR_1_LIMA
    assert day_window(dt.date(2026, 3, 1), dt.date(2026, 3, 31), LIMA_S) == (
        MAR_1_LIMA,
        APR_1_LIMA,
    )
    assert bound("2026-03-31", end=True, offset_s=0) == APR_1_LIMA - 5 * 3600  # UTC days


def test_an_end_instant_is_exclusive_except_in_ogc_intervals() -> None:
    instant = "2026-04-01T04:59:59Z"
    assert bound(instant, end=True, offset_s=LIMA_S) == APR_1_LIMA - 1
    assert bound(instant, end=True, offset_s=LIMA_S, closed=True) == APR_1_LIMA
    assert bound("2026-04-01T04:59:59", end=True, offset_s=LIMA_S) == APR_1_LIMA - 1  # UTC
    assert interval("2026-03-01/2026-03-31", LIMA_S) == (MAR_1_LIMA, APR_1_LIMA)
    assert interval(f"2026-03-01T05:00:00Z/{instant}", LIMA_S) == (MAR_1_LIMA, APR_1_LIMA)
    assert interval("0000-01-01T00:00:00Z/..", LIMA_S) == (None, None)
    assert interval("2026-03-31", LIMA_S) == (APR_1_LIMA - 86_400, APR_1_LIMA)
    assert time_param(str(APR_1_LIMA), "end", end=True, offset_s=LIMA_S) == APR_1_LIMA
    with pytest.raises(InvalidRequest):
        interval("yesterday", LIMA_S)


def test_categories_are_parsed_once() -> None:
    assert categories(["robo, hurto", "robo"]) == ("hurto", "robo")
    assert categories([]) is None and categories([" , "]) is None
    with pytest.raises(InvalidRequest):
        categories(["Robo"])


async def _push(served: Served) -> None:
    for name, layer in _layers().items():  # st-a's area, so that the chief sees them
        await store_layer(served.store, name, layer)
    await reload_places(served.app.state.ctx)
    clock, changes = HybridClock(), []
    for i, at in enumerate(EDGES.values()):
        fields = {
            "category": "robo",
            "occurred_at": at,
            "location": {"lon": -77.035 + i * 1e-4, "lat": -12.055, "accuracy_m": 5.0},
        }
        changes.append(incident(new_id(), clock, fields))
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.status_code == 200, answer.text


async def test_analysis_start_and_end(served: Served) -> None:
    await _push(served)
    auth = served.auth("chief-a")

    async def window(**params: str) -> tuple[int, int, int]:
        answer = await served.client.get("/v1/analysis/hotspots", params=params, headers=auth)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return body["window"]["start"], body["window"]["end"], body["n_incidents"]

    march = await window(start="2026-03-01", end="2026-03-31")
    assert march == (MAR_1_LIMA, APR_1_LIMA, 3)  # first, utc_april, last
    utc_start = await window(start="2026-03-01T00:00:00Z", end="2026-03-31")
    assert utc_start[2] == 4  # and "before", which is 1 March in UTC
    assert (await window(start="2026-03-01", end="2026-04-01T05:00:00Z"))[2] == 3
    assert (await window(start="2026-03-01", end="2026-04-01T05:00:01Z"))[2] == 4  # "after"
    assert (await window(start="2026-03-31", end="2026-03-31"))[2] == 2  # one Lima day
    epoch = await window(start=str(MAR_1_LIMA), end=str(APR_1_LIMA))
    assert epoch == (MAR_1_LIMA, APR_1_LIMA, 3)


async def test_layer_datetime(served: Served) -> None:
    await _push(served)
    auth = served.auth("chief-a")

    async def matched(value: str) -> int:
        answer = await served.client.get(
            "/ogc/collections/incidents/items", params={"datetime": value}, headers=auth
        )
        assert answer.status_code == 200, answer.text
        return int(answer.json()["numberMatched"])

    assert await matched("2026-03-01/2026-03-31") == 3
    assert await matched("2026-03-31") == 2  # utc_april and last
    assert await matched("2026-03-01T05:00:00Z/2026-04-01T04:59:59Z") == 3  # closed: "last"
    assert await matched("../2026-04-01T04:59:58Z") == 3  # before, first, utc_april
    assert await matched("2026-04-01T05:00:00Z") == 1  # an instant: "after"


async def test_web_since_until(served: Served) -> None:
    await _push(served)
    await sign_in_web(served, "chief-a", PASSWORD)
    answer = await served.client.get(
        "/web/data/meta/incidents.json", params={"since": "2026-03-01", "until": "2026-03-31"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["count"] == 3


# The far future as an end ("everything up to 9999-12-31", a habit of QGIS and scripts): the
# end is the next Lima midnight, 10000-01-01T05:00:00Z, past what the window can hold; it is
# clamped to just after the last second we can represent (9999-12-31T23:59:59Z, 253402300799),
# so every incident is in. 10000-01-01 is no date at all: still a 400.
END_OF_TIME = 253_402_300_800  # 10000-01-01T00:00:00Z, worked out by hand: 2932897 days * 86400


def test_a_far_future_end_is_clamped() -> None:
    assert bound("9999-12-31", end=True, offset_s=LIMA_S) == END_OF_TIME
    assert bound("9999-12-31T23:59:59-05:00", end=True, offset_s=LIMA_S) == END_OF_TIME
    assert interval("../9999-12-31", LIMA_S) == (None, END_OF_TIME)
    assert interval("2026-03-01/9999-12-31", LIMA_S) == (MAR_1_LIMA, END_OF_TIME)
    # 9999-12-31 00:00 Lima is 05:00 UTC that day
    assert interval("9999-12-31", LIMA_S) == (END_OF_TIME - 86_400 + 5 * 3600, END_OF_TIME)
    assert time_param("9999-12-31", "end", end=True, offset_s=LIMA_S) == END_OF_TIME
    # The last second itself, as an exclusive end, stays what it says.
    assert time_param("9999-12-31T23:59:59Z", "end", end=True, offset_s=LIMA_S) == END_OF_TIME - 1
    for bad in ("10000-01-01", "9999-12-32", "9999-13-01", "tomorrow"):
        with pytest.raises(InvalidRequest):
            time_param(bad, "end", end=True, offset_s=LIMA_S)
        with pytest.raises(InvalidRequest):
            interval(f"../{bad}", LIMA_S)
    with pytest.raises(InvalidRequest):  # epoch seconds keep their documented range
        time_param(str(END_OF_TIME), "end", end=True, offset_s=LIMA_S)


async def test_far_future_ends_through_the_routes(served: Served) -> None:
    await _push(served)
    auth = served.auth("chief-a")

    async def get(path: str, **params: str) -> dict[str, object]:
        answer = await served.client.get(path, params=params, headers=auth)
        assert answer.status_code == 200, (path, params, answer.text)
        body: dict[str, object] = answer.json()
        return body

    items = "/ogc/collections/incidents/items"
    for value in ("../9999-12-31", "2026-03-01/9999-12-31", "../9999-12-31T23:59:59-05:00"):
        # every incident, or the four from 1 March Lima on
        expected = 5 if value.startswith("..") else 4
        assert (await get(items, datetime=value))["numberMatched"] == expected, value
    assert (await get(items, datetime="9999-12-31"))["numberMatched"] == 0
    hotspots = await get("/v1/analysis/hotspots", start="2026-03-01", end="9999-12-31")
    window = hotspots["window"]
    assert isinstance(window, dict) and (window["start"], window["end"]) == (
        MAR_1_LIMA,
        END_OF_TIME,
    )
    assert hotspots["n_incidents"] == 4
    to_last_second = await get(
        "/v1/analysis/hotspots", start="2026-03-01", end="9999-12-31T23:59:59-05:00"
    )
    assert to_last_second["n_incidents"] == 4
    for path, params in (
        (items, {"datetime": "../10000-01-01"}),
        (items, {"datetime": "2026-03-01/9999-12-3x"}),
        ("/v1/analysis/hotspots", {"start": "2026-03-01", "end": "10000-01-01"}),
        ("/v1/analysis/hotspots", {"end": "9999-12-31T25:00:00Z"}),
    ):
        answer = await served.client.get(path, params=params, headers=auth)
        assert answer.status_code == 400, (path, params, answer.text)
        assert answer.json()["error"]["code"] == "invalid_request"
