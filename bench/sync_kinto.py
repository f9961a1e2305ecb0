"""The Kinto side of ``bench/sync.py``: Kinto on the bench's PostgreSQL, pushed and pulled.

Kinto lives in its own venv (``make bench-deps`` builds ``.venv-kinto``) because its pins are
not ours.  It runs as its production guide describes: ``kinto migrate``, then the WSGI app
(``app.py``, as in Kinto's repository) under Granian, with the guide's pool sizes (50) for
storage, permission and cache, all on PostgreSQL; basic auth;
``kinto.batch_max_requests = 500`` so one ``POST /v1/batch`` carries a 500-record batch.
``--kinto-server waitress`` runs ``kinto start`` instead (pserve + waitress, as its Docker
image does).
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import pg

ROOT = Path(__file__).resolve().parent.parent
KINTO_BIN = ROOT / ".venv-kinto" / "bin" / "kinto"
GRANIAN_BIN = KINTO_BIN.with_name("granian")
DATABASE = "kinto_bench"
BUCKET = "bench"
COLLECTION = "incidents"
RECORDS_PATH = f"/buckets/{BUCKET}/collections/{COLLECTION}/records"
AUTH = ("bench", "bench-secret")
MAX_ATTEMPTS = 50

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
kinto.storage_pool_size = 50
kinto.cache_pool_size = 50
kinto.permission_pool_size = 50

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
    retried: int  # whole batches sent again after a 409
    stored: int  # records in Kinto's table after the push
    load: tuple[str, str] = ("", "")  # load averages before and after


# Kinto's app.py (the WSGI entry point its production guide has Granian serve).
APP_PY = """\
import configparser
import logging.config
import os

from kinto import main

ini_path = os.environ["KINTO_INI"]
logging.config.fileConfig(ini_path)
config = configparser.ConfigParser()
config.read(ini_path)
application = main(config.items("DEFAULT"), **dict(config.items("app:main")))
"""


def start_kinto(
    pg_port: int, port: int, work: Path, server: str, workers: int
) -> subprocess.Popen[bytes]:
    """A fresh database, ``kinto migrate``, and the server (not yet ready)."""
    if not KINTO_BIN.exists():
        raise SystemExit(f"{KINTO_BIN} is missing: run `make bench-deps` first")
    if server == "granian" and not GRANIAN_BIN.exists():
        raise SystemExit(f"{GRANIAN_BIN} is missing: `.venv-kinto/bin/pip install granian`")
    pg.fresh_database(pg_port, DATABASE)
    url = f"postgresql://postgres@127.0.0.1:{pg_port}/{DATABASE}"
    ini = work / "kinto.ini"
    ini.write_text(INI.format(url=url, secret=secrets.token_hex(16)))
    log = (work / "kinto.log").open("wb")
    subprocess.run([KINTO_BIN, "migrate", "--ini", ini], check=True, stdout=log, stderr=log)
    if server == "waitress":
        command = [str(KINTO_BIN), "start", "--ini", str(ini), "--port", str(port), "-q"]
    else:
        (work / "app.py").write_text(APP_PY)
        command = [str(GRANIAN_BIN), "--interface", "wsgi", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", str(workers), "--no-ws", "app:application"]
    env = {"KINTO_INI": str(ini), "PATH": f"{KINTO_BIN.parent}:/usr/bin:/bin"}
    return subprocess.Popen(
        command, cwd=work, env=env, stdout=log, stderr=log, start_new_session=True
    )


def stored(pg_port: int) -> int:
    """Records in Kinto's storage table, counted by PostgreSQL itself."""
    sql = "SELECT count(*) FROM objects WHERE resource_name = 'record' AND NOT deleted"
    return int(pg.psql(pg_port, sql, DATABASE))


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
    base: str, bodies: list[list[bytes]], batch_size: int, budget_s: float, pg_port: int
) -> KintoResult:
    """Push the per-client batch lists concurrently (stopping at ``budget_s``), then pull.

    Every record whose batch was answered without a 409 must be in Kinto's table (counted in
    PostgreSQL) and in the pull, or the run stops.
    """
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
        in_table = stored(pg_port)
        started = time.perf_counter()
        pulled = await _pull_all(client)
        pull_s = time.perf_counter() - started
    if in_table != pushed or pulled != pushed:
        raise SystemExit(f"kinto: acknowledged {pushed}, stored {in_table}, pulled {pulled}")
    retried = sum(r for _, r in sent)
    return KintoResult(pushed, push_s, pulled, pull_s, pushed < total, retried, in_table)


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
    """One batch, sent again whole until no subrequest answers 409; returns the re-sends.

    Kinto runs a batch's subrequests in one transaction and, on a 409, aborts it
    (``request.tm.abort()`` in ``kinto/core/views/batch.py``): every subrequest before the
    409 is rolled back although its answer in the batch says 201, and the subrequests after
    it run in a new transaction that commits.  So a batch with a 409 is sent again whole;
    its PUTs are idempotent.  (Re-sending only the 409s lost the rolled-back records.)
    """
    headers = {"content-type": "application/json"}
    for attempt in range(MAX_ATTEMPTS):
        response = await client.post("/batch", content=body, headers=headers)
        await _check(response)
        statuses = [r["status"] for r in response.json()["responses"]]
        bad = [s for s in statuses if s not in (200, 201, 409)]
        if bad:
            raise SystemExit(f"kinto batch: {len(bad)} failed, first status {bad[0]}")
        if 409 not in statuses:
            return attempt
    raise SystemExit(f"kinto batch: still conflicting after {MAX_ATTEMPTS} tries")


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
