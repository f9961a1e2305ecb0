"""Load test: N phones of a shift change against a real server, on SQLite and PostgreSQL.

Usage: ``.venv/bin/python -m bench.load [--devices 2000] [--seconds 60] [--runs sqlite,pg1,pg2]``

The server is the demo city's 56 stations with their boundaries (so pushes are placed, as in
production) and ``--records`` incidents per station pushed beforehand through the engine. Each
station has one chief; every other device is an officer's phone, dealt round the stations.
Devices are enrolled in the store before the server starts (as bench/sync.py does).

Every device starts within the first ``--think`` seconds (the storm) and then loops, bounded
by ``--seconds`` and by ``--max-rounds`` rounds each, with a pause of 0 to ``--think`` s:

- an officer's phone pushes 1-50 changes (new incidents, some edits of its own), then pulls
  its station's changes from its cursor (every page, at most ``MAX_PAGES``);
- 10 % of the phones start with a first sync: ``GET /v1/sync/snapshot`` read to its end;
- a chief loads a map view: 9 incident tiles at z14 round the station, 6 at a time, as a
  browser does.

HTTP is bench/phone_http.py on uvloop: each officer's phone holds its own kept-alive
connection and a chief's browser six, as real devices do, and every answer is read whole and
gzip decoded (``Accept-Encoding: gzip``, as browsers ask). A request whose kept-alive
connection was closed under it is sent once more, as real clients do. A 429 ``busy`` is
*shed*: the device waits its ``Retry-After`` and sends the same request again (at most
``MAX_SHED_RETRIES`` times, and not after the run's end: then it gives up the round, as a
phone does, and syncs next time). Anything else that is not 2xx, a timeout or a broken
connection is an *error*. Latencies (send to last byte) are of the served (2xx) requests; ``rps`` is
served requests a second over the run. CPU: the load generator's own (this process), the
server's (uvicorn and its workers) and PostgreSQL's, in cores, from /proc.

PostgreSQL is the benchmarks' own loopback server (bench/pg.py, ``scripts/pg-start``,
default settings); each run gets a fresh copy of a seeded template database.

With ``--repeat K`` the runs alternate in K rounds (sqlite, pg1, pg2, sqlite, pg1, ...), each
on a fresh copy of its seeded database, and the figures of the last line are each run's
median.

Last line: ``devices=N rps=X p50_ms=X p99_ms=X errors=N shed=N sqlite_rps=X pg1_rps=X
pg2_rps=X``: rps, p50 and p99 of the last kind of run made (pg2 by default; with ``--repeat``,
its run of median rps), each kind's rps (its median), errors and shed summed over every run;
a run not made prints ``-``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path[0] = str(ROOT)  # run as a file: this folder would shadow the ``sync`` package

import numpy as np  # noqa: E402
import orjson  # noqa: E402

from bench import pg  # noqa: E402
from bench.phone_http import Broken, PhoneHttp, Stale  # noqa: E402
from geo.tiles.tilemath import lonlat_to_world  # noqa: E402

PG_DATABASE = "ronda_bench_load"
PG_TEMPLATE = "ronda_bench_load_seed"
PG_BASE = "postgresql+asyncpg://postgres@127.0.0.1:{port}"
FIRST_SYNC_SHARE = 0.10
MAX_PAGES = 20
MAX_SHED_RETRIES = 8
# The server answers 503 timeout at 30 s (server.request_timeout_s); beyond that, a client's own.
REQUEST_TIMEOUT_S = 40
TILE_ZOOM = 14
BROWSER_CONNECTIONS = 6  # a browser's connections to one host
HOST = "127.0.0.1"
CATEGORIES = ("robo", "hurto", "violencia_familiar", "vandalismo", "persona_sospechosa")


@dataclass
class Phone:
    token: str
    station: str
    lon: float
    lat: float
    role: str
    first_sync: bool = False
    cursor: str = ""
    own: list[str] = field(default_factory=list)


# --- seeding ---
SEED_PUSH = 20  # incidents a seed push


async def seed(url: str, devices: int, records: int) -> list[Phone]:
    """The demo city's boundaries and stations, ``records`` incidents a station, the phones."""
    from fixtures.city import load_city
    from server.app import build_engine, build_store
    from server.demo import store_city_layers
    from server.maps.places import load_places
    from server.settings import DatabaseSettings, Settings
    from sync.clock import HybridClock
    from sync.identity import create_device_token
    from sync.store.records import Identity, Officer, Station

    settings = Settings(_env_file=None)
    database = DatabaseSettings(url=url, sqlite_synchronous="NORMAL")  # seeding only
    settings = settings.model_copy(update={"database": database})
    store = build_store(settings, upgrade=True)
    await store.open()
    try:
        city = load_city()
        await store_city_layers(store, city)
        places = await load_places(store)
        engine = build_engine(settings, store)
        engine.enricher = places.enrich if places else None
        stations = list(city.stations.itertuples())
        for row in stations:
            await store.put_station(Station(str(row.code), str(row.name), str(row.district_code)))
        rng = random.Random(42)
        clock = HybridClock()
        phones: list[Phone] = []
        for i in range(devices):
            row = stations[i % len(stations)]
            role: Literal["chief", "officer"] = "chief" if i < len(stations) else "officer"
            officer = Officer(f"load-{i}", f"Agente {i}", role, str(row.code))
            await store.put_officer(officer)
            _, token = await create_device_token(store, officer.id, f"load-{i}", 0)
            phones.append(Phone(token, str(row.code), float(row.lon), float(row.lat), role))
        writers = []
        for row in stations:
            code = str(row.code)
            await store.put_officer(Officer(f"load-seed-{code}", "Semilla", "officer", code))
            device, _ = await create_device_token(store, f"load-seed-{code}", "seed", 0)
            writers.append(Identity(device.id, "seed", f"load-seed-{code}", "officer", code))
        # Stations take turns, a small push each, as phones write them: PostgreSQL's plans
        # for a station's pull depend on how its rows are spread among the others'.
        for start in range(0, records, SEED_PUSH):
            count = min(SEED_PUSH, records - start)
            for writer, row in zip(writers, stations, strict=True):
                lon, lat = float(row.lon), float(row.lat)
                rows = [_incident(rng, clock, lon, lat) for _ in range(count)]
                await engine.push(writer, {"batch_id": _hex_id(rng), "changes": rows})
        officers = [p for p in phones if p.role == "officer"]
        for phone in rng.sample(officers, round(len(officers) * FIRST_SYNC_SHARE)):
            phone.first_sync = True
        return phones
    finally:
        await store.close()


