"""A published month never changes: late reports, edits and deletions cannot be differenced
out of two versions of it; and after a push the summary is rebuilt once, not per request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures.city import load_city
from server.maps.places import store_layer
from server.maps.public_summary import PublicCache, Summary
from server.settings import DatabaseSettings, Settings
from sync.clock import HybridClock
from sync.store.records import Boundary, PointQuery
from sync.store.sql import SQLStore
from tests.server.conftest import Served, fresh_url, serving
from tests.support import batch, incident, new_id, store_params

# (district index, category, count) in January 2025; (0, robo) = 4 is withheld (k = 5)
PLAN = [
    (0, "robo", 4),
    (0, "hurto", 20),
    (0, "lesiones", 9),
    (1, "robo", 12),
    (1, "hurto", 15),
    (1, "lesiones", 6),
    (2, "robo", 30),
    (2, "hurto", 7),
    (2, "lesiones", 40),
]
JANUARY = {"month": "2025-01"}
OUTPUTS = [
    ("/public/months.json", {}),
    ("/public/districts.json", JANUARY),
    ("/public/districts.csv", JANUARY),
    ("/public/districts.geojson", JANUARY),
    ("/public/cells.geojson", JANUARY),
    ("/public/trend.json", {}),
    ("/public/trend.csv", {}),
    ("/public", JANUARY),
]


class CountingStore(SQLStore):
    """A real SQL store that counts the reads a summary rebuild makes."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.district_reads = 0

    async def boundaries(self, layer: str) -> list[Boundary]:
        self.district_reads += layer == "districts"
        return await super().boundaries(layer)


@pytest.fixture(params=store_params())
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    """The app on SQLite and (when reachable) PostgreSQL, with a counting store."""
    url = await fresh_url(request.param, tmp_path)
    settings = Settings(_env_file=None, database=DatabaseSettings(url=url))
    async with serving(settings, CountingStore(url)) as running:
        yield running


async def push(
    served: Served, changes: list[dict[str, Any]], who: str = "off-a"
) -> list[dict[str, Any]]:
    answer = await served.client.post(
        "/v1/sync/push", json=batch(changes), headers=served.auth(who)
    )
    results: list[dict[str, Any]] = answer.json()["results"]
    assert [r["status"] for r in results] == ["applied"] * len(changes), results
    return results


def located(index: int, category: str, day: int, month: str = "2025-01") -> dict[str, Any]:
    point = load_city().districts.geometry.iloc[index].representative_point()
    return {
        "category": category,
        "occurred_at": f"{month}-{day:02d}T12:00:00-05:00",
        "location": {"lon": point.x, "lat": point.y, "accuracy_m": 10.0},
    }


async def seed(served: Served) -> dict[tuple[int, str], list[tuple[str, int]]]:
    """PLAN pushed (plus a report in April that moves the cut-off past February); the
    (id, seq) of the incidents of each (district, category)."""
    city = load_city()
    await store_layer(served.store, "districts", city.districts)
    reload = await served.client.post("/v1/admin/places/reload", headers=served.auth("admin"))
    assert reload.json()["placement"] is True
    clock, changes, keys = HybridClock(), [], []
    for index, category, count in PLAN:
        for n in range(count):
            changes.append(incident(new_id(), clock, located(index, category, 1 + n % 28)))
            keys.append((index, category))
    changes.append(incident(new_id(), clock, located(2, "robo", 20, "2025-04")))
    results = await push(served, changes)
    made: dict[tuple[int, str], list[tuple[str, int]]] = {}
    for key, change, result in zip(keys, changes, results, strict=False):
        made.setdefault(key, []).append((change["id"], result["seq"]))
    return made


async def outputs(served: Served) -> dict[str, bytes]:
    out = {}
    for path, params in OUTPUTS:
        answer = await served.client.get(path, params=params)
        assert answer.status_code == 200, (path, answer.text[:200])
        out[path] = answer.content
    return out


async def live_count(served: Served, index: int, category: str) -> int:
    """The count in the live data now (what a recomputation would publish)."""
    code = str(load_city().districts["code"].iloc[index])
    cols = await served.store.points(
        PointQuery(since_s=1735707600, until_s=1738386000), ("district", "category")
    )
    return int(np.sum((cols["district"] == code) & (cols["category"] == category)))


