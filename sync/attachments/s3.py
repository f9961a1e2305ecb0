"""The blob-store port on S3-compatible object storage (docs/attachments.md "Storage").

Blobs are objects ``<prefix>blobs/<sha256>``. A blob enters only whole: a file up to
``part_bytes`` is one PUT, a larger one a multipart upload of ``part_bytes`` parts, and S3
shows neither until it is complete (a multipart upload is only an object once completed; a
failed one is aborted, so no parts are left behind). Every PUT and part carries its SHA-256
(``x-amz-checksum-sha256``): storage that checks it (AWS S3 does) refuses bytes damaged on
the way.

Reads: downloads are served from a local copy (Range, sendfile), kept under
``root/s3-cache`` and made by downloading the object and hashing it on the way, so a copy
exists only of bytes that hashed to their name. The tamper check on each read costs one
HEAD: the object's size, ETag and Last-Modified are remembered when it is stored or checked;
if they differ (the object was overwritten behind the server's back), or the local copy's
own fingerprint changed, the object is downloaded and hashed again, and a blob whose hash is
wrong is copied to ``<prefix>quarantine/`` and deleted from ``blobs/`` (``BlobTampered``), as
the filesystem adapter moves it aside.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any, BinaryIO

from sync.attachments.blobs import (
    READ_CHUNK,
    BlobInfo,
    BlobMissing,
    BlobStore,
    BlobTampered,
    fsync_dir,
)
from sync.errors import SyncError

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part (all but the last)


class BlobStoreUnavailable(SyncError):
    """The object store did not answer or refused a request."""

    code = "blob_store_unavailable"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class S3BlobStore(BlobStore):
    """Blobs in a bucket of an S3-compatible store; local copies under ``root/s3-cache``.

    ``client`` is a boto3 S3 client (``make_client``); its calls block, as the port's do."""

    def __init__(
        self,
        root: Path,
        client: Any,
        bucket: str,
        prefix: str = "",
        part_bytes: int = 8 << 20,
        cache_max_bytes: int = 10 << 30,
    ) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"S3 parts are at least {MIN_PART_BYTES} bytes")
        self.root = root
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_bytes = part_bytes
        self.cache_max_bytes = cache_max_bytes
        self.cache = root / "s3-cache"
        self.fingerprints = root / "s3-fingerprints"
        for folder in (self.cache, self.fingerprints):
            folder.mkdir(parents=True, exist_ok=True)

    def key(self, sha256: str) -> str:
        return f"{self.prefix}blobs/{sha256}"

    def path(self, sha256: str) -> Path:
        return self.cache / sha256[:2] / sha256

    def stat(self, sha256: str) -> BlobInfo | None:
        head = self._head(sha256)
        return None if head is None else BlobInfo(sha256, int(head["ContentLength"]))

    def put_file(self, sha256: str, path: Path) -> BlobInfo:
        size = path.stat().st_size
        if self._head(sha256) is None:  # the same bytes are stored once
            with open(path, "rb") as f:
                if size <= self.part_bytes:
                    self._put_one(sha256, f.read())
                else:
                    self._put_parts(sha256, f)
        self._keep_copy(sha256, path)
        return BlobInfo(sha256, size)

    def open_checked(self, sha256: str) -> BinaryIO:
        head = self._head(sha256)
        if head is None:
            raise BlobMissing("this attachment has not been received", {"sha256": sha256})
        copy = self.path(sha256)
        remembered = self._remembered(sha256)
        current = f"{self._object_print(head)}|{self._local_print(copy)}"
        if remembered != current:
            intact = self.verify(sha256)
            if intact is None:  # deleted meanwhile: missing, not tampered
                raise BlobMissing("this attachment is not in the store", {"sha256": sha256})
            if not intact:
                raise BlobTampered(
                    "the stored file no longer matches its hash; it was quarantined",
                    {"sha256": sha256},
                )
        with contextlib.suppress(FileNotFoundError):  # last use: the cache keeps the most used
            os.utime(self.fingerprints / sha256)
        return open(copy, "rb")

    def verify(self, sha256: str) -> bool | None:
        """Download and hash the object; a good one becomes the local copy."""
        head = self._head(sha256)
        if head is None:
            return None
        copy = self.path(sha256)
        copy.parent.mkdir(parents=True, exist_ok=True)
        tmp = copy.parent / f".{sha256}.{os.getpid()}.{os.urandom(4).hex()}"
        digest = hashlib.sha256()
        try:
            body = self._call("get_object", Bucket=self.bucket, Key=self.key(sha256))
            with open(tmp, "wb") as out:
                for chunk in body["Body"].iter_chunks(READ_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                self.quarantine(sha256)
                copy.unlink(missing_ok=True)
                return False
            os.chmod(tmp, 0o444)
            os.replace(tmp, copy)
        finally:
            tmp.unlink(missing_ok=True)
        self._remember(sha256, self._object_print(body))
        self.shrink_cache(keep=sha256)
        return True

    def remove(self, sha256: str) -> bool:
        """Delete the object, then this host's copies. In a bucket with versioning on, the
        older versions stay until the bucket's own lifecycle rules expire them."""
        stored = self._head(sha256) is not None
        if stored:
            self._call("delete_object", Bucket=self.bucket, Key=self.key(sha256))
        self.path(sha256).unlink(missing_ok=True)
        (self.fingerprints / sha256).unlink(missing_ok=True)
        self.drop_derived(sha256)
        return stored

    def quarantine(self, sha256: str) -> str:
        """Copy the object to ``quarantine/`` (kept for investigation) and delete it."""
        target = f"{self.prefix}quarantine/{sha256}.{os.getpid()}.{os.urandom(4).hex()}"
        source = {"Bucket": self.bucket, "Key": self.key(sha256)}
        self._call("copy_object", Bucket=self.bucket, Key=target, CopySource=source)
        self._call("delete_object", Bucket=self.bucket, Key=self.key(sha256))
        (self.fingerprints / sha256).unlink(missing_ok=True)
        return target

    # -- writing ---------------------------------------------------------------------------

    def _put_one(self, sha256: str, data: bytes) -> None:
        digest = _b64(hashlib.sha256(data).digest())
        self._call(
            "put_object", Bucket=self.bucket, Key=self.key(sha256), Body=data,
            ChecksumSHA256=digest,
        )  # fmt: skip

    def _put_parts(self, sha256: str, f: BinaryIO) -> None:
        key = self.key(sha256)
        started = self._call(
            "create_multipart_upload", Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256"
        )
        upload_id = started["UploadId"]
        try:
            parts = []
            number = 1
            while data := f.read(self.part_bytes):
                parts.append(self._upload_part(key, upload_id, number, data))
                number += 1
            self._call(
                "complete_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )  # fmt: skip
        except BaseException:
            # Nothing of it becomes an object, and its parts are not left to be billed.
            with contextlib.suppress(Exception):  # the first error is the one to report
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        digest = _b64(hashlib.sha256(data).digest())
        answer = self._call(
            "upload_part", Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
            Body=data, ChecksumSHA256=digest,
        )  # fmt: skip
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": digest}

    def _keep_copy(self, sha256: str, path: Path) -> None:
        """The verified upload becomes the local copy (its first download costs nothing)."""
        copy = self.path(sha256)
        copy.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o444)
        os.replace(path, copy)
        fsync_dir(copy.parent)
        head = self._head(sha256)
        if head is not None:
            self._remember(sha256, self._object_print(head))
        self.shrink_cache(keep=sha256)

    def shrink_cache(self, keep: str = "") -> int:
        """Remove the least recently used local copies (last use: their fingerprint file's
        mtime, touched on each read) until the cache holds at most ``cache_max_bytes``; the
        bytes removed. A removed copy is downloaded (and hashed) again when next read. Called
        after each new copy: one ``stat`` per copy held."""
        copies = []
        total = 0
        for folder in os.scandir(self.cache):
            if not folder.is_dir():
                continue
            try:
                entries = list(os.scandir(folder.path))
            except FileNotFoundError:
                continue  # removed by another shrink meanwhile
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # a download in progress
                try:
                    size = entry.stat().st_size
                except FileNotFoundError:
                    continue  # removed by another shrink meanwhile
                total += size
                try:
                    used = (self.fingerprints / entry.name).stat().st_mtime_ns
                except FileNotFoundError:
                    used = 0
                copies.append((used, entry.name, size))
        removed = 0
        for _, name, size in sorted(copies):
            if total - removed <= self.cache_max_bytes:
                break
            if name == keep:
                continue
            (self.fingerprints / name).unlink(missing_ok=True)
            self.path(name).unlink(missing_ok=True)
            removed += size
        return removed

    # -- state -----------------------------------------------------------------------------

    def _head(self, sha256: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            answer: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=self.key(sha256)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise BlobStoreUnavailable(
                "the object store refused a request", {"operation": "head_object"}
            ) from exc
        except Exception as exc:  # connection refused, timeouts: botocore's own errors
            raise BlobStoreUnavailable(
                "the object store did not answer", {"operation": "head_object"}
            ) from exc
        return answer

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise BlobStoreUnavailable(
                "the object store refused or did not answer a request", {"operation": operation}
            ) from exc

    @staticmethod
    def _object_print(answer: dict[str, Any]) -> str:
        return f"{answer['ContentLength']}:{answer['ETag']}:{answer['LastModified'].isoformat()}"

    @staticmethod
    def _local_print(path: Path) -> str:
        try:
            st = path.stat()
        except FileNotFoundError:
            return "absent"
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"

    def _remember(self, sha256: str, object_print: str) -> None:
        tmp = self.fingerprints / f".{sha256}.{os.getpid()}.tmp"
        tmp.write_text(f"{object_print}|{self._local_print(self.path(sha256))}")
        os.replace(tmp, self.fingerprints / sha256)

    def _remembered(self, sha256: str) -> str | None:
        try:
            return (self.fingerprints / sha256).read_text()
        except FileNotFoundError:
            return None


def make_client(endpoint_url: str, region: str) -> Any:
    """A boto3 S3 client; credentials come from boto3's usual places (``AWS_ACCESS_KEY_ID``
    and ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role), never from Ronda's settings."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path"},  # what S3-compatible servers expect
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
    )