def _hex_id(rng: random.Random) -> str:
    """A random 128-bit id in hex, from the device's own generator: uuid4 reads the
    kernel's random source, a system call per id that cost the generator 5 % of its CPU."""
    return f"{rng.getrandbits(128):032x}"


def _incident(
    rng: random.Random, clock: Any, lon: float, lat: float, record_id: str | None = None
) -> dict[str, Any]:
    day, minute = rng.randrange(1, 29), rng.randrange(24 * 60)
    fields = {
        "category": rng.choice(CATEGORIES),
        "occurred_at": f"2026-11-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00-05:00",
        "status": "open",
        "description": "Vecino reporta a dos sujetos en moto que arrebataron un celular",
        "location": {
            "lon": round(lon + rng.uniform(-0.01, 0.01), 6),
            "lat": round(lat + rng.uniform(-0.01, 0.01), 6),
            "accuracy_m": float(rng.randrange(3, 40)),
        },
    }
    change = {"collection": "incidents", "id": record_id or _hex_id(rng), "op": "upsert"}
    return change | {"hlc": str(clock.tick()), "base_seq": 0, "fields": fields}


# --- the server ---
def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "RONDA_DATABASE__URL": url,
        "RONDA_SERVER__LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
    # Phones keep their connection between syncs, as they do with nginx in front (nginx's
    # keepalive_timeout is 75 s by default, and deploy/nginx-ronda.conf leaves it so): at
    # uvicorn's own 5 s nearly every round opened a new one, work that nginx takes off the
    # app server in production (on SQLite's one worker that churn took p99 from 271 to 851 ms).
    command += ["--backlog", "4096", "--workers", str(workers), "--timeout-keep-alive", "75"]
    out = log.open("wb")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
    )


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it reaped."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # gone meanwhile
    return total


