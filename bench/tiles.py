"""Vector tiles over a million incidents: Ronda (uvicorn, SQLite) against PostGIS ST_AsMVT.

1. Writes ONE MILLION incident points straight into a fresh SQLite store's ``incident_point``
   table (sqlite3 ``executemany``; pushing them through HTTP would take an hour and measure
   sync, not tiles): 70 % around 40 centres over Lima, 30 % spread evenly; 10 stations,
   5 categories.
2. Starts ``uvicorn --factory server.app:create_app`` on it and asks, as an analyst (all
   stations), the 30 z14 tiles nearest 1,600 points and the 10 busiest z10 tiles: each
   tile once (cold: not in the tile cache; the per-station point indexes are built by one
   warm-up request, timed apart as ``load_s``), then each again 5 times (warm: from the tile cache).
3. Loads the same points into PostGIS (``scripts/pg-start 55434 /tmp/ronda-bench-postgis``,
   GiST index, ANALYZE) and times ``ST_AsMVT`` of the same z14 tiles with the same
   properties (asyncpg, on loopback; no HTTP in front).

Run: ``make bench-tiles`` (installs PostGIS from Debian), or ``.venv/bin/python -m bench.tiles``.
The last line is machine-readable.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from geo.tiles.tilemath import lonlat_to_world  # noqa: E402
from sync.identity import create_device_token  # noqa: E402
from sync.store.records import Officer, Station  # noqa: E402
from sync.store.sql import SQLStore  # noqa: E402

N = int(os.environ.get("BENCH_TILES_N", "1000000"))
CATEGORIES = ["robo", "hurto", "violencia_familiar", "microcomercializacion", "lesiones"]
PG_PORT = 55434


def make_points(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    centres = np.column_stack([rng.uniform(-77.12, -76.90, 40), rng.uniform(-12.20, -11.90, 40)])
    which = rng.integers(0, 40, n)
    spread = rng.uniform(0.01, 0.05, 40)[which]
    lon = centres[which, 0] + rng.normal(0, 1, n) * spread
    lat = centres[which, 1] + rng.normal(0, 1, n) * spread
    background = rng.random(n) < 0.3  # a third spread over the whole city
    lon[background] = rng.uniform(-77.19, -76.68, int(background.sum()))
    lat[background] = rng.uniform(-12.5, -11.68, int(background.sum()))
    return {
        "id": np.array([f"{i:032x}" for i in range(n)], dtype=object),
        "station": np.array([f"st-{s}" for s in which % 10], dtype=object),
        "category": np.array(CATEGORIES, dtype=object)[rng.integers(0, 5, n)],
        "occurred_s": rng.integers(1_700_000_000, 1_760_000_000, n),
        "lon": lon,
        "lat": lat,
        "district": np.array([f"1501{d:02d}" for d in which % 43], dtype=object),
        "sector": np.array([f"sec-{s}" for s in which], dtype=object),
    }


async def seed(url: str, path: Path, pts: dict[str, np.ndarray]) -> str:
    store = SQLStore(url)
    await store.open()
    for s in range(10):
        await store.put_station(Station(f"st-{s}", f"Comisaría {s}"))
    await store.put_officer(Officer("analyst", "Analista", "analyst", None))
    _, token = await create_device_token(store, "analyst", "bench", 0)
    await store.close()
    rows = zip(
        pts["id"].tolist(), pts["station"].tolist(), pts["category"].tolist(),
        pts["occurred_s"].tolist(), pts["lon"].tolist(), pts["lat"].tolist(),
        pts["district"].tolist(), pts["sector"].tolist(), range(1, N + 1), strict=True,
    )  # fmt: skip
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO incident_point (id, station_id, category, occurred_s, lon, lat, district,"
        " sector, cell, deleted, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?)",
        rows,
    )
    db.commit()
    db.close()
    return token


def pick_tiles(
    pts: dict[str, np.ndarray], z: int, count: int, target: int | None = None
) -> list[tuple[int, int]]:
    """The ``count`` tiles holding the most points, or those nearest ``target`` points."""
    wx, wy = lonlat_to_world(pts["lon"], pts["lat"])
    tx, ty = (wx * 2**z).astype(np.int64), (wy * 2**z).astype(np.int64)
    keys, n = np.unique(tx * 2**z + ty, return_counts=True)
    order = np.argsort(-n) if target is None else np.argsort(np.abs(n - target), kind="stable")
    top = keys[order[:count]]
    return [(int(k // 2**z), int(k % 2**z)) for k in top]


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on one connection.

    httpx costs ~1 ms a request on this machine (its floor on GET /healthz); PostGIS is timed
    through asyncpg, a lean client, so Ronda's tiles are timed through a lean one too. It asks
    for gzip like a browser (MapLibre) and reads Content-Length bytes; no decompression.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n{auth}\r\n"
        self.writer.write(head.encode())
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return int(status_line.split()[1]), body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def ronda(url: str, token: str, z14: list, z10: list) -> dict[str, float]:
    env = {**os.environ, "RONDA_DATABASE__URL": url, "RONDA_SERVER__LOG_LEVEL": "warning"}
    port = 18000 + os.getpid() % 1000
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app", "--port",
         str(port), "--no-access-log", "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as c:
            for _ in range(200):
                try:
                    if (await c.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            t0 = time.perf_counter()
            await c.get("/tiles/incidents/2/0/0.mvt", headers=auth)  # builds the indexes
            load = time.perf_counter() - t0

            raw = RawClient(port)

            async def timed(z: int, x: int, y: int) -> float:
                t = time.perf_counter()
                status, _ = await raw.get(f"/tiles/incidents/{z}/{x}/{y}.mvt", token)
                assert status == 200
                return (time.perf_counter() - t) * 1000

            floor, raw_floor = [], []
            for _ in range(50):  # what any request costs here, through httpx and the raw client
                t = time.perf_counter()
                await c.get("/healthz")
                floor.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await raw.get("/healthz")
                raw_floor.append((time.perf_counter() - t) * 1000)
            cold14 = [await timed(14, x, y) for x, y in z14]
            warm14 = [await timed(14, x, y) for _ in range(5) for x, y in z14]
            cold10 = [await timed(10, x, y) for x, y in z10]
            sizes = [
                len((await c.get(f"/tiles/incidents/14/{x}/{y}.mvt", headers=auth)).content)
                for x, y in z14[:5]
            ]
            raw.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "load_s": load,
        "floor": statistics.median(floor),
        "raw_floor": statistics.median(raw_floor),
        "z14_cold": statistics.median(cold14),
        "z14_warm": statistics.median(warm14),
        "z10_cold": statistics.median(cold10),
        "z14_bytes": statistics.median(sizes),
    }


async def postgis(pts: dict[str, np.ndarray], z14: list) -> float | None:
    try:
        out = subprocess.run(
            [str(REPO / "scripts/pg-start"), str(PG_PORT), "/tmp/ronda-bench-postgis"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"PostGIS not available: {exc}")
        return None
    import asyncpg

    dsn = out.stdout.strip().replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        await conn.execute("DROP TABLE IF EXISTS bench_pts")
        await conn.execute(
            "CREATE TABLE bench_pts (id text, category text, occurred timestamptz,"
            " district text, sector text, lon float8, lat float8)"
        )
        records = zip(
            pts["id"].tolist(), pts["category"].tolist(),
            [np.datetime64(int(s), "s").astype(object) for s in pts["occurred_s"]],
            pts["district"].tolist(), pts["sector"].tolist(), pts["lon"].tolist(),
            pts["lat"].tolist(), strict=True,
        )  # fmt: skip
        await conn.copy_records_to_table("bench_pts", records=list(records))
        await conn.execute(
            "ALTER TABLE bench_pts ADD COLUMN geom geometry(Point, 3857);"
            "UPDATE bench_pts SET geom ="
            " ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 3857);"
            "CREATE INDEX ON bench_pts USING gist (geom); ANALYZE bench_pts"
        )
        sql = (
            "SELECT ST_AsMVT(q, 'incidents', 4096, 'geom') FROM (SELECT ST_AsMVTGeom(geom,"
            " ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom, id, category,"
            " to_char(occurred AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
            " AS occurred_at,"
            " district, sector FROM bench_pts WHERE geom && ST_TileEnvelope($1, $2, $3,"
            " margin => 64.0 / 4096)) q"
        )
        for x, y in z14[:3]:
            await conn.fetchval(sql, 14, x, y)  # warm the buffer cache, as Ronda's load is
        times = []
        for _ in range(3):
            for x, y in z14:
                t = time.perf_counter()
                await conn.fetchval(sql, 14, x, y)
                times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)
    finally:
        await conn.close()


async def main() -> None:
    pts = make_points(N)
    # z14: the 30 tiles nearest 1,600 points (the size of the reference tile); z10: the city.
    z14, z10 = pick_tiles(pts, 14, 30, 1600), pick_tiles(pts, 10, 10)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        t0 = time.perf_counter()
        token = await seed(url, path, pts)
        print(f"seeded {N} incident points into SQLite in {time.perf_counter() - t0:.1f} s")
        r = await ronda(url, token, z14, z10)
    print(
        f"index build (first tile after start) {r['load_s']:.1f} s;"
        f" z14 tile ~{r['z14_bytes']:.0f} B; HTTP floor (GET /healthz) p50"
        f" {r['floor']:.2f} ms with httpx, {r['raw_floor']:.2f} ms with the raw client that"
        " times the tiles"
    )
    pg = await postgis(pts, z14)
    pg_s = f"{pg:.2f}" if pg is not None else "nan"
    ratio = f"{r['z14_cold'] / pg:.2f}" if pg else "nan"
    print(
        f"z14_cold_p50_ms={r['z14_cold']:.2f} z14_warm_p50_ms={r['z14_warm']:.2f} "
        f"z10_cold_p50_ms={r['z10_cold']:.2f} postgis_z14_p50_ms={pg_s} ratio_cold={ratio}"
    )


if __name__ == "__main__":
    asyncio.run(main())
