"""Real clients against a real server: GDAL's OAPIF and MVT drivers on a uvicorn process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import mapbox_vector_tile
import numpy as np
import pytest

from geo.tiles.tilemath import lonlat_to_tile, lonlat_to_world
from sync.clock import HybridClock
from tests.server_process import ServerProcess, seed_database
from tests.support import People, batch, incident

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is not installed"),
]
N = 1500
Row = tuple[str, float, float, str]  # id, lon, lat, category of a pushed incident
Served = tuple[ServerProcess, People, list[Row]]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Served]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    people = await seed_database(url)
    proc = ServerProcess(url, tmp_path / "logs")
    await proc.start()
    rng = np.random.default_rng(42)
    lon = -77.03 + rng.uniform(-0.01, 0.01, N)
    lat = -12.05 + rng.uniform(-0.01, 0.01, N)
    rows: list[Row] = []
    try:
        await _push(proc, people, lon, lat, rows)
        yield proc, people, rows
    finally:
        await proc.stop()


async def _push(
    proc: ServerProcess, people: People, lon: np.ndarray, lat: np.ndarray, rows: list[Row]
) -> None:
    async with httpx.AsyncClient(base_url=proc.base_url, timeout=60) as client:
        clock, changes = HybridClock(), []
        for i in range(N):
            rid = uuid.uuid4().hex
            cat = "robo" if i % 3 else "hurto"
            fields = {
                "category": cat,
                "occurred_at": f"2026-10-{1 + i % 28:02d}T12:00:00Z",
                "location": {"lon": float(lon[i]), "lat": float(lat[i]), "accuracy_m": 5.0},
            }
            pii = {"victims": [{"name": "Persona Privada", "dni": "87654321"}]}
            changes.append(incident(rid, clock, fields, pii=pii))
            rows.append((rid, float(lon[i]), float(lat[i]), cat))
        auth = {"Authorization": f"Bearer {people.tokens['off-a']}"}
        for start in range(0, N, 500):
            chunk = batch(changes[start : start + 500])
            answer = await client.post("/v1/sync/push", json=chunk, headers=auth)
            assert answer.status_code == 200, answer.text


def gdal(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "60"}
    config = ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"] if token else []
    return subprocess.run(
        ["ogrinfo", *config, *args], capture_output=True, text=True, env=env, timeout=300
    )


async def test_ogrinfo_counts_the_store_and_pushes_filters(server: Served) -> None:
    proc, people, rows = server
    root = f"OAPIF:{proc.base_url}/ogc/"
    token = people.tokens["chief-a"]
    listing = gdal("-ro", root, token=token)
    assert listing.returncode == 0, listing.stderr
    assert "incidents" in listing.stdout and "public" in listing.stdout
    summary = gdal("-ro", "-so", root, "incidents", "-oo", "PAGE_SIZE=1000", token=token)
    assert summary.returncode == 0, summary.stderr
    assert f"Feature Count: {N}" in summary.stdout
    assert "category: String" in summary.stdout
    everything = gdal("-ro", "-al", "-q", root, "incidents", "-oo", "PAGE_SIZE=1000", token=token)
    assert len(re.findall(r"OGRFeature\(incidents\)", everything.stdout)) == N
    assert "Persona" not in everything.stdout and "87654321" not in everything.stdout
    robo = gdal(
        "-ro", "-al", "-q", root, "incidents", "-where", "category = 'robo'", "-oo",
        "PAGE_SIZE=1000", "--config", "CPL_DEBUG", "ON", token=token,
    )  # fmt: skip
    assert "category=robo" in robo.stderr  # pushed to the server
    expected = sum(1 for r in rows if r[3] == "robo")
    assert len(re.findall(r"OGRFeature\(incidents\)", robo.stdout)) == expected
    refused = gdal("-ro", "-so", root, "incidents", "-oo", "PAGE_SIZE=1000")
    assert f"Feature Count: {N}" not in refused.stdout
    assert "401" in refused.stderr


async def test_gdal_and_decoder_read_tiles_in_place(server: Served) -> None:
    proc, people, rows = server
    z = 14
    x, y = lonlat_to_tile(-77.03, -12.05, z)
    url = f"{proc.base_url}/tiles/incidents/{z}/{x}/{y}.mvt"
    token = people.tokens["chief-a"]
    info = gdal("-ro", "-al", f"/vsicurl/{url}", token=token)
    assert info.returncode == 0, info.stderr
    async with httpx.AsyncClient() as client:
        body = (await client.get(url, headers={"Authorization": f"Bearer {token}"})).content
    feats = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})["incidents"][
        "features"
    ]
    inside = [f for f in feats if all(0 <= c <= 4096 for c in f["geometry"]["coordinates"])]
    # GDAL leaves out the buffer (features outside the tile square).
    assert len(re.findall(r"OGRFeature\(incidents\)", info.stdout)) == len(inside) > 100
    by_id = {r[0]: r for r in rows}
    for f in feats:
        rid, lon, lat, cat = by_id[f["properties"]["id"]]
        wx, wy = lonlat_to_world(np.array([lon]), np.array([lat]))
        px, py = (wx[0] * 2**z - x) * 4096, (wy[0] * 2**z - y) * 4096
        gx, gy = f["geometry"]["coordinates"]
        assert abs(gx - px) <= 1 and abs(gy - py) <= 1
        assert f["properties"]["category"] == cat
    # GDAL's points (EPSG:3857 metres) land within a tile unit of the pushed ones.
    world = 2 * np.pi * 6378137.0
    unit = world / 2**z / 4096
    found = re.findall(r"id \(String\) = (\w+).*?POINT \(([-\d.]+) ([-\d.]+)\)", info.stdout, re.S)
    assert len(found) == len(inside)
    for rid, gx, gy in found:
        wx, wy = lonlat_to_world(np.array([by_id[rid][1]]), np.array([by_id[rid][2]]))
        mx, my = (wx[0] - 0.5) * world, (0.5 - wy[0]) * world
        assert abs(float(gx) - mx) <= unit and abs(float(gy) - my) <= unit
    refused = gdal("-ro", "-al", f"/vsicurl/{url}")
    assert refused.returncode != 0
