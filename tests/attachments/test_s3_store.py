"""The S3 blob store (sync/attachments/s3.py) against an S3 API server over HTTP.

The server is moto's (PyPI ``moto[server]``): an implementation of the S3 API made for
testing, in memory. It is not a storage product: it enforces multipart rules (parts of at
least 5 MiB, an upload is no object until completed) but does not check
``x-amz-checksum-sha256`` (a wrong one is accepted), so these tests cannot show that S3 refuses
damaged bytes, only what our adapter does. No real S3-compatible server installs here from the
registries (docs/attachments.md "Storage").
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.attachment_settings import AttachmentSettings
from server.settings import DatabaseSettings, Settings
from sync.attachments.blobs import BlobTampered
from sync.attachments.s3 import S3BlobStore, make_client
from sync.store.sql import SQLStore
from tests.attachments.support import (
    TUS,
    create,
    jpeg_with_gps,
    patch,
    push_incident,
    ref,
    sha,
    upload,
)
from tests.support import PG_URL, reset_postgres, seed_people, store_params

MIB = 1024 * 1024
PART = 5 * MIB


class S3:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.client = make_client(endpoint, "us-east-1")
        self.count = 0

    def bucket(self) -> str:
        self.count += 1
        name = f"ronda-test-{self.count}-{os.urandom(4).hex()}"
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=bucket)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def body(self, bucket: str, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ronda-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ronda-test-secret")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3(f"http://{host}:{port}")
    try:
        yield s3
    finally:
        s3.client.close()
        # moto keeps its buckets per process, not per server: empty them for the next test.
        httpx.post(f"{s3.endpoint}/moto-api/reset").raise_for_status()
        server.stop()


def blob(tmp_path: Path, data: bytes) -> tuple[str, Path]:
    """A finished upload's file (as the tus route hands it over)."""
    path = tmp_path / f"{os.urandom(4).hex()}.part"
    path.write_bytes(data)
    return sha(data), path


def store(s3: S3, tmp_path: Path) -> S3BlobStore:
    return S3BlobStore(tmp_path / "att", s3.client, s3.bucket(), "ronda/", PART)


def test_small_and_multipart_blobs_arrive_whole_and_read_back(s3: S3, tmp_path: Path) -> None:
    blobs = store(s3, tmp_path)
    small, big = os.urandom(1000), os.urandom(12 * MIB + 7)
    small_sha, small_path = blob(tmp_path, small)
    big_sha, big_path = blob(tmp_path, big)
    assert blobs.put_file(small_sha, small_path).size == 1000
    assert blobs.put_file(big_sha, big_path).size == len(big)
    assert s3.keys(blobs.bucket) == sorted([f"ronda/blobs/{small_sha}", f"ronda/blobs/{big_sha}"])
    assert s3.body(blobs.bucket, f"ronda/blobs/{big_sha}") == big
    # Three parts (5 + 5 + 2 MiB): an S3 multipart ETag ends in the part count.
    head = s3.client.head_object(Bucket=blobs.bucket, Key=f"ronda/blobs/{big_sha}")
    assert head["ETag"].strip('"').endswith("-3")
    assert s3.client.list_multipart_uploads(Bucket=blobs.bucket).get("Uploads") is None
    assert not small_path.exists() and not big_path.exists()  # kept as the local copies
    stat = blobs.stat(big_sha)
    assert stat is not None and stat.size == len(big)
    assert blobs.stat(sha(b"never sent")) is None
    with blobs.open_checked(big_sha) as f:
        assert f.read() == big
    assert blobs.path(big_sha).read_bytes() == big


class FailingOnPart2(S3BlobStore):
    """The connection to the store dies after the first part (a real failure mid-upload)."""

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        if number == 2:
            raise ConnectionError("the store went away")
        return super()._upload_part(key, upload_id, number, data)