def machine_cpu() -> dict[str, float]:
    """CPU seconds of the whole machine so far, all cores (/proc/stat): busy, and stolen by
    the hypervisor. Busy includes any work not charged to the processes measured (other
    programs, interrupts): whether the machine, not just Ronda, was full."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return {"machine": (user + nice + system + irq + softirq) / tick, "stolen": steal / tick}


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --- the devices ---
@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    shed: int = 0
    reconnects: int = 0
    snapshot_docs: int = 0
    deadline: float = float("inf")  # no request is sent again after it

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Shed(Exception):
    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s


async def send(
    http: PhoneHttp,
    tally: Tally,
    kind: str,
    method: str,
    target: str,
    headers: bytes,
    body: bytes | None = None,
) -> bytes | None:
    """One request as a phone sends it: again after a 429's Retry-After, and once more if
    its kept-alive connection was closed under it. The body, or None after an error."""
    sheds = 0
    reconnected = False
    while True:
        started = time.perf_counter()
        try:
            answer = await http.request(method, target, headers, body)
        except Stale:
            # The server closed an idle kept-alive connection (at its keep-alive timeout) as
            # this request went out on it.
            if reconnected:
                tally.error(f"{kind}: disconnected twice")
                return None
            reconnected = True
            tally.reconnects += 1
            continue
        except (Broken, OSError, TimeoutError) as exc:
            tally.error(f"{kind}: {type(exc).__name__}")
            return None
        status = answer.status
        if status == 429:
            tally.shed += 1
            sheds += 1
            retry_after = answer.headers.get("retry-after", "")
            wait_s = float(retry_after) if retry_after.isdigit() else 5.0
            if sheds > MAX_SHED_RETRIES or time.monotonic() + wait_s >= tally.deadline:
                return None  # the phone gives up this round, as told, and syncs next time
            await asyncio.sleep(wait_s)
            continue
        if 200 <= status < 300:
            tally.latencies.setdefault(kind, []).append(time.perf_counter() - started)
            return answer.body
        tally.error(f"{kind}: {status} {answer.body[:80]!r}")
        return None


def _auth(phone: Phone) -> bytes:
    return f"Authorization: Bearer {phone.token}\r\n".encode()


async def officer(http: PhoneHttp, phone: Phone, tally: Tally, run: RunLimits) -> None:
    rng = random.Random(phone.token)
    from sync.clock import HybridClock

    clock = HybridClock()
    auth = _auth(phone)
    push_headers = auth + b"Content-Type: application/json\r\n"
    await asyncio.sleep(rng.uniform(0, run.think_s))
    if phone.first_sync and time.monotonic() < run.deadline:
        await first_sync(http, phone, tally, auth)
    for _ in range(run.max_rounds):
        if time.monotonic() >= run.deadline:
            return
        changes = []
        for _ in range(rng.randint(1, 50)):
            edit = phone.own and rng.random() < 0.2
            record_id = rng.choice(phone.own) if edit else None
            changes.append(_incident(rng, clock, phone.lon, phone.lat, record_id))
            if not edit:
                phone.own.append(changes[-1]["id"])
        body = orjson.dumps({"batch_id": _hex_id(rng), "changes": changes})
        await send(http, tally, "push", "POST", "/v1/sync/push", push_headers, body)
        await pull(http, phone, tally, auth)
        await asyncio.sleep(rng.uniform(0, run.think_s))


async def pull(http: PhoneHttp, phone: Phone, tally: Tally, auth: bytes) -> None:
    for _ in range(MAX_PAGES):
        target = f"/v1/sync/pull?cursor={phone.cursor}&limit=500"
        page = await send(http, tally, "pull", "GET", target, auth)
        if page is None:
            return
        tail = page[page.rindex(b'"cursor":"') :]
        phone.cursor = tail[10 : tail.index(b'"', 10)].decode()
        if b'"has_more":true' not in tail:
            return


async def first_sync(http: PhoneHttp, phone: Phone, tally: Tally, auth: bytes) -> None:
    stream = await send(http, tally, "snapshot", "GET", "/v1/sync/snapshot", auth)
    if stream is None:
        return
    last = orjson.loads(stream.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    tally.snapshot_docs += stream.count(b'{"collection"')
    phone.cursor = last.get("cursor", "")


async def chief(connections: list[PhoneHttp], phone: Phone, tally: Tally, run: RunLimits) -> None:
    """A chief's map view: its 9 tiles over the browser's few connections to the host."""
    rng = random.Random(phone.token)
    auth = _auth(phone)
    wx, wy = lonlat_to_world(np.array([phone.lon]), np.array([phone.lat]))
    cx, cy = int(wx[0] * 2**TILE_ZOOM), int(wy[0] * 2**TILE_ZOOM)
    tiles = [(cx + dx, cy + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]

    async def fetch(http: PhoneHttp, todo: list[tuple[int, int]]) -> None:
        while todo:
            x, y = todo.pop()
            target = f"/tiles/incidents/{TILE_ZOOM}/{x}/{y}.mvt"
            await send(http, tally, "tile", "GET", target, auth)

    await asyncio.sleep(rng.uniform(0, run.think_s))
    for _ in range(run.max_rounds):
        if time.monotonic() >= run.deadline:
            return
        todo = list(reversed(tiles))
        await asyncio.gather(*(fetch(http, todo) for http in connections))
        await asyncio.sleep(rng.uniform(0, run.think_s))


@dataclass
class RunLimits:
    deadline: float
    think_s: float
    max_rounds: int


# --- one run ---
@dataclass
class Result:
    label: str
    served: int
    seconds: float
    tally: Tally
    cpu: dict[str, float]  # cores, from the start to the deadline
    cpu_ms: dict[str, float]  # CPU ms per served request, the whole run
    load: tuple[str, str]
    server_shed: str
    speed: tuple[float, float] = (0.0, 0.0)  # reference_ms() before and after the run

    @property
    def rps(self) -> float:
        return self.served / self.seconds

    def percentile(self, q: float, kind: str | None = None) -> float:
        values = sorted(
            v for k, vs in self.tally.latencies.items() if kind in (None, k) for v in vs
        )
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def drive(
    args: argparse.Namespace,
    port: int,
    phones: list[Phone],
    tally: Tally,
    at_deadline: Callable[[], None],
) -> None:
    run = RunLimits(time.monotonic() + args.seconds, args.think, args.max_rounds)
    tally.deadline = run.deadline
    asyncio.get_running_loop().call_at(run.deadline, at_deadline)

    def connect() -> PhoneHttp:
        return PhoneHttp(HOST, port, REQUEST_TIMEOUT_S)

    devices = []
    connections: list[PhoneHttp] = []
    for phone in phones:
        if phone.role == "chief":
            mine = [connect() for _ in range(BROWSER_CONNECTIONS)]
            devices.append(chief(mine, phone, tally, run))
        else:
            mine = [connect()]
            devices.append(officer(mine[0], phone, tally, run))
        connections += mine
    try:
        await asyncio.gather(*devices)
    finally:
        for http in connections:
            http.close()


async def ready(port: int) -> None:
    http = PhoneHttp(HOST, port, 5)
    try:
        for _ in range(1200):
            try:
                if (await http.request("GET", "/readyz")).status == 200:
                    return
            except (Stale, Broken, OSError, TimeoutError):
                http.close()
            await asyncio.sleep(0.1)
    finally:
        http.close()
    raise SystemExit("the Ronda server did not become ready")


async def metrics(port: int) -> str:
    http = PhoneHttp(HOST, port, 30)
    try:
        text = (await http.request("GET", "/metrics")).body.decode()
    finally:
        http.close()
    lines = [ln for ln in text.splitlines() if ln.startswith("ronda_shed_total{")]
    return ", ".join(ln.removeprefix("ronda_shed_total") for ln in lines) or "none"


def run_one(
    args: argparse.Namespace,
    label: str,
    url: str,
    workers: int,
    phones: list[Phone],
    work: Path,
    pg_dir: Path | None,
) -> Result:
    port = free_port()
    server = start_server(url, port, workers, work / f"{label}.log")
    try:
        asyncio.run(ready(port))
        speed_before = reference_ms()
        load_before = load_avg()
        postmaster = postmaster_pid(pg_dir) if pg_dir else None

        def cpu_now() -> dict[str, float]:
            now = {"generator": own_cpu(), "server": tree_cpu(server.pid)}
            if postmaster:
                now["postgresql"] = tree_cpu(postmaster)
            return {**now, **machine_cpu(), "at": time.perf_counter()}

        before = cpu_now()
        # CPU in cores is read again at the deadline: after it the phones finish the round
        # under way (a pull after a late push) and their last pause, up to --think seconds:
        # a nearly idle tail that would dilute the figures. rps still counts the whole run.
        at_deadline: list[dict[str, float]] = []
        tally = Tally()
        started = time.perf_counter()
        fresh = [dataclasses.replace(p, own=[]) for p in phones]  # each run from the same start
        asyncio.run(drive(args, port, fresh, tally, lambda: at_deadline.append(cpu_now())))
        seconds = time.perf_counter() - started
        end = cpu_now()
        after = at_deadline[0] if at_deadline else end
        server_shed = asyncio.run(metrics(port))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    served = sum(len(v) for v in tally.latencies.values())
    cpu = {k: (after[k] - before[k]) / (after["at"] - before["at"]) for k in after if k != "at"}
    # Per served request, over the whole run (the tail's few answers with its little CPU).
    cpu_ms = {k: (end[k] - before[k]) / max(1, served) * 1000 for k in end if k != "at"}
    load = (load_before, load_avg())
    speed = (speed_before, reference_ms())
    return Result(label, served, seconds, tally, cpu, cpu_ms, load, server_shed, speed)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@functools.cache
def _reference_page() -> bytes:
    """A pull page's worth of incident JSON (500 records), the same bytes every time."""
    rng = random.Random(7)
    clock = _FixedClock(iter(range(1_700_000_000_000, 1_800_000_000_000, 977)))
    records = [_incident(rng, clock, -77.03 + rng.random() / 10, -12.05) for _ in range(500)]
    return orjson.dumps({"changes": records})


