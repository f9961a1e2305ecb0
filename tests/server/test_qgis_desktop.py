"""Debian's QGIS 3.22 as the analyst uses it, against a real server (issue 19, acceptance 2).

PyQGIS runs offscreen under /usr/bin/python3 (Debian's, not our venv) in its own process:
tests/server/qgis_analyst.py, with a Basic authentication configuration holding a device token
in a throwaway QGIS profile.  The server is a real uvicorn process on part of the demo city.
What is checked, against figures that do not come from the server:

- every OGC collection loads, and QGIS reads exactly ``numberMatched`` features (the seeded
  incidents, the city's sectors, districts and stations);
- QGIS pages with the limit /ogc/api declares (1000), not its own 100 or 10;
- an end-only (and a start-only) time filter gives the count of the city's incidents in it;
- the vector tiles draw, where the OGC API puts the incidents;
- QGIS's zoom for a scale (docs/layers.md: clusters until about 1:24,000);
- the sectors' GeoPackage export is MultiPolygon throughout and passes validate_gpkg.py;
- every request QGIS made is logged with the token's device (the bearer's audit).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_process import ServerProcess, own_postgres_database
from tests.support import PG_URL, store_params

DEBIAN_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("qgis_analyst.py")
STATIONS = ("st-150135-1", "st-150135-2")
ANALYST = "of-0012"  # an analyst of the demo city: sees every station
OFFICER = "of-0665"  # an officer of st-150135-1, to push the withheld month
WINDOW_END = "2025-03-31T23:59:59Z"
WINDOW_START = "2025-06-01T00:00:00Z"
COLLECTIONS = [
    "incidents",
    "sectors",
    "districts",
    "stations",
    "public",
    "tracks",
    "hotspots",
    "density",
]
ITEMS_ROUTE = "/ogc/collections/{collection_id}/items"


def _has_pyqgis() -> bool:
    if not os.path.exists(DEBIAN_PYTHON):
        return False
    found = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60, check=False
    )
    return found.returncode == 0


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not _has_pyqgis(), reason="Debian's QGIS is not installed (scripts/system-deps)"
    ),
    pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is not installed"),
]


@dataclass
class City:
    """The server, the analyst's token and device, and the figures the city data gives."""

    proc: ServerProcess
    token: str
    device_id: str
    expected: dict[str, int]


# A published month with withheld counts: incidents under k (5) in two districts that the
# two stations' incidents leave empty (Lima 150101 and San Borja 150130, by their points).
WITHHELD = {"150101": (-77.03, -12.05, 2), "150130": (-77.0, -12.1, 3)}
WITHHELD_AT = "2025-08-15T10:00:00-05:00"  # the newest month published from this data


async def _seed(url: str) -> tuple[str, str, dict[str, int]]:
    from fixtures.city import load_city
    from sync.identity import create_device_token
    from sync.store.sql import SQLStore
    from tests.e2e.city import seed_part_of_city

    counts = await seed_part_of_city(url, STATIONS)
    store = SQLStore(url)
    await store.open()
    try:
        device, token = await create_device_token(store, ANALYST, "qgis", 0)
        _, pusher = await create_device_token(store, OFFICER, "withheld", 0)
    finally:
        await store.close()
    city = load_city()
    assert city.officers.set_index("id").loc[ANALYST, "role"] == "analyst"
    chosen = city.incidents[city.incidents.station_id.isin(STATIONS)]
    expected = {
        "incidents": sum(counts.values()),
        "sectors": len(city.sectors),
        "districts": len(city.districts),
        "stations": len(city.stations),
        "public": len(city.districts),
        # occurred_at is RFC 3339 UTC text in the city files, so text order is time order.
        "end_only": int((chosen.occurred_at <= WINDOW_END).sum()),
        "start_only": int((chosen.occurred_at >= WINDOW_START).sum()),
    }
    # The withheld month's incidents, pushed once the server runs: 15 August 2025 is in the
    # start-only window and not in the end-only one.
    pushed = sum(n for _, _, n in WITHHELD.values())
    expected["incidents"] += pushed
    expected["start_only"] += pushed
    expected["pusher"] = pusher  # type: ignore[assignment]
    return token, device.id, expected


async def _push_withheld(base_url: str, token: str) -> None:
    from sync.clock import HybridClock
    from tests.support import batch, incident, new_id

    clock, changes = HybridClock(), []
    for lon, lat, n in WITHHELD.values():
        for i in range(n):
            where = {"lon": lon + i * 1e-4, "lat": lat, "accuracy_m": 5.0}
            fields = {"category": "robo", "occurred_at": WITHHELD_AT, "location": where}
            changes.append(incident(new_id(), clock, fields))
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        auth = {"Authorization": f"Bearer {token}"}
        answer = await client.post("/v1/sync/push", json=batch(changes), headers=auth)
        assert answer.status_code == 200, answer.text


