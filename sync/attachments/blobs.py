"""The blob-store port and its filesystem adapter: finished, verified blobs by SHA-256.

A blob enters only whole: its bytes were written and fsynced elsewhere (an upload's partial
file), verified against their hash, then renamed into place; the directory is fsynced after.
So a reader never sees a partial blob. Partial uploads live apart (``uploads``).

Tampering (a blob changed behind the server's back) is caught on read at the cost of one
``stat``: when a blob is stored its fingerprint (size, mtime, ctime, inode) is kept beside it;
a read whose fingerprint differs hashes the whole blob again and, if the hash is wrong, moves
it to ``quarantine/``. ctime cannot be set back by ``touch``, only by changing the clock, so
``verify`` (a full hash, used by chain verification) is the thorough check.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sync.errors import SyncError

READ_CHUNK = 1024 * 1024
DERIVED_KINDS = ("stripped", "thumb")  # metadata-free copies of images, made on first view


class BlobTampered(SyncError):
    """A stored blob no longer hashes to its name; it has been quarantined."""

    code = "attachment_tampered"


class BlobMissing(SyncError):
    """No blob with this hash is stored (not uploaded yet, or quarantined)."""

    code = "attachment_missing"


@dataclass(frozen=True, slots=True)
class BlobInfo:
    sha256: str
    size: int


class BlobStore(ABC):
    """Where finished blobs live. Blocking calls: the server runs them in a thread.

    ``root`` is a local folder every adapter has (copies, thumbnails and exports are made
    there); ``path`` is a local file of a blob that passed ``open_checked`` (the file itself
    for the filesystem adapter, a verified cached copy for S3), which downloads serve with
    Range."""

    root: Path

    @abstractmethod
    def path(self, sha256: str) -> Path:
        """A local file holding the blob's bytes, valid after ``open_checked`` succeeded."""

    @abstractmethod
    def stat(self, sha256: str) -> BlobInfo | None:
        """The blob, if stored (quarantined ones are not)."""

    @abstractmethod
    def put_file(self, sha256: str, path: Path) -> BlobInfo:
        """Move a complete, fsynced file whose hash is ``sha256`` into the store."""

    @abstractmethod
    def open_checked(self, sha256: str) -> BinaryIO:
        """The blob for reading, after the tamper check; ``BlobTampered``/``BlobMissing``."""

    @abstractmethod
    def verify(self, sha256: str) -> bool | None:
        """Hash the whole blob again: True intact, False tampered (now quarantined), None absent."""

    @abstractmethod
    def remove(self, sha256: str) -> bool:
        """Remove the blob and every copy made of it here (retention's erasure of personal
        data); whether the blob was stored. Removing an absent blob is not an error."""

    def derived_path(self, sha256: str, kind: str) -> Path:
        """Where the metadata-free copy ``kind`` (one of ``DERIVED_KINDS``) of a blob is kept."""
        return self.root / "derived" / f"{sha256}.{kind}"

    def drop_derived(self, sha256: str) -> None:
        for kind in DERIVED_KINDS:
            self.derived_path(sha256, kind).unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobStore(BlobStore):
    """Blobs under ``root/blobs/ab/cd/<sha256>``, read-only files, one filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.fingerprints = root / "fingerprints"
        self.quarantine_dir = root / "quarantine"
        for folder in (self.blobs, self.fingerprints, self.quarantine_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256[2:4] / sha256

    def stat(self, sha256: str) -> BlobInfo | None:
        try:
            return BlobInfo(sha256, self.path(sha256).stat().st_size)
        except FileNotFoundError:
            return None

    def put_file(self, sha256: str, path: Path) -> BlobInfo:
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o444)
        os.replace(path, target)  # atomic on one filesystem: whole or absent
        fsync_dir(target.parent)
        self._remember(sha256)
        return BlobInfo(sha256, target.stat().st_size)

    def open_checked(self, sha256: str) -> BinaryIO:
        path = self.path(sha256)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - the caller streams and closes it
        except FileNotFoundError as exc:
            raise BlobMissing("this attachment has not been received", {"sha256": sha256}) from exc
        if self._fingerprint(path) != self._remembered(sha256):
            handle.close()
            intact = self.verify(sha256)
            if intact is None:  # removed meanwhile: missing, not tampered
                raise BlobMissing("this attachment is not in the store", {"sha256": sha256})
            if not intact:
                raise BlobTampered(
                    "the stored file no longer matches its hash; it was quarantined",
                    {"sha256": sha256},
                )
            handle = open(path, "rb")  # noqa: SIM115
        return handle

    def verify(self, sha256: str) -> bool | None:
        path = self.path(sha256)
        if not path.exists():
            return None
        if file_sha256(path) == sha256:
            self._remember(sha256)
            return True
        self.quarantine(sha256)
        return False

    def remove(self, sha256: str) -> bool:
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            stored = False
        else:
            stored = True
            fsync_dir(path.parent)
        self._fingerprint_path(sha256).unlink(missing_ok=True)
        self.drop_derived(sha256)
        return stored

    def quarantine(self, sha256: str) -> Path:
        """Move the blob aside (kept for investigation, never served)."""
        target = self.quarantine_dir / f"{sha256}.{os.getpid()}.{os.urandom(4).hex()}"
        os.replace(self.path(sha256), target)
        self._fingerprint_path(sha256).unlink(missing_ok=True)
        return target

    def _fingerprint_path(self, sha256: str) -> Path:
        return self.fingerprints / sha256

    @staticmethod
    def _fingerprint(path: Path) -> str:
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"

    def _remember(self, sha256: str) -> None:
        tmp = self.fingerprints / f".{sha256}.{os.getpid()}.tmp"
        tmp.write_text(self._fingerprint(self.path(sha256)))
        os.replace(tmp, self._fingerprint_path(sha256))

    def _remembered(self, sha256: str) -> str | None:
        try:
            return self._fingerprint_path(sha256).read_text()
        except FileNotFoundError:
            return None