class _FixedClock:
    def __init__(self, stamps: Any) -> None:
        self.stamps = stamps

    def tick(self) -> int:
        return int(next(self.stamps))


def reference_ms(seconds: float = 0.5) -> float:
    """The machine's speed now: wall milliseconds one gzip (level 5, the server's) of a pull
    page takes on this process's core, averaged over ``seconds``.  The server spends about a
    third of its CPU so; on this shared machine the same task's time moves from run to run,
    and with it every run's CPU a request (docs/benchmarks.md)."""
    page = _reference_page()
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        zlib.compress(page, 5)
        done += 1
    return elapsed / done * 1000


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"machine: nproc={os.cpu_count()} cpu={model!r} load={load_avg()}"


def report(result: Result) -> None:
    t = result.tally
    print(f"{result.label}: {result.served} served in {result.seconds:.1f} s")
    print(f"  load average before {result.load[0]}, after {result.load[1]}")
    p = result.percentile
    kinds = ", ".join(
        f"{k} {len(v)} (p50 {p(0.5, k):.0f} ms, p99 {p(0.99, k):.0f})"
        for k, v in sorted(t.latencies.items())
    )
    print(f"  served: {kinds}")
    print(f"  rps {result.rps:.1f}, p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms")
    before, after = result.speed
    print(f"  reference task (gzip of a pull page): {before:.2f} ms before, {after:.2f} ms after")
    print(
        f"  shed (429 busy, waited and sent again) {t.shed};"
        f" server's ronda_shed_total: {result.server_shed}"
    )
    print(f"  errors {sum(t.errors.values())}: {t.errors or 'none'}; reconnects {t.reconnects}")
    print(f"  first syncs: {t.snapshot_docs} documents streamed")
    named = {k: v for k, v in result.cpu.items() if k not in ("machine", "stolen")}
    cores = ", ".join(f"{k} {v:.2f}" for k, v in named.items())
    print(f"  CPU (cores, from the start to the deadline): {cores}")
    whole, stolen = result.cpu["machine"], result.cpu["stolen"]
    print(
        f"  machine: {whole:.2f} of {os.cpu_count()} cores busy"
        f" ({whole - sum(named.values()):.2f} charged to no process above),"
        f" {stolen:.2f} stolen by the hypervisor"
    )
    # Steadier than rps on a shared machine: the CPU one served request costs (shed answers
    # included), which is what a capacity plan multiplies.
    per = {k: v for k, v in result.cpu_ms.items() if k in named}
    print("  CPU per served request (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0, help="each run's length")
    parser.add_argument("--think", type=float, default=10.0, help="longest pause, seconds")
    parser.add_argument("--max-rounds", type=int, default=1000, help="rounds per device")
    parser.add_argument("--records", type=int, default=200, help="incidents per station")
    parser.add_argument("--runs", default="sqlite,pg1,pg2", help="of sqlite, pg1, pg2")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of the runs, alternating; the last line gives each run's median",
    )
    parser.add_argument("--pg-port", type=int, default=55433)
    parser.add_argument("--pg-dir", default=None)
    parser.add_argument("--keep-pg", action="store_true", help="leave PostgreSQL running")
    parser.add_argument(
        "--reuse-seed",
        action="store_true",
        help="take the seeded template a --keep-pg run left (same --devices and --records)",
    )
    args = parser.parse_args()
    if args.devices < 57:
        parser.error("--devices: at least 57 (56 chiefs and an officer)")
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if not runs or set(runs) - {"sqlite", "pg1", "pg2"} or len(set(runs)) < len(runs):
        parser.error("--runs: some of sqlite, pg1, pg2, each once")
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    return args


