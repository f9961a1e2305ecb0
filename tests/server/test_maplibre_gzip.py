"""MapLibre GL JS (914 KB) is gzipped once and kept, not compressed again for every page load
(bench/pages.py: about 70 ms of a quiet core on the way to the chief's first map)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import httpx

from server.web.assets import maplibre_dir
from tests.server.conftest import Served

RAW = {"accept-encoding": "gzip"}


@dataclass(frozen=True)
class Raw:
    status_code: int
    headers: httpx.Headers
    content: bytes


async def _raw(client: httpx.AsyncClient, path: str, **headers: str) -> Raw:
    """The answer as sent (httpx would decode the gzip)."""
    request = client.build_request("GET", path, headers={**RAW, **headers})
    answer = await client.send(request, stream=True)
    try:
        body = b"".join([chunk async for chunk in answer.aiter_raw()])
    finally:
        await answer.aclose()
    return Raw(answer.status_code, answer.headers, body)


async def test_maplibre_is_sent_gzipped_and_equal_to_the_package_file(served: Served) -> None:
    for name in ("maplibre-gl.js", "maplibre-gl.css"):
        on_disk = (maplibre_dir() / name).read_bytes()
        answer = await _raw(served.client, f"/vendor/maplibre/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in answer.headers["vary"].lower()
        assert answer.headers["cache-control"] == "public, max-age=86400"
        assert gzip.decompress(answer.content) == on_disk
        media = "text/javascript" if name.endswith(".js") else "text/css"
        assert answer.headers["content-type"].startswith(media)


async def test_maplibre_is_compressed_once(served: Served) -> None:
    from server.web import assets

    path = "/vendor/maplibre/maplibre-gl.js"
    answers = [await _raw(served.client, path) for _ in range(3)]
    kept, _ = assets._maplibre_gzip("maplibre-gl.js")
    # The kept copy itself (level 9, no timestamp) every time; the gzip middleware would
    # compress anew per answer (level 5, its own header), giving other bytes.
    assert all(a.content == kept for a in answers)
    assert kept[4:8] == b"\0\0\0\0"  # gzip header MTIME: none
    info = assets._maplibre_gzip.cache_info()
    assert info.misses <= 2 and info.hits >= 3


async def test_maplibre_revalidates_with_its_etag(served: Served) -> None:
    path = "/vendor/maplibre/maplibre-gl.js"
    first = await _raw(served.client, path)
    etag = first.headers["etag"]
    again = await _raw(served.client, path, **{"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag


async def test_maplibre_without_gzip_is_the_plain_file(served: Served) -> None:
    answer = await served.client.get(
        "/vendor/maplibre/maplibre-gl.js", headers={"accept-encoding": "identity"}
    )
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers
    assert answer.content == (maplibre_dir() / "maplibre-gl.js").read_bytes()