@pytest.fixture(params=store_params())
async def city(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[City]:
    if request.param == "postgres":
        url = await own_postgres_database(PG_URL.rpartition("/")[2])  # type: ignore[union-attr]
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    token, device_id, expected = await _seed(url)
    pusher = str(expected.pop("pusher"))
    proc = ServerProcess(url, tmp_path / "logs")
    await proc.start(timeout_s=180)  # /readyz waits for the boundaries; 2 busy cores are slow
    try:
        await _push_withheld(proc.base_url, pusher)
        yield City(proc, token, device_id, expected)
    finally:
        await proc.stop()


def _run_qgis(city: City, tmp_path: Path) -> dict[str, Any]:
    config = {
        "url": city.proc.base_url,
        "token": city.token,
        "collections": COLLECTIONS,
        "window_end": WINDOW_END,
        "window_start": WINDOW_START,
        "gpkg": str(tmp_path / "sectores.gpkg"),
    }
    (tmp_path / "qgis.json").write_text(json.dumps(config))
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(runtime),
        "HOME": str(tmp_path),  # QGIS writes its settings under the home directory
    }
    env.pop("PYTHONPATH", None)  # Debian's Python, Debian's packages: nothing of our venv
    done = subprocess.run(
        [DEBIAN_PYTHON, str(SCRIPT), str(tmp_path / "qgis.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def _matched(city: City) -> dict[str, int]:
    auth = {"Authorization": f"Bearer {city.token}"}
    out = {}
    async with httpx.AsyncClient(base_url=city.proc.base_url, timeout=120) as client:
        for name in COLLECTIONS:
            page = await client.get(f"/ogc/collections/{name}/items?limit=1", headers=auth)
            assert page.status_code == 200, page.text
            out[name] = int(page.json()["numberMatched"])
        api = (await client.get("/ogc/api")).json()
    out["declared_limit"] = int(api["components"]["parameters"]["limit"]["schema"]["default"])
    return out


def _pages(urls: list[str]) -> list[str]:
    """The item pages QGIS read (its first request, ``limit=10``, only learns the schema)."""
    return [u for u in urls if "limit=10&" not in u + "&"]


def _gpkg_types(path: Path) -> dict[str, int]:
    sql = "SELECT ST_GeometryType(geom) AS t, COUNT(*) AS n FROM sectors GROUP BY t"
    out = subprocess.run(
        ["ogrinfo", "-ro", "-q", "-dialect", "SQLite", "-sql", sql, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    types = [line.split("=")[1].strip() for line in out.splitlines() if "t (String)" in line]
    counts = [int(line.split("=")[1]) for line in out.splitlines() if "n (Integer)" in line]
    return dict(zip(types, counts, strict=True))


async def test_qgis_reads_every_layer_with_basic_auth(city: City, tmp_path: Path) -> None:
    matched = await _matched(city)
    qgis = _run_qgis(city, tmp_path)

    limit = matched["declared_limit"]
    assert limit == 1000  # docs/layers.md
    for name in COLLECTIONS:
        got = qgis["collections"][name]
        assert got["valid"], (name, got)
        assert got["read"] == got["feature_count"] == matched[name], (name, got)
        if name in city.expected:
            assert matched[name] == city.expected[name], name
        pages = _pages(got["items_urls"])
        assert pages and all(f"limit={limit}" in u for u in pages), (name, got["items_urls"])
        assert len(pages) == max(1, math.ceil(matched[name] / limit)), (name, pages)

    types = {name: qgis["collections"][name]["wkb"] for name in ("incidents", "sectors")}
    assert types == {"incidents": "Point", "sectors": "MultiPolygon"}

    end_only = qgis["end_only"]
    assert "datetime=0000-01-01T00:00:00Z%2F2025-03-31T23:59:59Z" in end_only["items_urls"][0]
    assert end_only["read"] == city.expected["end_only"]
    assert qgis["start_only"]["read"] == city.expected["start_only"]

    tiles = qgis["tiles"]
    assert tiles["errors"] == []
    assert tiles["points_in_view"] > 100, tiles
    # Each incident in view has paint under it, and nearly all paint is an incident's symbol.
    assert tiles["points_drawn"] >= 0.95 * tiles["points_in_view"], tiles
    assert tiles["stray_pixels"] <= 0.05 * tiles["painted"], tiles
    assert tiles["zooms"] == {"30000": [13], "20000": [14], "12000": [15]}

    gpkg = tmp_path / "sectores.gpkg"
    assert qgis["gpkg"] == {"error": 0, "message": "", "wkb": "MultiPolygon"}
    assert _gpkg_types(gpkg) == {"MULTIPOLYGON": city.expected["sectors"]}
    validated = subprocess.run(
        [DEBIAN_PYTHON, "-m", "osgeo_utils.samples.validate_gpkg", str(gpkg)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr

    # GDAL with the same token as Basic (docs/layers.md, the ogr2ogr line).
    by_gdal = tmp_path / "sectores-gdal.gpkg"
    subprocess.run(
        [
            "ogr2ogr",
            *("--config", "GDAL_HTTP_AUTH", "BASIC"),
            *("--config", "GDAL_HTTP_USERPWD", f"ronda:{city.token}"),
            *("-f", "GPKG", str(by_gdal), f"OAPIF:{city.proc.base_url}/ogc/", "sectors"),
        ],
        capture_output=True,
        check=True,
        timeout=300,
    )
    assert _gpkg_types(by_gdal) == {"MULTIPOLYGON": city.expected["sectors"]}

    # The public layer: a withheld count is null, and QGIS 3.22's cache gives it back as 0 on
    # the next read while `suppressed` stays true (docs/layers.md step 5: filter on it).
    first, second = qgis["public_reads"]
    assert set(WITHHELD) <= set(first), first
    assert {code: first[code] for code in WITHHELD} == {code: None for code in WITHHELD}
    assert {code: second[code] for code in WITHHELD} == {code: 0 for code in WITHHELD}

    # The bearer's audit: every items request QGIS made is logged with the token's device.
    logged = [json.loads(line) for line in city.proc.logs().splitlines() if line.startswith("{")]
    items = [r for r in logged if r.get("route") == ITEMS_ROUTE and r.get("status") == 200]
    scoped = [r for r in items if r.get("role") is not None]  # public layers ask no one
    assert len(scoped) >= len(_pages(qgis["collections"]["incidents"]["items_urls"]))
    assert {(r["device_id"], r["role"]) for r in scoped} == {(city.device_id, "analyst")}