def timed_seed(url: str, args: argparse.Namespace) -> list[Phone]:
    started = time.perf_counter()
    phones = asyncio.run(seed(url, args.devices, args.records))
    where = url.split("://", 1)[0]
    print(f"seeded {where}: {len(phones)} devices in {time.perf_counter() - started:.0f} s")
    return phones


def seeded_pg(args: argparse.Namespace, base: str, pg_dir: Path) -> list[Phone]:
    """Seed the template database, or with ``--reuse-seed`` take the one that a run with the
    same ``--devices`` and ``--records`` left in ``--pg-dir`` (its phones' tokens are kept in
    a file beside it: the database holds only their hashes)."""
    saved = pg_dir.with_name(f"{pg_dir.name}-phones-{args.devices}-{args.records}.json")
    if args.reuse_seed and saved.exists():
        phones = [Phone(**p) for p in orjson.loads(saved.read_bytes())]
        print(f"reused the seeded template: {len(phones)} devices")
        return phones
    for other in pg_dir.parent.glob(f"{pg_dir.name}-phones-*.json"):
        other.unlink()  # the template they were made with is about to go
    pg.fresh_database(args.pg_port, PG_TEMPLATE)
    phones = timed_seed(f"{base}/{PG_TEMPLATE}", args)
    saved.write_bytes(orjson.dumps([dataclasses.asdict(p) for p in phones]))
    return phones


