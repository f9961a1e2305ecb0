"""A connection cut mid-PATCH keeps what reached the server: the next HEAD answers about the
cut point, so a client re-sends at most one read chunk (docs/attachments.md, issue 13).

By bytes, never by time: the cutting proxy forwards exactly ``cut_after`` bytes of the
request (headers and body) and closes; the offset the server answers right after is compared
with what went through."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest

from tests.attachments.proxy import CuttingProxy
from tests.attachments.support import TUS, create, jpeg_with_gps, push_incident, ref, sha
from tests.server_process import ServerProcess, seed_database

pytestmark = pytest.mark.slow

# What a cut may lose, at most: the server's read of the socket that was under way when the
# peer's close was seen (asyncio reads up to 256 KiB at once) plus what uvicorn had buffered
# and not yet handed over (it pauses reading at 64 KiB).
ONE_READ = 256 * 1024 + 64 * 1024
OCTETS = "application/offset+octet-stream"


def photo(size: int) -> bytes:
    head = jpeg_with_gps()
    return head + random.Random(7).randbytes(size - len(head))


async def start(tmp_path: Path) -> tuple[ServerProcess, dict[str, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    people = await seed_database(url)
    server = ServerProcess(url, tmp_path / "logs", {"RONDA_ATTACHMENTS__DIR": str(tmp_path / "a")})
    await server.start()
    return server, {"Authorization": f"Bearer {people.tokens['off-a']}"}


@pytest.mark.parametrize("cut_at", [300 * 1024, 4 * 1024 * 1024 + 12345])
async def test_a_cut_at_n_bytes_resumes_at_n_minus_at_most_one_read(
    tmp_path: Path, cut_at: int
) -> None:
    data = photo(8 * 1024 * 1024)
    server, auth = await start(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as direct:
            await push_incident(direct, auth, "inc-1", [ref(data)])
            location = (await create(direct, auth, data, "inc-1")).headers["location"]
            path = httpx.URL(location).raw_path.decode()
            port = int(server.base_url.rsplit(":", 1)[1])
            headers = {**TUS, **auth, "Upload-Offset": "0", "Content-Type": OCTETS}
            with CuttingProxy(port, cut_after=cut_at) as proxy:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{proxy.port}", timeout=60
                ) as cut:
                    with pytest.raises(httpx.TransportError):
                        await cut.patch(path, content=data, headers=headers)
            assert proxy.cuts == 1 and proxy.sent == cut_at
            # The headers of the PATCH went through the proxy too: the body that arrived is
            # the cut point less those.
            head_bytes = len(
                f"PATCH {path} HTTP/1.1\r\n".encode()
            )  # a lower bound is enough: body_sent <= cut_at - head_bytes
            body_sent = cut_at - head_bytes
            answer = await direct.head(location, headers={**TUS, **auth})
            assert answer.status_code == 200, answer.text
            offset = int(answer.headers["upload-offset"])
            assert offset <= body_sent
            assert offset >= body_sent - ONE_READ - 2048, (offset, body_sent)
            # and the rest completes the file
            rest = await direct.patch(
                location,
                content=data[offset:],
                headers={**headers, "Upload-Offset": str(offset)},
            )
            assert rest.status_code == 204, rest.text
            got = await direct.get(f"/v1/attachments/incidents/inc-1/{sha(data)}", headers=auth)
            assert got.status_code == 200 and got.content == data
    finally:
        await server.stop()


async def test_a_silently_dead_connection_gives_way_to_the_resuming_client(tmp_path: Path) -> None:
    """The network dies without a FIN: the old PATCH would wait for bytes forever, holding the
    upload. The client's HEAD asks it to stop, gets the offset of all that arrived, and its
    PATCH of the rest is taken (not 423)."""
    data = photo(4 * 1024 * 1024)
    cut_at = 2 * 1024 * 1024 + 777
    server, auth = await start(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as direct:
            await push_incident(direct, auth, "inc-1", [ref(data)])
            location = (await create(direct, auth, data, "inc-1")).headers["location"]
            path = httpx.URL(location).raw_path.decode()
            port = int(server.base_url.rsplit(":", 1)[1])
            headers = {**TUS, **auth, "Upload-Offset": "0", "Content-Type": OCTETS}
            with CuttingProxy(port, cut_after=cut_at, stall=True) as proxy:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{proxy.port}", timeout=120
                ) as stalled:
                    hung = asyncio.create_task(stalled.patch(path, content=data, headers=headers))
                    while proxy.cuts == 0:  # by bytes: until the proxy has let cut_at through
                        await asyncio.sleep(0.05)
                    answer = await direct.head(location, headers={**TUS, **auth})
                    assert answer.status_code == 200, answer.text
                    offset = int(answer.headers["upload-offset"])
                    body_sent = cut_at - len(f"PATCH {path} HTTP/1.1\r\n".encode())
                    assert body_sent - ONE_READ - 2048 <= offset <= body_sent, (offset, body_sent)
                    rest = await direct.patch(
                        location,
                        content=data[offset:],
                        headers={**headers, "Upload-Offset": str(offset)},
                    )
                    assert rest.status_code == 204, rest.text
                    hung.cancel()
                    await asyncio.gather(hung, return_exceptions=True)
            got = await direct.get(f"/v1/attachments/incidents/inc-1/{sha(data)}", headers=auth)
            assert got.status_code == 200 and got.content == data
    finally:
        await server.stop()
