"""Request bodies the server refuses before looking into them (docs/protocol.md, "Transport"):
a body not sent as ``application/json`` (415 ``unsupported_media_type``), JSON nested deeper
than 32 levels (400 ``too_deep``), on every endpoint that reads a JSON body; compressed
bodies (every gzip member read, nothing after the last one); and JSON as read.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import httpx
import orjson
import pytest

from sync.clock import HybridClock
from tests.server.conftest import Served
from tests.support import batch, incident, new_id

JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> bytes:
    """JSON of ``depth`` levels of arrays and objects (built as bytes: encoders stop at 255)."""
    outer = range(depth - 1)
    opening = b"".join(b'{"a":' if level % 2 else b"[" for level in outer)
    closing = b"".join(b"}" if level % 2 else b"]" for level in reversed(outer))
    return opening + (b"{}" if (depth - 1) % 2 else b"[]") + closing


def with_value(value: Any, marker: str, deep: bytes) -> bytes:
    """``value`` as JSON, with the string ``marker`` in it replaced by ``deep``."""
    return orjson.dumps(value).replace(orjson.dumps(marker), deep)


def deep_bodies(depth: int) -> dict[str, bytes]:
    """Bodies of ``depth`` levels in all, deep in the places a push can be deep."""
    change = incident(new_id(), HybridClock())
    in_fields = {**change, "fields": {**change["fields"], "description": "DEEP"}}
    not_a_change: Any = "DEEP"  # a string where a change goes: the deep value replaces it
    return {
        "top": nested(depth),
        "in_changes": with_value(batch([not_a_change]), "DEEP", nested(depth - 2)),
        "in_a_change": with_value(batch([in_fields]), "DEEP", nested(depth - 4)),
        "envelope_member": with_value({**batch([change]), "x": "DEEP"}, "DEEP", nested(depth - 1)),
    }


async def pulled(served: Served) -> int:
    page = await served.client.get("/v1/sync/pull", headers=served.auth("chief-a"))
    return len(page.json()["changes"])


def code(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


@pytest.mark.parametrize("depth", [33, 252, 300, 1023, 1024, 1025, 5000])
async def test_a_deep_push_is_refused_whole(served: Served, depth: int) -> None:
    for place, body in deep_bodies(depth).items():
        for encoding, content in (("identity", body), ("gzip", gzip.compress(body))):
            headers = {**served.auth("off-a"), **JSON, "Content-Encoding": encoding}
            answer = await served.client.post("/v1/sync/push", content=content, headers=headers)
            assert (answer.status_code, code(answer)) == (400, "too_deep"), (place, encoding)
            assert answer.json()["error"]["details"] == {"max_depth": 32}
    assert await pulled(served) == 0


async def test_thirty_two_levels_are_read(served: Served) -> None:
    """At the limit the push is read; the one bad change is refused on its own."""
    bodies = deep_bodies(32)
    headers = {**served.auth("off-a"), **JSON}
    answer = await served.client.post(
        "/v1/sync/push", content=bodies["in_a_change"], headers=headers
    )
    assert answer.status_code == 200
    (result,) = answer.json()["results"]
    assert result["error"]["code"] == "invalid_field"


@pytest.mark.parametrize("depth", [33, 252, 1023, 1100])
async def test_deep_small_bodies_are_refused(served: Served, depth: int) -> None:
    body = with_value({"code": "ABCD-EFGH", "device_name": "DEEP"}, "DEEP", nested(depth - 1))
    enroll = await served.client.post("/v1/enroll", content=body, headers=JSON)
    assert (enroll.status_code, code(enroll)) == (400, "too_deep")
    station = with_value({"id": "st-z", "name": "DEEP"}, "DEEP", nested(depth - 1))
    headers = {**served.auth("admin"), **JSON}
    admin = await served.client.post("/v1/admin/stations", content=station, headers=headers)
    assert (admin.status_code, code(admin)) == (400, "too_deep")


REFUSED_TYPES = [
    None,
    "",
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "application/json-seq",
    "application/json; charset=latin-1",
    "application/json; charset=utf-16",
    "application/json; foo=bar",  # the doc allows only a charset parameter
    "application/json; charset=utf-8; foo=bar",
    "application/json; version",
]
ACCEPTED_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    'Application/JSON;charset="UTF-8"',
    "application/json ; charset=utf8",
    "application/json;",  # an empty parameter (RFC 9110 allows it)
]


@pytest.mark.parametrize("content_type", REFUSED_TYPES)
async def test_a_body_not_sent_as_json_is_refused(served: Served, content_type: str | None) -> None:
    body = orjson.dumps(batch([incident(new_id(), HybridClock())]))
    headers = served.auth("off-a")
    if content_type is not None:
        headers["Content-Type"] = content_type
    answer = await served.client.post("/v1/sync/push", content=body, headers=headers)
    assert (answer.status_code, code(answer)) == (415, "unsupported_media_type")
    assert answer.json()["error"]["details"]["supported"] == ["application/json"]
    assert await pulled(served) == 0
    enroll = {"code": "ABCD-EFGH", "device_name": "x"}
    small = {} if content_type is None else {"Content-Type": content_type}
    answer = await served.client.post("/v1/enroll", content=orjson.dumps(enroll), headers=small)
    assert (answer.status_code, code(answer)) == (415, "unsupported_media_type")


@pytest.mark.parametrize("content_type", ACCEPTED_TYPES)
async def test_json_with_a_utf8_charset_is_read(served: Served, content_type: str) -> None:
    body = orjson.dumps(batch([incident(new_id(), HybridClock())]))
    headers = {**served.auth("off-a"), "Content-Type": content_type}
    answer = await served.client.post("/v1/sync/push", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["summary"]["applied"] == 1


async def push_bytes(served: Served, content: bytes, encoding: str) -> httpx.Response:
    headers = {**served.auth("off-a"), **JSON, "Content-Encoding": encoding}
    return await served.client.post("/v1/sync/push", content=content, headers=headers)


async def test_every_gzip_member_is_read(served: Served) -> None:
    """RFC 1952: a gzip file is a series of members; the body is all of them, in turn."""
    for encoding in ("gzip", "x-gzip"):
        body = orjson.dumps(batch([incident(new_id(), HybridClock())]))
        half = len(body) // 2
        members = gzip.compress(body[:half]) + gzip.compress(b"") + gzip.compress(body[half:])
        answer = await push_bytes(served, members, encoding)
        assert answer.status_code == 200, answer.text  # was 400 invalid_json: one member read
        assert answer.json()["summary"]["applied"] == 1
    assert await pulled(served) == 2


@pytest.mark.parametrize(
    ("encoding", "trailing"),
    [
        ("gzip", b"xx"),
        ("gzip", b"\x00\x00\x00\x00"),  # zero padding is bytes after the last member too
        ("gzip", b"\x1f"),
        ("gzip", b"\x1f\x8b\x08"),  # a member cut short
        ("deflate", b"xx"),
        ("deflate", zlib.compress(b"{}")),  # zlib has one stream
    ],
)
async def test_bytes_after_the_compressed_body_are_corrupt(
    served: Served, encoding: str, trailing: bytes
) -> None:
    body = orjson.dumps(batch([incident(new_id(), HybridClock())]))
    compressed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    answer = await push_bytes(served, compressed + trailing, encoding)
    assert (answer.status_code, code(answer)) == (400, "invalid_request")  # was 200: ignored
    assert await pulled(served) == 0


@pytest.mark.parametrize("split", [True, False])
async def test_the_decompressed_cap_holds_across_members(
    app_client: httpx.AsyncClient, served: Served, split: bool
) -> None:
    cap = served.settings.sync.max_decompressed_bytes
    body = orjson.dumps(batch([incident(new_id(), HybridClock())]))
    padding = b" " * (cap - len(body) + 1)  # one byte over the cap in all
    parts = [body, padding] if split else [body + padding]
    content = b"".join(gzip.compress(part) for part in parts)
    answer = await push_bytes(served, content, "gzip")
    assert (answer.status_code, code(answer)) == (413, "payload_too_large")
    assert answer.json()["error"]["details"] == {"max_decompressed_bytes": cap}


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf" + orjson.dumps(batch([], "b0")),  # a UTF-8 byte order mark
        b'{"batch_id": "b1", "device_time_ms": 1e400, "changes": []}',
    ],
)
async def test_a_bom_or_an_infinite_number_is_not_json(served: Served, body: bytes) -> None:
    answer = await push_bytes(served, body, "identity")
    assert (answer.status_code, code(answer)) == (400, "invalid_json")


async def test_a_repeated_member_takes_its_last_value(served: Served) -> None:
    change = orjson.dumps(incident(new_id(), HybridClock(), {"category": "hurto"}))
    # Both "fields" are valid; the first is dropped unseen, as the doc says.
    twice = change[:-1] + b',"fields":{"category":"robo","occurred_at":"2026-11-20T22:15:00Z"}}'
    body = b'{"batch_id":"b1","batch_id":"b2","changes":[' + twice + b"]}"
    answer = await push_bytes(served, body, "identity")
    assert answer.json()["batch_id"] == "b2"
    page = await served.client.get("/v1/sync/pull", headers=served.auth("off-a"))
    assert page.json()["changes"][0]["fields"]["category"] == "robo"