def test_a_multipart_upload_that_fails_leaves_no_object_and_no_parts(
    s3: S3, tmp_path: Path
) -> None:
    blobs = FailingOnPart2(tmp_path / "att", s3.client, s3.bucket(), "", PART)
    data = os.urandom(11 * MIB)
    digest, path = blob(tmp_path, data)
    with pytest.raises(ConnectionError):
        blobs.put_file(digest, path)
    assert s3.keys(blobs.bucket) == []  # never a partial object
    assert s3.client.list_multipart_uploads(Bucket=blobs.bucket).get("Uploads") is None
    assert blobs.stat(digest) is None and path.exists()  # the upload's file is still there
    ok = S3BlobStore(tmp_path / "att", s3.client, blobs.bucket, "", PART)
    ok.put_file(digest, path)  # and goes up whole on the next try
    assert s3.body(blobs.bucket, f"blobs/{digest}") == data


def test_an_object_changed_behind_the_servers_back_is_quarantined(s3: S3, tmp_path: Path) -> None:
    blobs = store(s3, tmp_path)
    data = jpeg_with_gps()
    digest, path = blob(tmp_path, data)
    blobs.put_file(digest, path)
    with blobs.open_checked(digest) as f:
        assert f.read() == data
    key = f"ronda/blobs/{digest}"
    s3.client.put_object(Bucket=blobs.bucket, Key=key, Body=data[:-10] + b"X" * 10)
    with pytest.raises(BlobTampered) as caught:
        blobs.open_checked(digest)
    assert caught.value.code == "attachment_tampered"
    keys = s3.keys(blobs.bucket)
    assert key not in keys and blobs.stat(digest) is None
    (kept,) = keys
    assert kept.startswith(f"ronda/quarantine/{digest}.")  # kept for the investigation
    assert s3.body(blobs.bucket, kept).endswith(b"X" * 10)
    assert blobs.verify(digest) is None
    again, path = blob(tmp_path, data)
    blobs.put_file(again, path)  # the same bytes sent again restore it
    with blobs.open_checked(digest) as f:
        assert f.read() == data


def test_a_changed_local_copy_is_fetched_again_from_the_bucket(s3: S3, tmp_path: Path) -> None:
    blobs = store(s3, tmp_path)
    data = os.urandom(4000)
    digest, path = blob(tmp_path, data)
    blobs.put_file(digest, path)
    copy = blobs.path(digest)
    copy.chmod(0o644)
    copy.write_bytes(b"not the evidence")
    with blobs.open_checked(digest) as f:
        assert f.read() == data  # the bucket holds the truth: nothing is quarantined
    assert s3.keys(blobs.bucket) == [f"ronda/blobs/{digest}"]
    assert blobs.verify(digest) is True


