"""Attachments against a real uvicorn process: tuspy through a connection-cutting proxy,
and kill -9 in the middle of an upload (docs/attachments.md)."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tusclient import client as tus_client

from tests.attachments.proxy import CuttingProxy
from tests.attachments.support import TUS, create, jpeg_with_gps, push_incident, ref, sha
from tests.server_process import ServerProcess, seed_database

pytestmark = pytest.mark.slow
CHUNK = 512 * 1024  # larger than the proxy lets through per connection: every PATCH is cut


def photo(size: int) -> bytes:
    """A JPEG header then random bytes: sniffed as JPEG, incompressible, ``size`` long."""
    head = jpeg_with_gps()
    return head + random.Random(42).randbytes(size - len(head))


async def start(tmp_path: Path) -> tuple[ServerProcess, dict[str, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    people = await seed_database(url)
    env = {"RONDA_ATTACHMENTS__DIR": str(tmp_path / "att")}
    server = ServerProcess(url, tmp_path / "logs", env)
    await server.start()
    return server, {"Authorization": f"Bearer {people.tokens['off-a']}"}


async def test_tuspy_through_a_cutting_proxy_resends_at_most_a_chunk_per_cut(
    tmp_path: Path,
) -> None:
    data = photo(2 * 1024 * 1024)
    server, auth = await start(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            await push_incident(client, auth, "inc-1", [ref(data)])
        port = int(server.base_url.rsplit(":", 1)[1])
        with CuttingProxy(port, cut_after=300 * 1024) as proxy:
            tus = tus_client.TusClient(f"http://127.0.0.1:{proxy.port}/v1/uploads", headers=auth)
            uploader = tus.uploader(
                file_stream=io.BytesIO(data),
                chunk_size=CHUNK,
                metadata={"sha256": sha(data), "collection": "incidents", "record_id": "inc-1"},
                retries=100,
                retry_delay=0,
            )
            await asyncio.to_thread(uploader.upload)
        assert proxy.cuts >= 5
        overhead = proxy.sent - len(data)
        # Each cut costs at most the chunk in flight (plus request headers, < 2 kB each).
        requests_made = len(data) // CHUNK + 3 * proxy.cuts + 2
        assert overhead <= proxy.cuts * CHUNK + requests_made * 2048, (overhead, proxy.cuts)
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            got = await client.get(f"/v1/attachments/incidents/inc-1/{sha(data)}", headers=auth)
        assert got.status_code == 200 and sha(got.content) == sha(data)
    finally:
        await server.stop()


async def test_kill_9_mid_upload_resumes_and_never_serves_a_partial_file(tmp_path: Path) -> None:
    data = photo(4 * 1024 * 1024)
    server, auth = await start(tmp_path)
    download = f"/v1/attachments/incidents/inc-1/{sha(data)}"
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            await push_incident(client, auth, "inc-1", [ref(data)])
            location = (await create(client, auth, data, "inc-1")).headers["location"]
            sent_before_kill, killed = asyncio.Event(), asyncio.Event()

            async def body() -> AsyncIterator[bytes]:
                for i in range(0, len(data), 64 * 1024):
                    yield data[i : i + 64 * 1024]
                    if i >= len(data) // 2:
                        sent_before_kill.set()
                        await killed.wait()  # then the next write fails

            headers = {
                **TUS,
                **auth,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            }
            request = asyncio.create_task(client.patch(location, content=body(), headers=headers))
            await asyncio.wait_for(sent_before_kill.wait(), 30)
            await asyncio.sleep(0.5)  # let the server write what it has read
            server.kill9()
            killed.set()
            with pytest.raises(httpx.TransportError):
                await request
        await server.start()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            assert (await client.get(download, headers=auth)).status_code == 404
            head = await client.head(location, headers={**TUS, **auth})
            offset = int(head.headers["upload-offset"])
            assert 0 < offset < len(data)
            rest = await client.patch(
                location,
                content=data[offset:],
                headers={**headers, "Upload-Offset": str(offset)},
            )
            assert rest.status_code == 204, rest.text
            got = await client.get(download, headers=auth)
            assert got.status_code == 200 and got.content == data
    finally:
        await server.stop()
