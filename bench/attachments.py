"""Attachment upload throughput against a raw write-and-fsync of the same bytes.

16 concurrent tus uploads (POST, then one PATCH of the whole file, as tus clients send by
default) of 8 MiB photos to a real uvicorn over loopback, with the server's fsync on (it
always is); the same 128 MiB written by 16 threads to files and fsynced is the raw disk
figure. Then 16 more photos whose PATCH is cut halfway by the client (the connection
closed), resumed with HEAD + PATCH of the rest: ``resume_overhead_pct`` is the body bytes
sent beyond the files' own, in percent (the time those uploads took over uninterrupted ones is
printed too, ``resume_time_overhead_pct``). ``http_floor_mb_s``: the same 16 bodies to an
endpoint that stores nothing, i.e. what uvicorn and the client cost before any storage.

    .venv/bin/python bench/attachments.py [--rounds 3]

Last line: ``upload_mb_s=X raw_disk_mb_s=X ratio=X resume_overhead_pct=X`` (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path[0] = str(ROOT)  # this folder would shadow the ``sync`` package

import httpx  # noqa: E402

from sync.clock import HybridClock  # noqa: E402
from sync.identity import create_device_token  # noqa: E402
from sync.store.records import Officer, Station  # noqa: E402
from sync.store.sql import SQLStore  # noqa: E402

FILES, SIZE = 16, 8 * 1024 * 1024
MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def photos(seed: int) -> list[bytes]:
    """JPEG magic, then incompressible bytes: sniffed as JPEG, 8 MiB each."""
    rng = random.Random(seed)
    return [b"\xff\xd8\xff\xe0" + rng.randbytes(SIZE - 4) for _ in range(FILES)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(url: str) -> str:
    store = SQLStore(url)
    await store.open()
    try:
        await store.put_station(Station("st-a", "Comisaría A"))
        await store.put_officer(Officer("off-a", "Ana", "officer", "st-a"))
        _, token = await create_device_token(store, "off-a", "phone", 0)
        return token
    finally:
        await store.close()


def ref(data: bytes) -> dict[str, Any]:
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "media_type": "image/jpeg",
        "size": len(data),
        "captured_at": "2026-11-20T22:15:00-05:00",
    }


async def push(client: httpx.AsyncClient, record_id: str, files: list[bytes]) -> None:
    fields = {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "attachments": [ref(d) for d in files],
    }
    change = {
        "collection": "incidents",
        "id": record_id,
        "op": "upsert",
        "hlc": str(HybridClock().tick()),
        "fields": fields,
    }
    answer = await client.post("/v1/sync/push", json={"batch_id": record_id, "changes": [change]})
    assert answer.json()["results"][0]["status"] == "applied", answer.text


def meta(data: bytes, record_id: str) -> str:
    values = {"sha256": ref(data)["sha256"], "collection": "incidents", "record_id": record_id}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def create(client: httpx.AsyncClient, data: bytes, record_id: str) -> str:
    headers = {**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": meta(data, record_id)}
    answer = await client.post("/v1/uploads", headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.headers["location"]


async def patch(client: httpx.AsyncClient, location: str, data: bytes, offset: int) -> int:
    headers = {**TUS, "Upload-Offset": str(offset), "Content-Type": OCTETS}
    answer = await client.patch(location, content=data[offset:], headers=headers)
    return answer.status_code


async def plain(client: httpx.AsyncClient, data: bytes, record_id: str) -> None:
    location = await create(client, data, record_id)
    assert await patch(client, location, data, 0) == 204


class Cut(Exception):
    pass


SENT: list[int] = []  # body bytes handed to the connection by resumed uploads


async def resumed(client: httpx.AsyncClient, data: bytes, record_id: str) -> None:
    """Half the body, then the connection dies; HEAD and PATCH the rest (as tus clients do)."""
    location = await create(client, data, record_id)

    async def half() -> AsyncIterator[bytes]:
        for i in range(0, len(data) // 2, MIB):
            SENT.append(len(data[i : i + MIB]))
            yield data[i : i + MIB]
        raise Cut  # httpx drops the connection mid-body

    headers = {**TUS, "Upload-Offset": "0", "Content-Type": OCTETS}
    with contextlib.suppress(Cut, httpx.HTTPError):
        await client.patch(location, content=half(), headers=headers)
    while True:  # 409/423 while the server still writes what it got: ask again
        head = await client.head(location, headers=TUS)
        offset = int(head.headers["upload-offset"])
        if offset == len(data):
            return
        SENT.append(len(data) - offset)
        if await patch(client, location, data, offset) == 204:
            return
        await asyncio.sleep(0.01)


async def sink(client: httpx.AsyncClient, data: bytes, record_id: str) -> None:
    """The same bytes to an endpoint that reads nothing (OPTIONS): the HTTP floor."""
    await client.request("OPTIONS", "/v1/uploads", content=data)


async def timed(
    runner: Any, base: str, auth: dict[str, str], files: list[bytes], rid: str
) -> float:
    # One client (one connection pool) for all: a client per upload would time its TLS set-up.
    limits = httpx.Limits(max_connections=2 * FILES)
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=120, limits=limits) as client:
        await push(client, rid, files)
        start = time.perf_counter()
        await asyncio.gather(*(runner(client, d, rid) for d in files))
        return time.perf_counter() - start


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_disk(folder: Path, files: list[bytes]) -> float:
    def write(i: int) -> None:
        path = folder / f"raw-{i}"
        with open(path, "wb") as f:
            f.write(files[i])
            f.flush()
            os.fsync(f.fileno())
        path.unlink()

    start = time.perf_counter()
    with ThreadPoolExecutor(FILES) as pool:
        list(pool.map(write, range(FILES)))
    return time.perf_counter() - start


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder / 'ronda.db'}"
        token = await seed(url)
        auth = {"Authorization": f"Bearer {token}"}
        port = free_port()
        env = {
            **os.environ,
            "RONDA_DATABASE__URL": url,
            "RONDA_ATTACHMENTS__DIR": str(folder / "att"),
            "RONDA_ATTACHMENTS__MAX_DEVICE_BYTES_PER_DAY": str(1 << 40),
            "RONDA_SERVER__LOG_LEVEL": "warning",
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app",
                   "--port", str(port), "--log-level", "warning"]  # fmt: skip
        server = subprocess.Popen(command, cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                for _ in range(1200):  # importing the app takes 25 s on a loaded machine
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            up, raw, over, floor, resent, cpu, sink_cpu = [], [], [], [], [], [], []
            for r in range(rounds):
                before = cpu_s(server.pid)
                t_plain = await timed(plain, base, auth, photos(3 * r), f"p{r}")
                cpu.append(cpu_s(server.pid) - before)
                t_raw = raw_disk(folder, photos(3 * r))
                before = cpu_s(server.pid)
                t_sink = await timed(sink, base, auth, photos(3 * r), f"s{r}")
                sink_cpu.append(cpu_s(server.pid) - before)
                SENT.clear()
                t_resumed = await timed(resumed, base, auth, photos(3 * r + 1), f"r{r}")
                mb = FILES * SIZE / MIB
                up.append(mb / t_plain)
                raw.append(mb / t_raw)
                floor.append(mb / t_sink)
                over.append(100 * (sum(SENT) / (FILES * SIZE) - 1))
                resent.append(100 * (t_resumed / t_plain - 1))
                print(
                    f"round {r + 1}: upload {mb / t_plain:.0f} MiB/s, raw write+fsync "
                    f"{mb / t_raw:.0f} MiB/s, HTTP floor (body read, nothing stored) "
                    f"{mb / t_sink:.0f} MiB/s; each upload cut once: {over[-1]:.2f} % bytes "
                    f"sent again, {t_resumed:.2f} s vs {t_plain:.2f} s uninterrupted; server CPU "
                    f"{1000 * cpu[-1] / mb:.1f} ms/MiB uploading, {1000 * sink_cpu[-1] / mb:.1f} "
                    f"ms/MiB on the floor; load {os.getloadavg()[0]:.1f}"
                )
        finally:
            server.terminate()
            server.wait(10)
    u, d = statistics.median(up), statistics.median(raw)
    f = statistics.median(floor)
    # An upload cannot beat the HTTP floor: floor / raw bounds the ratio on this machine now.
    print(
        f"http_floor_mb_s={f:.0f} ratio_ceiling={f / statistics.median(raw):.2f} "
        f"resume_time_overhead_pct={statistics.median(resent):.0f} "
        f"server_cpu_ms_per_mib={1000 * statistics.median(cpu) / (FILES * SIZE / MIB):.1f}"
    )
    print(
        f"upload_mb_s={u:.0f} raw_disk_mb_s={d:.0f} ratio={u / d:.2f} "
        f"resume_overhead_pct={statistics.median(over):.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
