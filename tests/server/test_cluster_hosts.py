"""Several hosts over one PostgreSQL (issue 16, acceptance 1), with real processes only.

Two app hosts are network namespaces, each joined to the root namespace by a veth pair and
running ``ronda serve --workers 2`` on its own address. Debian's nginx in the root namespace
balances over both. Debian's PostgreSQL runs a primary and a streaming replica made with
``pg_basebackup -R``; the servers read layers, analysis and public pages through the replica
(``RONDA_DATABASE__REPLICA_URL``) and sync from the primary.

- a push through host A is in a pull through host B;
- an analysis question asked of all four workers at once is computed once (the primary logs
  every write: one ``INSERT INTO analysis_result``);
- a tile cached on both workers of host B shows a push through host A to every request made
  after the documented bound (the layers' one-second foreign-commit check plus the replica
  wait), and the tile's points then come from the replica (its statement log says so); with
  the replica's replay paused, the same holds (the read falls back to the primary);
- ``kill -9`` of every process of host A loses no acknowledged push, and nginx keeps
  answering from host B.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import pytest

from geo.tiles.tilemath import lonlat_to_tile
from server.maps.places import store_layer
from sync.clock import HybridClock
from sync.store.sql import SQLStore
from tests.server.cluster_hosts.netns import Host, Hosts, netns_usable
from tests.server.cluster_hosts.nginx import NGINX, Nginx
from tests.server.cluster_hosts.postgres import Cluster, pg_bin
from tests.server.cluster_hosts.workers import PORT, ask, ask_at, worker_pids
from tests.server.test_placement import _layers
from tests.support import batch, incident, new_id, seed_people

RONDA = str(Path(sys.executable).with_name("ronda"))
REPO = Path(__file__).resolve().parents[2]
FOREIGN_CHECK_S = 1.0  # Layers.foreign_check, Analysis: other processes' commits
REPLICA_WAIT_S = 0.5  # RONDA_DATABASE__REPLICA_WAIT_S of the hosts below
BOUND_S = FOREIGN_CHECK_S + REPLICA_WAIT_S  # docs/operations.md, "Several hosts"
WINDOW = "start=2026-10-01&end=2026-11-01&resolution=9"
LON, LAT, Z = -77.035, -12.055, 14
# Four workers importing the geo stack: about a minute on a quiet 2-core machine, several
# when other test runs load it.
START_S = 600.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed"),
    pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL is not installed"),
]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def changes(n: int, lon: float = LON) -> list[dict[str, Any]]:
    clock = HybridClock()
    return [
        incident(
            new_id(),
            clock,
            {
                "category": "robo",
                "occurred_at": f"2026-10-{1 + i % 28:02d}T12:00:00-05:00",
                "location": {"lon": lon + i * 1e-5, "lat": LAT, "accuracy_m": 10},
            },
        )
        for i in range(n)
    ]


async def push(base: str, token: str, n: int) -> list[str]:
    """Push ``n`` incidents; the ids the server acknowledged."""
    sent = changes(n)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        answer = await http.post("/v1/sync/push", json=batch(sent), headers=auth(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"]["applied"] == n, answer.text
    return [c["id"] for c in sent]


async def pulled_ids(base: str, token: str) -> set[str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        answer = await http.get("/v1/sync/pull", params={"limit": 5000}, headers=auth(token))
    assert answer.status_code == 200, answer.text
    assert not answer.json()["has_more"]
    return {c["id"] for c in answer.json()["changes"]}


class Deployment:
    """Everything the test runs, stopped and removed by ``close`` whatever happened."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ronda-cluster-", dir="/tmp"))
        self.folder.chmod(0o755)  # PostgreSQL runs as postgres, nginx's workers as nobody
        self.hosts = Hosts()
        self.pg = Cluster(self.folder / "pg")
        self.proxy: Nginx | None = None
        self.tokens: dict[str, str] = {}

    async def start(self) -> tuple[Host, Host]:
        a, b = self.hosts.add(2)
        subnets = [f"{h.gateway.rsplit('.', 1)[0]}.0/30" for h in (a, b)]
        self.pg.start(subnets, ["127.0.0.1", a.gateway, b.gateway])
        self.pg.psql(self.pg.primary, "CREATE DATABASE ronda")
        store = SQLStore(self.pg.url(self.pg.primary, "127.0.0.1", "ronda"))
        await store.open()
        try:
            self.tokens = (await seed_people(store)).tokens
            for name, layer in _layers().items():
                await store_layer(store, name, layer)
        finally:
            await store.close()
        for host in (a, b):
            self.serve(host)
        await asyncio.gather(*(self.ready(h) for h in (a, b)))
        upstreams = [f"{h.ip}:{PORT}" for h in (a, b)]
        (self.folder / "nginx").mkdir()
        self.proxy = Nginx(self.folder / "nginx", upstreams)
        await self.proxy.start()
        return a, b

    def serve(self, host: Host) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "RONDA_SERVER__LOG_LEVEL": "warning"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env["RONDA_DATABASE__URL"] = self.pg.url(self.pg.primary, host.gateway, "ronda")
        env["RONDA_DATABASE__REPLICA_URL"] = self.pg.url(self.pg.replica, host.gateway, "ronda")
        env["RONDA_DATABASE__REPLICA_WAIT_S"] = str(REPLICA_WAIT_S)
        command = [RONDA, "serve", "--host", host.ip, "--port", str(PORT), "--workers", "2"]
        command += ["--no-upgrade", "--timeout-graceful-shutdown", "2"]
        host.popen(command, env, str(self.folder / f"{host.ns}.log"))

    async def ready(self, host: Host) -> None:
        deadline = time.monotonic() + START_S
        async with httpx.AsyncClient(timeout=5) as http:
            while time.monotonic() < deadline:
                assert all(p.poll() is None for p in host.procs), self.log(host)
                try:
                    if (await http.get(f"http://{host.ip}:{PORT}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{host.ns} did not become ready: {self.log(host)}")

    def log(self, host: Host) -> str:
        path = self.folder / f"{host.ns}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        try:
            if self.proxy is not None:
                self.proxy.stop()
        finally:
            try:
                self.hosts.remove()
            finally:
                self.pg.stop()
                shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
async def deployment() -> AsyncIterator[tuple[Deployment, Host, Host]]:
    unusable = netns_usable()  # here, not at collection: it makes and deletes a namespace
    if unusable is not None:
        pytest.skip(unusable)
    made = Deployment()
    try:
        started = time.monotonic()
        a, b = await made.start()
        print(f"deployment_started_s={time.monotonic() - started:.1f}")
        yield made, a, b
    finally:
        made.close()


def base(host: Host) -> str:
    return f"http://{host.ip}:{PORT}"


def tile_points(body: bytes) -> int:
    decoded = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    return len(decoded["incidents"]["features"]) if "incidents" in decoded else 0


async def tiles_on(host: Host, pids: list[int], chief: str) -> list[int]:
    """The number of points in the test's tile, as each worker of ``host`` answers."""
    x, y = lonlat_to_tile(LON, LAT, Z)
    path = f"/tiles/incidents/{Z}/{x}/{y}.mvt"
    counts = []
    for pid in pids:
        status, _, body = await ask(host, pid, "GET", path, auth(chief))
        assert status == 200, body[:300]
        counts.append(tile_points(body))
    return counts


async def test_two_hosts_behind_nginx_over_a_primary_and_its_replica(
    deployment: tuple[Deployment, Host, Host],
) -> None:
    made, a, b = deployment
    tokens, pg = made.tokens, made.pg
    officer, chief = tokens["off-a"], tokens["chief-a"]

    # --- a push through host A is in a pull through host B (another officer of the station)
    pushed = await push(base(a), officer, 30)
    assert set(pushed) <= await pulled_ids(base(b), tokens["off-a2"])

    # --- one analysis question asked of all four workers at once: computed once
    workers = {a.ns: await worker_pids(a, 2), b.ns: await worker_pids(b, 2)}
    mark = pg.primary.log_size()
    path = f"/v1/analysis/hotspots?{WINDOW}"
    answers = await asyncio.gather(
        *(ask(h, pid, "GET", path, auth(chief)) for h in (a, b) for pid in workers[h.ns])
    )
    assert [status for status, _, _ in answers] == [200] * 4, answers[0][2][:300]
    assert {json.loads(body)["n_incidents"] for _, _, body in answers} == {30}
    assert len({headers["etag"] for _, headers, _ in answers}) == 1
    stored = pg.primary.log_since(mark).count("INSERT INTO analysis_result")
    assert stored == 1, f"computed {stored} times by 4 workers"

    # --- a tile cached on both workers of B shows A's push to any request after the bound
    before = await tiles_on(b, workers[b.ns], chief)
    assert before == [30, 30]
    replica_mark = pg.replica.log_size()
    await push(base(a), officer, 5)
    await asyncio.sleep(BOUND_S)
    assert await tiles_on(b, workers[b.ns], chief) == [35, 35]
    assert "FROM incident_point" in pg.replica.log_since(replica_mark), "not read on the replica"

    # ... measured: B's workers asked in turn for twice the bound after the push was
    # acknowledged; every request sent after the bound is answered with the push
    await push(base(a), officer, 5)
    acked_at = time.monotonic()
    seen: list[tuple[float, bool]] = []  # (sent after the ack, s; answered with the push)
    x, y = lonlat_to_tile(LON, LAT, Z)
    while time.monotonic() - acked_at < 2 * BOUND_S:
        for pid in workers[b.ns]:
            sent, status, body = await ask_at(
                b, pid, f"/tiles/incidents/{Z}/{x}/{y}.mvt", auth(chief)
            )
            assert status == 200
            seen.append((sent - acked_at, tile_points(body) == 40))
    last_stale = max((t for t, new in seen if not new), default=0.0)
    first_new = min((t for t, new in seen if new), default=float("inf"))
    print(f"tile_last_stale_s={last_stale:.2f} tile_first_new_s={first_new:.2f} bound_s={BOUND_S}")
    assert all(new for t, new in seen if t >= BOUND_S), seen
    assert seen[-2:] and all(f for _, f in seen[-2:]), seen

    # ... and with the replica's replay paused: B reads the primary rather than stale rows
    pg.psql(pg.replica, "SELECT pg_wal_replay_pause()")
    try:
        await push(base(a), officer, 5)
        await asyncio.sleep(BOUND_S)
        assert await tiles_on(b, workers[b.ns], chief) == [45, 45]
    finally:
        pg.psql(pg.replica, "SELECT pg_wal_replay_resume()")

    # --- kill -9 every process of host A while pushes go through nginx
    assert made.proxy is not None
    front = made.proxy.base_url
    acked: list[str] = []

    async def one_push() -> None:
        sent = changes(1)
        try:
            async with httpx.AsyncClient(base_url=front, timeout=60) as http:
                answer = await http.post("/v1/sync/push", json=batch(sent), headers=auth(officer))
        except httpx.TransportError:
            return  # not acknowledged
        if answer.status_code == 200 and answer.json()["summary"]["applied"] == 1:
            acked.append(sent[0]["id"])

    for _ in range(10):
        await one_push()
    in_flight = [asyncio.create_task(one_push()) for _ in range(10)]
    killed = await asyncio.to_thread(a.kill9)
    await asyncio.gather(*in_flight)
    assert len(killed) >= 3 and not a.pids()  # the supervisor and its two workers
    after = len(acked)
    for _ in range(10):  # after the kill every request is answered, by host B
        await one_push()
    assert len(acked) == after + 10
    assert set(acked) <= await pulled_ids(front, tokens["off-a2"])
    assert set(acked) <= await pulled_ids(base(b), tokens["off-a2"])
