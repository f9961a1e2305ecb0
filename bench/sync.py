"""Sync throughput of a real uvicorn server on SQLite and on PostgreSQL, and of Kinto.

Usage: ``.venv/bin/python bench/sync.py [--records 100000] [--clients 16] [--skip-kinto]
[--skip-pg]`` (``make bench-sync`` builds Kinto's venv first).  docs/benchmarks.md records
the figures.

Devices push concurrently, each its batches in order.  16 devices by default, so that the
server, not the round trips of a few clients, sets the pace (group commit needs pushes to
queue to group them); ``--clients 4`` or ``8`` show the curve below saturation.  Kinto is
pushed by as many clients as Ronda, and Ronda on PostgreSQL and Kinto write to the same
loopback PostgreSQL server (``bench/pg.py``), each to a fresh database.

What is timed: wall time from the first request to the last answer of a phase, with every
request body built and serialised (orjson) beforehand, so the figures are server time plus
loopback HTTP and the client's own httpx work (small next to the server's; the client runs on
the same two cores).  Pull pages are counted on the raw bytes, not parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    # Run as a file, this folder would shadow the ``sync`` package with this very module.
    sys.path[0] = str(ROOT)

import httpx  # noqa: E402
import orjson  # noqa: E402

from bench import pg, sync_kinto  # noqa: E402
from sync.clock import HybridClock  # noqa: E402
from sync.identity import create_device_token  # noqa: E402
from sync.store.records import Officer, Station  # noqa: E402
from sync.store.sql import SQLStore  # noqa: E402

BATCH = 500
PAGE = 5000
STATION = "st-miraflores"
PG_DATABASE = "ronda_bench_sync"
CATEGORIES = (
    "robo",
    "hurto",
    "violencia_familiar",
    "accidente_transito",
    "vandalismo",
    "microcomercializacion",
    "persona_sospechosa",
    "ruidos_molestos",
)
STREETS = ("Av. Arequipa", "Av. Larco", "Jr. Ica", "Av. Brasil", "Calle Schell", "Av. Benavides")
PHRASES = (
    "Vecino reporta a dos sujetos en moto que arrebataron un celular",
    "Se constata rotura de luna de vehiculo estacionado frente al parque",
    "Denunciante indica gritos y golpes en el departamento del segundo piso",
    "Patrullaje encuentra grupo consumiendo alcohol en la via publica",
    "Choque entre mototaxi y automovil sin heridos de gravedad",
)
NAMES = ("Ana Quispe", "Luis Mamani", "Rosa Huaman", "Jorge Flores", "Carmen Rojas")


@dataclass
class Device:
    officer_id: str
    role: str
    token: str
    clock: HybridClock


# --- records ---
def make_records(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Realistic incidents around Lima; about one in ten carries personal data."""
    records = []
    for i in range(count):
        day, minute = rng.randrange(1, 29), rng.randrange(24 * 60)
        text = f"{rng.choice(PHRASES)}. Ref. {i}."
        fields = {
            "category": rng.choice(CATEGORIES),
            "occurred_at": f"2026-02-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00-05:00",
            "status": "open",
            "description": (text + " Se deriva a la comisaria." * 2)[:100],
            "address_text": f"{rng.choice(STREETS)} {rng.randrange(100, 4000)}, Miraflores",
            "location": {
                "lon": round(rng.uniform(-77.08, -76.95), 6),
                "lat": round(rng.uniform(-12.17, -12.04), 6),
                "accuracy_m": float(rng.randrange(3, 40)),
            },
        }
        record: dict[str, Any] = {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
        record["fields"] = fields
        if rng.random() < 0.1:
            person = {"name": rng.choice(NAMES), "dni": f"{rng.randrange(10**7, 10**8)}"}
            record["pii"] = {"victims": [person | {"age": rng.randrange(18, 80)}]}
        records.append(record)
    return records


def push_bodies(
    records: list[dict[str, Any]], device: Device, seqs: dict[str, int] | None
) -> list[bytes]:
    """Push bodies for one device: new records (``seqs`` None) or updates of them."""
    bodies = []
    for start in range(0, len(records), BATCH):
        changes = []
        for r in records[start : start + BATCH]:
            change: dict[str, Any] = {"collection": "incidents", "id": r["id"], "op": "upsert"}
            change["hlc"] = str(device.clock.tick())
            if seqs is None:
                change |= {"base_seq": 0, "fields": r["fields"]}
                if "pii" in r:
                    change["pii"] = r["pii"]
            else:
                text = ("Cerrado tras visita. " + r["fields"]["description"])[:100]
                update = {"status": "closed", "description": text}
                change |= {"base_seq": seqs[r["id"]], "fields": update}
            changes.append(change)
        envelope = {"batch_id": uuid.uuid4().hex, "device_time_ms": time.time_ns() // 10**6}
        bodies.append(orjson.dumps(envelope | {"changes": changes}))
    return bodies


# --- the Ronda server ---
async def seed(db_url: str, writers: int) -> tuple[list[Device], Device, Device]:
    """One station, ``writers`` officers pushing, a chief and an officer pulling."""
    store = SQLStore(db_url)
    await store.open()
    await store.put_station(Station(STATION, "Comisaría Miraflores", "150122"))
    staff = [Officer(f"off-{i}", f"Agente {i}", "officer", STATION) for i in range(writers)]
    staff += [
        Officer("chief", "Comisaria Jefe", "chief", STATION),
        Officer("reader", "Agente Lectora", "officer", STATION),
    ]
    devices = []
    for officer in staff:
        await store.put_officer(officer)
        _, token = await create_device_token(store, officer.id, f"phone-{officer.id}", 0)
        devices.append(Device(officer.id, officer.role, token, HybridClock()))
    await store.close()
    return devices[:writers], devices[-2], devices[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ronda(
    db_url: str, port: int, log: Path, clients: int, workers: int = 1
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "RONDA_DATABASE__URL": db_url,
        "RONDA_SERVER__LOG_LEVEL": "warning",
        "RONDA_SYNC__MAX_CHANGES": str(BATCH),
        # This bench measures the engine's throughput with every client's push admitted, as
        # before storm-time admission (sync.max_inflight, default 8) existed; how a worker
        # sheds a storm is bench/load.py's subject.
        "RONDA_SYNC__MAX_INFLIGHT": str(max(clients, 8)),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
    if workers > 1:
        command += ["--workers", str(workers)]
    out = log.open("wb")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
    )


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the Ronda server did not become ready")


async def push_phase(
    client: httpx.AsyncClient, work: list[tuple[Device, list[bytes]]]
) -> tuple[float, list[dict[str, Any]]]:
    """Each device sends its batches in order; devices run concurrently."""

    async def one(device: Device, bodies: list[bytes]) -> list[dict[str, Any]]:
        headers = {"authorization": f"Bearer {device.token}", "content-type": "application/json"}
        answers = []
        for body in bodies:
            response = await client.post("/v1/sync/push", content=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"push: {response.status_code} {response.text[:300]}")
            answers.append(orjson.loads(response.content))
        return answers

    started = time.perf_counter()
    answers = await asyncio.gather(*(one(d, b) for d, b in work))
    elapsed = time.perf_counter() - started
    flat = [a for per_device in answers for a in per_device]
    for answer in flat:
        if answer["summary"]["applied"] != len(answer["results"]):
            raise SystemExit(f"push: not all applied: {answer['summary']}")
    return elapsed, flat


async def pull_phase(client: httpx.AsyncClient, device: Device, encoding: str) -> tuple[float, int]:
    """Pull everything from cursor 0 with the largest page; count records on the raw bytes."""
    headers = {"authorization": f"Bearer {device.token}", "accept-encoding": encoding}
    cursor, count, more = "0", 0, True
    started = time.perf_counter()
    while more:
        params = {"cursor": cursor, "limit": str(PAGE)}
        response = await client.get("/v1/sync/pull", params=params, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"pull: {response.status_code} {response.text[:300]}")
        body = response.content
        count += body.count(b'{"collection":"incidents"')
        tail = body[body.rindex(b'"cursor":"') :]
        cursor = tail[10 : tail.index(b'"', 10)].decode()
        more = b'"has_more":true' in tail
    return time.perf_counter() - started, count


async def run_ronda(
    args: argparse.Namespace, records: list[dict[str, Any]], work: Path, db_url: str
) -> dict:
    """Seed, start the server on ``db_url``, push new, push merge, pull; the timings."""
    load_before = _load()
    writers, chief, reader = await seed(db_url, args.clients)
    # Whole batches of 500 dealt to the devices in turn (some may get one more).
    batches = [records[k : k + BATCH] for k in range(0, len(records), BATCH)]
    shares = [[r for b in batches[i :: args.clients] for r in b] for i in range(args.clients)]
    new = [(d, push_bodies(s, d, None)) for d, s in zip(writers, shares, strict=True)]
    port = free_port()
    server = start_ronda(db_url, port, work / "ronda.log", args.clients, args.workers)
    try:
        limits = httpx.Limits(max_connections=args.clients + 2)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=600, limits=limits
        ) as client:
            await wait_ready(client)
            if args.py_spy:
                spy = _start_py_spy(server.pid, args.py_spy)
            # One process to read; with several workers the CPU is theirs, not the supervisor's.
            server_cpu = process_cpu if args.workers == 1 else no_cpu
            cpu = [server_cpu(server.pid)]
            new_s, answers = await push_phase(client, new)
            cpu.append(server_cpu(server.pid))
            seqs = {r["id"]: r["seq"] for a in answers for r in a["results"]}
            merge = [(d, push_bodies(s, d, seqs)) for d, s in zip(writers, shares, strict=True)]
            cpu.append(server_cpu(server.pid))
            merge_s, _ = await push_phase(client, merge)
            cpu.append(server_cpu(server.pid))
            if args.py_spy:
                spy.send_signal(signal.SIGINT)
                spy.wait()
            pulls = {}
            for who, device in (("chief", chief), ("officer", reader)):
                for encoding in ("identity", "gzip"):
                    pulls[who, encoding] = await pull_phase(client, device, encoding)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for (who, encoding), (_, count) in pulls.items():
        if count != len(records):
            raise SystemExit(f"pull as {who} ({encoding}) saw {count} of {len(records)} records")
    per_k = 1000 / len(records)
    spent = {
        phase: {k: (after[k] - before.get(k, 0.0)) * per_k for k in after}
        for phase, before, after in (("new", cpu[0], cpu[1]), ("merge", cpu[2], cpu[3]))
    }
    return {
        "new_s": new_s,
        "merge_s": merge_s,
        "pulls": pulls,
        "cpu": spent,
        "load": (load_before, _load()),
    }


def no_cpu(_pid: int) -> dict[str, float]:
    return {}


def process_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the server so far: its event loop (the main thread) and the rest.

    Steadier than wall time on a shared machine: a slow hour shows as more wall time, while
    the work per record stays about the same.
    """
    out = {"loop": 0.0, "other threads": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        key = "loop" if task.name == str(pid) else "other threads"
        out[key] += (int(fields[11]) + int(fields[12])) / tick
    return out


def _start_py_spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "--pid", str(pid), "--rate", "250", "--nonblocking", "--gil"]
    command += ["--format", "raw", "--output", out]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- PostgreSQL and Kinto ---
def pg_url(args: argparse.Namespace) -> str:
    pg.fresh_database(args.pg_port, PG_DATABASE)
    return f"postgresql+asyncpg://postgres@127.0.0.1:{args.pg_port}/{PG_DATABASE}"


def run_kinto(args: argparse.Namespace, records: list[dict[str, Any]], work: Path) -> Any:
    load_before = _load()
    bodies = sync_kinto.batch_bodies(records[: args.kinto_records], BATCH)
    per_client = [bodies[i :: args.kinto_clients] for i in range(args.kinto_clients)]
    port = free_port()
    kinto = sync_kinto.start_kinto(args.pg_port, port, work, args.kinto_server, args.kinto_workers)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        budget = args.kinto_budget
        result = asyncio.run(sync_kinto.run_kinto(base, per_client, BATCH, budget, args.pg_port))
    finally:
        os.killpg(kinto.pid, signal.SIGTERM)
        kinto.wait(timeout=30)
    result.load = (load_before, _load())
    return result


# --- report ---
def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"machine: nproc={os.cpu_count()} cpu={model!r} load={_load()}"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ronda_lines(label: str, n: int, clients: int, ronda: dict) -> dict[str, float]:
    """Print one Ronda run; its headline rates."""
    rates = {"push_new": n / ronda["new_s"], "push_merge": n / ronda["merge_s"]}
    print(f"ronda on {label}: {n} records, {clients} devices of one station, batches of {BATCH}")
    print(f"  load before {ronda['load'][0]}, after {ronda['load'][1]}")
    print(f"  push new   {ronda['new_s']:7.2f} s  {rates['push_new']:9.0f} records/s")
    print(f"  push merge {ronda['merge_s']:7.2f} s  {rates['push_merge']:9.0f} records/s")
    for phase, spent in ronda["cpu"].items():
        if not spent:  # several workers: not measured
            continue
        shares = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in spent.items())
        print(f"  server CPU per 1,000 records, push {phase}: {shares}")
    for (who, encoding), (seconds, count) in ronda["pulls"].items():
        print(f"  pull {who:7} {encoding:8} {seconds:6.2f} s  {count / seconds:9.0f} records/s")
    plain = [ronda["pulls"][who, "identity"][0] for who in ("chief", "officer")]
    rates["pull"] = 2 * n / sum(plain)
    print(f"  pull (chief+officer, uncompressed) {rates['pull']:9.0f} records/s")
    return rates


def report(args: argparse.Namespace, runs: dict[str, dict], kinto: Any) -> None:
    n, clients = args.records, args.clients
    line: list[str] = []
    if "sqlite" in runs:
        rates = ronda_lines("SQLite", n, clients, runs["sqlite"])
        line += [f"{k}={v:.0f}/s" for k, v in rates.items()]
    if "pg" in runs:
        print(f"PostgreSQL: {pg.settings(args.pg_port)}")
        rates = ronda_lines("PostgreSQL", n, clients, runs["pg"])
        line += [f"pg_{k}={v:.0f}/s" for k, v in rates.items()]
    if kinto is not None:
        kinto_push = kinto.pushed / kinto.push_s
        kinto_pull = kinto.pulled / kinto.pull_s
        subset = f" (a subset of the {n} records)" if kinto.pushed < n else ""
        server = f"{args.kinto_server}, {args.kinto_workers} workers"
        if args.kinto_server == "waitress":
            server = "kinto start: waitress, 1 process"
        print(f"kinto ({server}; PostgreSQL; /v1/batch of {BATCH}; {args.kinto_clients} clients)")
        print(f"  {subset.strip(' ()') or 'all the records'}")
        print(f"  load before {kinto.load[0]}, after {kinto.load[1]}")
        print(f"  batches sent again whole after a 409: {kinto.retried}")
        print(f"  push {kinto.pushed} records {kinto.push_s:7.2f} s  {kinto_push:9.0f} records/s")
        print(f"  stored in its table: {kinto.stored} (every acknowledged record)")
        print(f"  pull {kinto.pulled} records {kinto.pull_s:7.2f} s  {kinto_pull:9.0f} records/s")
        line += [f"kinto_push={kinto_push:.0f}/s", f"kinto_pull={kinto_pull:.0f}/s"]
        if "pg" in runs:
            ratio = n / runs["pg"]["new_s"] / kinto_push
            line.append(f"ratio_vs_kinto={ratio:.1f}")
        if args.kinto_clients != clients:
            line.append(f"kinto_clients={args.kinto_clients}")
    print(f"load after: {_load()}")
    print(" ".join([*line, f"clients={clients}"]))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16, help="concurrent pushing devices")
    parser.add_argument("--kinto-records", type=int, default=20_000, help="Kinto's subset")
    parser.add_argument(
        "--kinto-clients", type=int, default=None, help="concurrent Kinto clients (--clients)"
    )
    parser.add_argument("--kinto-server", choices=("granian", "waitress"), default="granian")
    parser.add_argument(
        "--kinto-workers", type=int, default=os.cpu_count() or 1, help="Granian processes"
    )
    parser.add_argument("--skip-kinto", action="store_true")
    parser.add_argument("--skip-pg", action="store_true", help="no Ronda on PostgreSQL")
    parser.add_argument("--skip-sqlite", action="store_true", help="no Ronda on SQLite")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--kinto-budget", type=float, default=300.0, help="push seconds at most")
    parser.add_argument("--pg-port", type=int, default=55433)
    parser.add_argument("--pg-dir", default=None)
    parser.add_argument("--keep-pg", action="store_true", help="leave PostgreSQL running")
    parser.add_argument("--py-spy", default=None, help="py-spy --gil of the pushes (raw)")
    args = parser.parse_args()
    if args.records % BATCH or args.records < BATCH * args.clients:
        parser.error(f"--records must be a multiple of {BATCH}, at least {BATCH} x --clients")
    if args.kinto_clients is None:
        args.kinto_clients = args.clients
    return args


def main() -> None:
    args = parse_args()
    print(machine())
    records = make_records(args.records, random.Random(42))
    work = Path(tempfile.mkdtemp(prefix="ronda-bench-"))
    pg_dir = Path(args.pg_dir or f"/tmp/ronda-bench-pg-{args.pg_port}")
    use_pg = not (args.skip_pg and args.skip_kinto)
    runs: dict[str, dict] = {}
    kinto = None
    try:
        if not args.skip_sqlite:
            sqlite_url = f"sqlite+aiosqlite:///{work / 'ronda.db'}"
            runs["sqlite"] = asyncio.run(run_ronda(args, records, work, sqlite_url))
        if use_pg:
            pg.start(args.pg_port, pg_dir)
        if not args.skip_pg:
            runs["pg"] = asyncio.run(run_ronda(args, records, work, pg_url(args)))
        if not args.skip_kinto:
            kinto = run_kinto(args, records, work)
        report(args, runs, kinto)
    finally:
        if use_pg and not args.keep_pg:
            pg.stop(pg_dir)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