def main() -> None:
    args = parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per connection
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    print(machine())
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    work = Path(tempfile.mkdtemp(prefix="ronda-bench-load-"))
    pg_dir = Path(args.pg_dir or f"/tmp/ronda-bench-pg-{args.pg_port}")
    use_pg = any(r.startswith("pg") for r in runs)
    results: dict[str, list[Result]] = {label: [] for label in runs}
    try:
        phones: dict[str, list[Phone]] = {}
        if "sqlite" in runs:
            phones["sqlite"] = timed_seed(f"sqlite+aiosqlite:///{work / 'seed.db'}", args)
        if use_pg:
            pg.start(args.pg_port, pg_dir)
            phones["pg"] = seeded_pg(args, PG_BASE.format(port=args.pg_port), pg_dir)
            print(f"PostgreSQL: {pg.settings(args.pg_port)}")
        # Rounds alternate the runs: the machine's speed drifts by tens of percent over
        # minutes (docs/benchmarks.md), and each run of a round meets the same drift.
        for round_no in range(1, args.repeat + 1):
            if args.repeat > 1:
                print(f"round {round_no} of {args.repeat}:")
            for label in runs:
                result = run_fresh(args, label, phones, work, pg_dir)
                results[label].append(result)
                report(result)
    finally:
        if use_pg and not args.keep_pg:
            pg.stop(pg_dir)
        shutil.rmtree(work, ignore_errors=True)
    typical = {label: median_run(made) for label, made in results.items()}
    last = typical[runs[-1]]
    everything = [r for made in results.values() for r in made]
    errors = sum(sum(r.tally.errors.values()) for r in everything)
    shed = sum(r.tally.shed for r in everything)
    rates = {k: f"{typical[k].rps:.1f}" if k in typical else "-" for k in ("sqlite", "pg1", "pg2")}
    if args.repeat > 1:
        for label, made in results.items():
            each = ", ".join(f"{r.rps:.1f}" for r in made)
            print(f"{label}: rps of each round {each}; the median {typical[label].rps:.1f}")
            speeds = ", ".join(f"{sum(r.speed) / 2:.2f}" for r in made)
            print(f"{label}: reference task of each round (ms, lower is faster) {speeds}")
        if results.get("pg1") and results.get("pg2"):
            # The line's pg2_rps / pg1_rps is a ratio of medians, which may come from
            # different rounds; each round's own ratio, and their median, are printed too.
            ratios = sorted(
                b.rps / a.rps for a, b in zip(results["pg1"], results["pg2"], strict=True)
            )
            each = ", ".join(f"{r:.2f}" for r in ratios)
            print(f"pg2/pg1 of each round (sorted) {each}; their median {median(ratios):.2f}")
            same_cpu, ceiling = zip(*scaling(results["pg1"], results["pg2"]), strict=True)
            print(
                "pg2/pg1 at equal server CPU a request (pg1's / pg2's, each round) "
                + ", ".join(f"{r:.2f}" for r in same_cpu)
                + f"; the most pg2/pg1 this machine allows ({os.cpu_count()} cores shared with"
                " the phones and PostgreSQL), each round " + ", ".join(f"{r:.2f}" for r in ceiling)
            )
    print(f"load average after: {load_avg()}")
    print(
        f"devices={args.devices} rps={last.rps:.1f} p50_ms={last.percentile(0.5):.0f} "
        f"p99_ms={last.percentile(0.99):.0f} errors={errors} shed={shed} "
        f"sqlite_rps={rates['sqlite']} pg1_rps={rates['pg1']} pg2_rps={rates['pg2']}"
    )