async def test_a_published_month_never_changes(served: Served) -> None:
    made = await seed(served)
    before = await outputs(served)
    data = (await served.client.get("/public/districts.json", params=JANUARY)).json()
    assert data["districts"][0]["counts"]["robo"] is None  # the 4 is withheld
    clock = HybridClock(offset_ms=10_000)

    # a late report: the withheld 4 becomes a 5, its row and column totals rise by one
    await push(served, [incident(new_id(), clock, located(0, "robo", 27))])
    assert await live_count(served, 0, "robo") == 5
    assert await outputs(served) == before

    # a deletion: the reverse
    rid, seq = made[(1, "hurto")][0]
    await push(served, [incident(rid, clock, op="delete", base_seq=seq)], "chief-a")
    assert await live_count(served, 1, "hurto") == 14
    assert await outputs(served) == before

    # an edit that moves an incident to another district and category
    rid, seq = made[(1, "robo")][0]
    await push(served, [incident(rid, clock, located(2, "lesiones", 3), base_seq=seq)])
    assert (await live_count(served, 1, "robo"), await live_count(served, 2, "lesiones")) == (
        11,
        41,
    )
    assert await outputs(served) == before

    # what is served is what was stored when January was first published
    stored = {(s.month, s.kind): s for s in await served.store.public_snapshots()}
    assert set(stored) == {(m, k) for m in ("2025-01", "2025-02") for k in ("cells", "districts")}
    assert stored[("2025-01", "districts")].body.encode() == before["/public/districts.json"]


async def test_months_in_the_delay_window_are_not_shown_then_published_once(
    served: Served,
) -> None:
    await seed(served)
    await outputs(served)
    for month in ("2025-03", "2025-04"):
        answer = await served.client.get("/public/districts.json", params={"month": month})
        assert answer.status_code == 404
    # a report in May moves the cut-off: March leaves the delay window and is published
    await push(served, [incident(new_id(), HybridClock(), located(1, "robo", 25, "2025-05"))])
    months = (await served.client.get("/public/months.json")).json()["months"]
    assert months == ["2025-01", "2025-02", "2025-03"]
    trend = (await served.client.get("/public/trend.json")).json()
    assert trend["months"] == months and trend["series"]["total"][1:] == [0, 0]


async def test_concurrent_requests_after_a_push_rebuild_once(served: Served) -> None:
    await seed(served)
    await outputs(served)
    store = served.store
    assert isinstance(store, CountingStore)
    reads = store.district_reads
    rebuilds = served.app.state.public_cache.rebuilds
    # a push that also makes a new month due (the rebuild freezes March)
    await push(served, [incident(new_id(), HybridClock(), located(1, "robo", 25, "2025-05"))])
    paths = [OUTPUTS[i % len(OUTPUTS)] for i in range(30)]
    answers = await asyncio.gather(*(served.client.get(p, params=q) for p, q in paths))
    assert all(a.status_code == 200 for a in answers)
    assert store.district_reads - reads == 1
    cache = served.app.state.public_cache
    assert cache.rebuilds - rebuilds == 1
    months = (await served.client.get("/public/months.json")).json()["months"]
    assert months[-1] == "2025-03" and cache.rebuilds - rebuilds == 1


async def test_a_month_before_the_published_ones_is_never_published_late(served: Served) -> None:
    await seed(served)
    before = await outputs(served)
    # the first report of December 2024 arrives after January and February were published
    await push(served, [incident(new_id(), HybridClock(), located(0, "robo", 10, "2024-12"))])
    answer = await served.client.get("/public/districts.json", params={"month": "2024-12"})
    assert answer.status_code == 404
    assert await outputs(served) == before


async def test_nothing_is_published_before_the_districts_are_imported(served: Served) -> None:
    clock = HybridClock()
    await push(served, [incident(new_id(), clock, located(0, "robo", 5)) for _ in range(6)])
    await push(served, [incident(new_id(), clock, located(0, "robo", 20, "2025-04"))])
    assert (await served.client.get("/public/months.json")).json()["months"] == []
    assert await served.store.public_snapshots() == []
    await store_layer(served.store, "districts", load_city().districts)
    reload = await served.client.post("/v1/admin/places/reload", headers=served.auth("admin"))
    assert reload.json()["placement"] is True
    assert await served.app.state.ctx.engine.rederive() == 7  # as `ronda import` re-places
    data = (await served.client.get("/public/districts.json", params=JANUARY)).json()
    assert data["totals"]["counts"] == {"robo": 6}


async def test_a_failed_rebuild_is_not_kept() -> None:
    cache, calls = PublicCache(), []

    async def build() -> Summary:
        calls.append(1)
        raise RuntimeError("database gone")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            await cache.get(1, build)
    assert cache.rebuilds == len(calls) == 2
