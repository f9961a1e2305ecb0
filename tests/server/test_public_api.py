"""The public API: only published calendar months and fixed geographies; what is withheld
cannot be recovered by combining answers."""

from __future__ import annotations

from typing import Any

import numpy as np

from fixtures.city import load_city
from server.maps.places import store_layer
from sync.clock import HybridClock
from tests.geo.test_public import intervals
from tests.server.conftest import Served
from tests.support import batch, incident, new_id

K = 5
# (district index, category, count) in January 2025: small counts next to large ones
PLAN = [
    (0, "robo", 3),
    (0, "hurto", 20),
    (0, "lesiones", 9),
    (1, "robo", 12),
    (1, "hurto", 15),
    (1, "lesiones", 1),
    (2, "robo", 30),
    (2, "hurto", 2),
    (2, "lesiones", 40),
]


async def seed(served: Served) -> list[str]:
    city = load_city()
    await store_layer(served.store, "districts", city.districts)
    reload = await served.client.post("/v1/admin/places/reload", headers=served.auth("admin"))
    assert reload.json()["placement"] is True
    codes = [str(c) for c in city.districts["code"][:3]]
    clock, changes = HybridClock(), []
    for index, category, count in PLAN:
        point = city.districts.geometry.iloc[index].representative_point()
        for n in range(count):
            fields = {
                "category": category,
                "occurred_at": f"2025-01-{1 + n % 28:02d}T12:00:00-05:00",
                "location": {"lon": point.x, "lat": point.y, "accuracy_m": 10.0},
            }
            changes.append(incident(new_id(), clock, fields))
    # a later report moves the cut-off past January (the freshest weeks are held back)
    late = {**fields, "category": "robo", "occurred_at": "2025-04-20T12:00:00-05:00"}
    changes.append(incident(new_id(), clock, late))
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth("off-a")
    )
    assert answer.json()["summary"]["applied"] == len(changes)
    return codes


def matrix(data: dict[str, Any], codes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The published table of the first districts (and totals) as counts and a hidden mask."""
    cats = data["categories"]
    rows = [r for r in data["districts"] if r["district"] in codes]
    full = [*[[*r["counts"].values(), r["total"]] for r in data["districts"]]]
    full.append([*data["totals"]["counts"].values(), data["totals"]["total"]])
    values = np.array([[np.nan if v is None else v for v in row] for row in full], dtype=float)
    assert len(rows) == len(codes) and values.shape[1] == len(cats) + 1
    return np.nan_to_num(values).astype(np.int64), np.isnan(values)


async def test_small_counts_are_withheld_and_cannot_be_recovered(served: Served) -> None:
    codes = await seed(served)
    months = (await served.client.get("/public/months.json")).json()
    assert "2025-01" in months["months"] and "2025-04" not in months["months"]
    data = (await served.client.get("/public/districts.json", params={"month": "2025-01"})).json()
    counts, hidden = matrix(data, codes)
    rows = {r["district"]: r for r in data["districts"]}
    assert rows[codes[0]]["counts"]["robo"] is None  # 3
    assert rows[codes[1]]["counts"]["lesiones"] is None  # 1
    assert rows[codes[2]]["counts"]["hurto"] is None  # 2
    # attack 1: a district's total minus its other categories
    for code in codes:
        row = rows[code]
        withheld = [c for c, v in row["counts"].items() if v is None]
        if withheld and row["total"] is not None:
            assert len(withheld) >= 2
    # attack 2: a category's city total (and the trend, which repeats it) minus the districts
    trend = (await served.client.get("/public/trend.json")).json()
    at = trend["months"].index("2025-01")
    for category, total in data["totals"]["counts"].items():
        assert trend["series"][category][at] == total  # the same number everywhere
        column = [r["counts"][category] for r in data["districts"]]
        if total is not None and None in column:
            assert column.count(None) >= 2
    # attack 3: every published equation at once (linear programming)
    lo, hi = intervals(counts, hidden)
    assert (hi - lo > 0.5).all()
    # rates would give counts away: withheld with them
    for row in data["districts"]:
        assert (row["rate"] is None) or (row["total"] is not None)


async def test_only_fixed_periods_and_places(served: Served) -> None:
    await seed(served)
    client = served.client
    plain = (await client.get("/public/districts.json", params={"month": "2025-01"})).json()
    # parameters that would cut other periods or places are not parameters at all
    other = await client.get(
        "/public/districts.json",
        params={
            "month": "2025-01",
            "since": "2025-01-10",
            "until": "2025-01-20",
            "bbox": "0,0,1,1",
        },
    )
    assert other.json() == plain
    for month in ("2025-1", "2025-01-10", "2024-12/2025-01", "2025-04", "2030-01"):
        answer = await client.get("/public/districts.json", params={"month": month})
        assert answer.status_code == 404, month
        assert answer.json()["error"]["code"] == "not_found"
    cells = (await client.get("/public/cells.geojson", params={"month": "2025-01"})).json()
    assert cells["resolution"] <= 7
    for feature in cells["features"]:
        assert feature["properties"]["count"] % 10 == 0 and feature["properties"]["count"] >= 10
    csv = (await client.get("/public/districts.csv", params={"month": "2025-01"})).text
    # for spreadsheets: a UTF-8 byte order mark, then Spanish headers (docs/public.md)
    assert csv.splitlines()[0].startswith("\ufeffmes,ubigeo,distrito,población")
    geo = (await client.get("/public/districts.geojson", params={"month": "2025-01"})).json()
    assert geo["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert "pii" not in csv and "victims" not in str(geo)