@pytest.fixture(params=store_params())
async def served(
    request: pytest.FixtureRequest, tmp_path: Path, s3: S3
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str]]:
    if request.param == "postgres":
        assert PG_URL
        await reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    bucket = s3.bucket()
    attachments = AttachmentSettings(
        dir=str(tmp_path / "att"), store="s3", s3_endpoint_url=s3.endpoint, s3_bucket=bucket
    )
    settings = Settings(
        _env_file=None,
        database=DatabaseSettings(url=url),
        attachments=attachments,
    )
    store = SQLStore(url)
    app = create_app(settings, store)
    async with app.router.lifespan_context(app):
        people = await seed_people(store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, {"Authorization": f"Bearer {people.tokens['off-a']}"}, bucket
        svc = getattr(app.state, "attachments", None)
        if svc is not None:
            svc.blobs.client.close()


async def test_the_server_uploads_into_the_bucket_and_serves_from_it(
    served: tuple[httpx.AsyncClient, dict[str, str], str], s3: S3
) -> None:
    client, auth, bucket = served
    data = jpeg_with_gps(noise=3)
    await push_incident(client, auth, "inc-s3", [ref(data)])
    assert (await upload(client, auth, data, "inc-s3")).status_code == 204
    assert s3.body(bucket, f"blobs/{sha(data)}") == data
    where = f"/v1/attachments/incidents/inc-s3/{sha(data)}"
    got = await client.get(where, headers=auth)
    assert got.status_code == 200 and got.content == data
    part = await client.get(where, headers={**auth, "Range": "bytes=5-14"})
    assert part.status_code == 206 and part.content == data[5:15]
    await push_incident(client, auth, "inc-s3-again", [ref(data)])
    again = await create(client, auth, data, "inc-s3-again")  # held in the bucket: not sent
    assert again.status_code == 201 and again.headers["upload-offset"] == str(len(data))
    s3.client.put_object(Bucket=bucket, Key=f"blobs/{sha(data)}", Body=b"\xff\xd8\xff swapped")
    tampered = await client.get(where, headers=auth)
    assert tampered.status_code == 409
    assert tampered.json()["error"]["code"] == "attachment_tampered"


async def test_an_upload_the_store_refused_at_the_end_is_finished_by_the_next_head(
    served: tuple[httpx.AsyncClient, dict[str, str], str], s3: S3
) -> None:
    client, auth, bucket = served
    data = jpeg_with_gps(noise=4)
    await push_incident(client, auth, "inc-s3-down", [ref(data)])
    location = (await create(client, auth, data, "inc-s3-down")).headers["location"]
    s3.client.delete_bucket(Bucket=bucket)  # the store refuses every write now
    last = await patch(client, auth, location, 0, data)
    assert last.status_code == 503, last.text
    assert last.json()["error"]["code"] == "blob_store_unavailable"
    head = await client.head(location, headers={**TUS, **auth})
    assert head.status_code == 503  # not "complete": the client keeps its copy
    s3.client.create_bucket(Bucket=bucket)
    head = await client.head(location, headers={**TUS, **auth})
    assert head.status_code == 200 and head.headers["upload-offset"] == str(len(data))
    assert s3.body(bucket, f"blobs/{sha(data)}") == data
    got = await client.get(f"/v1/attachments/incidents/inc-s3-down/{sha(data)}", headers=auth)
    assert got.status_code == 200 and got.content == data


def test_the_local_cache_keeps_the_most_used_copies_within_its_cap(s3: S3, tmp_path: Path) -> None:
    """Local copies beyond ``cache_max_bytes`` go, least recently read first (review finding:
    the cache never shrank); a copy that went is fetched again, hashed, when next read."""
    blobs = S3BlobStore(tmp_path / "att", s3.client, s3.bucket(), "ronda/", PART, 25_000)
    first, second, third = os.urandom(10_000), os.urandom(10_000), os.urandom(10_000)
    hashes = []
    for data in (first, second):
        digest, path = blob(tmp_path, data)
        blobs.put_file(digest, path)
        hashes.append(digest)
    os.utime(blobs.fingerprints / hashes[1], ns=(1, 1))  # second: read longest ago
    with blobs.open_checked(hashes[0]) as f:  # first: read just now
        assert f.read() == first
    digest, path = blob(tmp_path, third)
    blobs.put_file(digest, path)
    hashes.append(digest)
    cached = {p.name for p in blobs.cache.rglob("*") if p.is_file()}
    assert cached == {hashes[0], hashes[2]}  # 20,000 bytes of the 25,000 allowed
    with blobs.open_checked(hashes[1]) as f:  # from the bucket again
        assert f.read() == second
    assert blobs.path(hashes[1]).read_bytes() == second
    assert sum(p.stat().st_size for p in blobs.cache.rglob("*") if p.is_file()) <= 25_000


def test_a_removed_blob_leaves_no_object_and_no_copy_here(s3: S3, tmp_path: Path) -> None:
    """Retention's erasure of a file marked as personal data (server/retention/files.py)."""
    blobs = store(s3, tmp_path)
    data = os.urandom(2000)
    digest, path = blob(tmp_path, data)
    blobs.put_file(digest, path)
    thumb = blobs.derived_path(digest, "thumb")
    thumb.parent.mkdir(parents=True, exist_ok=True)
    thumb.write_bytes(b"a thumbnail")
    assert blobs.remove(digest) is True
    assert s3.keys(blobs.bucket) == []
    assert not blobs.path(digest).exists() and not thumb.exists()
    assert not (blobs.fingerprints / digest).exists()
    assert blobs.stat(digest) is None
    assert blobs.remove(digest) is False  # again: nothing left, not an error