def run_fresh(
    args: argparse.Namespace,
    label: str,
    phones: dict[str, list[Phone]],
    work: Path,
    pg_dir: Path,
) -> Result:
    """One run on a fresh copy of the seeded database."""
    if label == "sqlite":
        db = work / "ronda.db"
        for stale in work.glob("ronda.db*"):
            stale.unlink()
        with (
            contextlib.closing(sqlite3.connect(work / "seed.db")) as source,
            contextlib.closing(sqlite3.connect(db)) as copy,
        ):
            source.backup(copy)
        return run_one(args, label, f"sqlite+aiosqlite:///{db}", 1, phones["sqlite"], work, None)
    pg.psql(args.pg_port, f"DROP DATABASE IF EXISTS {PG_DATABASE}")
    pg.psql(args.pg_port, f"CREATE DATABASE {PG_DATABASE} TEMPLATE {PG_TEMPLATE}")
    url = f"{PG_BASE.format(port=args.pg_port)}/{PG_DATABASE}"
    return run_one(args, label, url, int(label[2:]), phones["pg"], work, pg_dir)


def scaling(pg1: list[Result], pg2: list[Result]) -> list[tuple[float, float]]:
    """For each round: how much server CPU a request pg1's one worker spends against pg2's
    two (1.0: a second worker costs nothing a request: no lock, cache or queue shared between
    them), and the most pg2/pg1 this machine allows at those costs: pg1 bound by its one
    worker (``1 / s1``), pg2 by every core, shared with PostgreSQL and the phones
    (``cores / (s2 + p2 + g2)``). Costs, not rps: a run's rps is diluted by its tail, after the
    deadline (docs/benchmarks.md, "pg2 against pg1 on these 2 cores")."""
    cores = os.cpu_count() or 1
    out = []
    for one, two in zip(pg1, pg2, strict=True):
        s1, s2 = one.cpu_ms["server"], two.cpu_ms["server"]
        whole_ms = s2 + two.cpu_ms.get("postgresql", 0.0) + two.cpu_ms["generator"]
        out.append((s1 / s2, cores * s1 / whole_ms))
    return out


def median(values: list[float]) -> float:
    """The lower middle value of an even count, so that it is one of the values."""
    return sorted(values)[(len(values) - 1) // 2]


def median_run(made: list[Result]) -> Result:
    """The run of median rps."""
    rps = median([r.rps for r in made])
    return next(r for r in made if r.rps == rps)


if __name__ == "__main__":
    main()
