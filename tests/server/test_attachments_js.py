"""tus-js-client (npm, run by Node) uploads through a connection-cutting proxy to a real
uvicorn: the file arrives whole and each cut costs at most one chunk of re-sent bytes."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.attachments.proxy import CuttingProxy
from tests.attachments.support import push_incident, ref, sha
from tests.server.test_attachments_process import photo, start

pytestmark = pytest.mark.slow
JS = Path(__file__).resolve().parents[1] / "attachments" / "js"
CHUNK = 512 * 1024  # more than the proxy lets through per connection: every PATCH is cut


@pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "tus-js-client").is_dir(),
    reason="needs node and scripts/attachment-test-deps (scripts/test runs it)",
)
async def test_tus_js_client_through_a_cutting_proxy(tmp_path: Path) -> None:
    data = photo(2 * 1024 * 1024)
    file = tmp_path / "foto.jpg"
    file.write_bytes(data)
    server, auth = await start(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            await push_incident(client, auth, "inc-1", [ref(data)])
        port = int(server.base_url.rsplit(":", 1)[1])
        token = auth["Authorization"].removeprefix("Bearer ")
        with CuttingProxy(port, cut_after=300 * 1024) as proxy:
            endpoint = f"http://127.0.0.1:{proxy.port}/v1/uploads"
            node = await asyncio.create_subprocess_exec(
                "node", str(JS / "upload.mjs"), endpoint, token, str(file), sha(data), "inc-1",
                str(CHUNK), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(node.communicate(), 120)
        assert node.returncode == 0, err.decode()
        result = json.loads(out)
        assert proxy.cuts >= 5 and result["retries"] >= proxy.cuts - 1
        overhead = proxy.sent - len(data)
        requests_made = len(data) // CHUNK + 3 * proxy.cuts + 2
        assert overhead <= proxy.cuts * CHUNK + requests_made * 2048, (overhead, proxy.cuts)
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            got = await client.get(f"/v1/attachments/incidents/inc-1/{sha(data)}", headers=auth)
        assert got.status_code == 200 and sha(got.content) == sha(data)
        # The same bytes for another record: the server holds them, tus-js-client finishes
        # (its first PATCH gets 409, the HEAD that follows says the upload is complete).
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            await push_incident(client, auth, "inc-2", [ref(data)])
        node = await asyncio.create_subprocess_exec(
            "node", str(JS / "upload.mjs"), f"{server.base_url}/v1/uploads", token, str(file),
            sha(data), "inc-2", str(CHUNK), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(node.communicate(), 120)
        assert node.returncode == 0, err.decode()
    finally:
        await server.stop()
