"""The Kinto side of ``bench/sync.py``: Kinto on a loopback PostgreSQL, pushed and pulled.

Kinto lives in its own venv (``make bench-deps`` builds ``.venv-kinto``) because its pins are
not ours.  It runs as documented (``kinto migrate`` then ``kinto start``, i.e. pserve with
waitress) with storage, permission and cache on PostgreSQL, basic auth, and
``kinto.batch_max_requests = 500`` so one ``POST /v1/batch`` carries a 500-record batch.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
KINTO_BIN = ROOT / ".venv-kinto" / "bin" / "kinto"
BUCKET = "bench"
COLLECTION = "incidents"
RECORDS_PATH = f"/buckets/{BUCKET}/collections/{COLLECTION}/records"
AUTH = ("bench", "bench-secret")

INI = """\
[app:main]
use = egg:kinto
kinto.storage_backend = kinto.core.storage.postgresql
kinto.storage_url = {url}
kinto.cache_backend = kinto.core.cache.postgresql
kinto.cache_url = {url}
kinto.permission_backend = kinto.core.permission.postgresql
kinto.permission_url = {url}
kinto.userid_hmac_secret = {secret}
multiauth.policies = basicauth
kinto.bucket_create_principals = system.Authenticated
kinto.batch_max_requests = 500

[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = %(http_port)s

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = plain

[formatter_plain]
format = %(levelname)s %(name)s %(message)s
"""


@dataclass
class KintoResult:
    pushed: int
    push_s: float
    pulled: int
    pull_s: float
    subset: bool
    retried: int


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    if not found:
        raise SystemExit("PostgreSQL is not installed (scripts/system-deps)")
    return found[-1]


def start_postgres(port: int, data_dir: Path) -> str:
    """Start (or reuse) the loopback PostgreSQL and make a fresh database; return its URL."""
    pg_start = [ROOT / "scripts" / "pg-start", str(port), str(data_dir)]
    subprocess.run(pg_start, check=True, stdout=subprocess.DEVNULL)
    psql = [str(pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-q"]
    for sql in ("DROP DATABASE IF EXISTS kinto_bench", "CREATE DATABASE kinto_bench"):
        subprocess.run([*psql, "-c", sql], check=True)
    return f"postgresql://postgres@127.0.0.1:{port}/kinto_bench"


def stop_postgres(data_dir: Path) -> None:
    ctl = f"'{pg_bin() / 'pg_ctl'}' -D '{data_dir}' -m fast stop >/dev/null"
    if os.getuid() == 0:
        subprocess.run(["su", "postgres", "-s", "/bin/bash", "-c", ctl], check=False)
    else:
        subprocess.run(["bash", "-c", ctl], check=False)


def start_kinto(pg_url: str, port: int, work: Path) -> subprocess.Popen[bytes]:
    """Write the ini, run ``kinto migrate`` and start the server (not yet ready)."""
    if not KINTO_BIN.exists():
        raise SystemExit(f"{KINTO_BIN} is missing: run `make bench-deps` first")
    ini = work / "kinto.ini"
    ini.write_text(INI.format(url=pg_url, secret=secrets.token_hex(16)))
    log = (work / "kinto.log").open("wb")
    subprocess.run([KINTO_BIN, "migrate", "--ini", ini], check=True, stdout=log, stderr=log)
    return subprocess.Popen(
        [KINTO_BIN, "start", "--ini", ini, "--port", str(port), "-q"],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def batch_bodies(records: list[dict[str, Any]], size: int) -> list[bytes]:
    """POST /v1/batch bodies: one PUT per record, ``size`` records per batch."""
    bodies = []
    for start in range(0, len(records), size):
        requests = [
            {"path": f"{RECORDS_PATH}/{r['id']}", "body": {"data": _data(r)}}
            for r in records[start : start + size]
        ]
        bodies.append(orjson.dumps({"defaults": {"method": "PUT"}, "requests": requests}))
    return bodies


def _data(record: dict[str, Any]) -> dict[str, Any]:
    data = dict(record["fields"])
    if record.get("pii"):
        data["pii"] = record["pii"]
    return data


async def run_kinto(
    base: str, bodies: list[list[bytes]], batch_size: int, budget_s: float
) -> KintoResult:
    """Push the per-client batch lists concurrently (stopping at ``budget_s``), then pull."""
    async with httpx.AsyncClient(base_url=base, auth=AUTH, timeout=600) as client:
        await _wait_ready(client)
        await _check(await client.put(f"/buckets/{BUCKET}"))
        await _check(await client.put(f"/buckets/{BUCKET}/collections/{COLLECTION}"))
        deadline = time.perf_counter() + budget_s
        started = time.perf_counter()
        sent = await asyncio.gather(*(_push_all(client, b, deadline) for b in bodies))
        push_s = time.perf_counter() - started
        pushed = sum(s for s, _ in sent) * batch_size
        total = sum(len(b) for b in bodies) * batch_size
        started = time.perf_counter()
        pulled = await _pull_all(client)
        pull_s = time.perf_counter() - started
    if pulled != pushed:
        raise SystemExit(f"kinto: pushed {pushed} records but pulled {pulled}")
    retried = sum(r for _, r in sent)
    return KintoResult(pushed, push_s, pulled, pull_s, pushed < total, retried)


async def _wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await client.get("/__heartbeat__")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("kinto did not start (see kinto.log in the work dir)")


async def _push_all(
    client: httpx.AsyncClient, bodies: list[bytes], deadline: float
) -> tuple[int, int]:
    sent = retried = 0
    for body in bodies:
        if time.perf_counter() > deadline:
            break
        retried += await _push_batch(client, body)
        sent += 1
    return sent, retried


async def _push_batch(client: httpx.AsyncClient, body: bytes) -> int:
    """One batch; subrequests refused with 409 (concurrent writers) are sent again at once."""
    headers = {"content-type": "application/json"}
    retried = 0
    for _ in range(20):
        response = await client.post("/batch", content=body, headers=headers)
        await _check(response)
        answers = response.json()["responses"]
        retry = [i for i, r in enumerate(answers) if r["status"] == 409]
        bad = [r for r in answers if r["status"] not in (200, 201, 409)]
        if bad:
            raise SystemExit(f"kinto batch: {len(bad)} failed, first: {bad[0]}")
        if not retry:
            return retried
        retried += len(retry)
        batch = orjson.loads(body)
        batch["requests"] = [batch["requests"][i] for i in retry]
        body = orjson.dumps(batch)
    raise SystemExit("kinto batch: still conflicting after 20 tries")


async def _pull_all(client: httpx.AsyncClient) -> int:
    """Page through the collection as kinto-http does: follow ``Next-Page`` to the end."""
    url: str | None = f"{RECORDS_PATH}?_limit=5000"
    count = 0
    while url:
        response = await client.get(url)
        await _check(response)
        count += response.content.count(b'"last_modified":')
        url = response.headers.get("next-page")
    return count


async def _check(response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise SystemExit(f"kinto {response.request.url}: {response.status_code} {response.text}")


def cleanup(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
