"""Partial uploads (tus resources) on the filesystem, apart from finished blobs.

Each upload is ``uploads/<id>.json`` (what it is: length, expected hash, record, device,
expiry) and ``uploads/<id>.part`` (the bytes so far). The id is random and says nothing of
the device: it is in URLs, client and proxy logs, and a part shared by one device's uploads
would link them. The daily cap reads a device's own uploads through an empty marker file
``uploads/devices/<device key>/<id>``, made at creation and dropped once the upload is done
or gone (the device key is a hash of the device id, on the server's disk only); an emptied
device folder goes with the sweep of expired uploads.

The offset is the size of the part file: after a crash (kill -9) it is what reached the
file, and the client asks for it with HEAD and goes on from there. Every PATCH ends with an
fsync, so an offset the server has answered survives a power loss too. One PATCH at a time
per upload (``flock``: other workers see the lock).

A client whose connection died comes back with HEAD (then PATCH) while the request that was
writing may still be running: its connection may have closed with bytes still on their way
through the socket buffers, or died silently (no FIN: the request waits for bytes that will
never come). So a newer request asks the writer to stop (``request_stop``: a ``<id>.stop``
file, seen by every worker), and waits for the lock before it answers: the writer keeps
reading while bytes still arrive, writes and fsyncs all it has, and lets go. The offset then
answered is what reached the server, not what happened to be on disk at that moment.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from sync.errors import SyncError

ID_ALPHABET_BYTES = 16


def device_key(device_id: str) -> str:
    """The folder of a device's markers: a fixed-length name whatever the device id holds.
    Not secret (each upload's record names its device in clear) and never sent anywhere."""
    return hashlib.sha256(device_id.encode()).hexdigest()[:32]


class UploadLocked(SyncError):
    """Another request is writing to this upload right now."""

    code = "upload_locked"


@dataclass(slots=True)
class UploadInfo:
    id: str
    length: int
    sha256: str
    collection: str
    record_id: str
    device_id: str
    officer_id: str
    station_id: str
    created_ms: int
    expires_ms: int
    filename: str = ""
    declared_type: str = ""
    done: bool = False  # the blob was already held (dedupe) or the upload finished
    synced: bool = False  # the record has been fsynced (first done when an offset is answered)


class UploadStore:
    """The partial uploads under ``root/uploads``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "uploads"
        self.devices = self.dir / "devices"
        self.devices.mkdir(parents=True, exist_ok=True)
        self.locks = self.dir / "locks"

    def create(self, info: UploadInfo) -> UploadInfo:
        """A new upload. Its record is not fsynced here: until a PATCH answers an offset
        above 0 nothing of it has been promised (lost in a power cut, the client's HEAD gets
        404 and it creates the upload again, as tus clients do), and that PATCH makes the
        record durable (``mark_touched``), or the upload is done and needs it no more."""
        info.id = secrets.token_hex(ID_ALPHABET_BYTES)
        if not info.done:
            self.part(info.id).touch()
        self._write_info(info, durable=False)
        if not info.done:  # after the record: a marker without one is stale (open_for_device)
            folder = self.devices / device_key(info.device_id)
            for attempt in range(3):
                folder.mkdir(exist_ok=True)
                try:
                    (folder / info.id).touch()
                    break
                except FileNotFoundError:  # clean_expired took the empty folder just then
                    if attempt == 2:
                        raise
        return info

    def get(self, upload_id: str) -> UploadInfo | None:
        if not (upload_id.isalnum() and len(upload_id) == 2 * ID_ALPHABET_BYTES):
            return None
        try:
            return UploadInfo(**json.loads(self._info_path(upload_id).read_text()))
        except FileNotFoundError:
            return None

    def offset(self, info: UploadInfo) -> int:
        if info.done:
            return info.length
        try:
            return self.part(info.id).stat().st_size
        except FileNotFoundError:
            return info.length  # finished and moved into the blob store

    def part(self, upload_id: str) -> Path:
        return self.dir / f"{upload_id}.part"

    def mark_touched(self, info: UploadInfo) -> None:
        """Keep the (extended) expiry: an upload still moving does not expire. The first
        time (an offset is about to be answered) the record is fsynced: it was not at
        creation; after that a lost write only leaves the expiry older."""
        durable = not info.synced
        info.synced = True
        self._write_info(info, durable=durable)

    def mark_done(self, info: UploadInfo) -> None:
        # Not fsynced: if lost, the part file is gone (moved into the store), which reads as done.
        info.done = True
        self._write_info(info, durable=False)
        self._marker(info).unlink(missing_ok=True)

    def delete(self, upload_id: str) -> None:
        info = self.get(upload_id)
        if info is not None:
            self._marker(info).unlink(missing_ok=True)
        self.part(upload_id).unlink(missing_ok=True)
        self._info_path(upload_id).unlink(missing_ok=True)
        self.stop_path(upload_id).unlink(missing_ok=True)

    def stop_path(self, upload_id: str) -> Path:
        return self.dir / f"{upload_id}.stop"

    def request_stop(self, upload_id: str) -> None:
        """Ask the request writing this upload (in any worker) to finish what it has."""
        self.stop_path(upload_id).touch()

    def stop_requested(self, upload_id: str) -> bool:
        return self.stop_path(upload_id).exists()

    def idle(self, info: UploadInfo) -> bool:
        """No request is writing this upload now (or it is finished)."""
        try:
            fd = os.open(self.part(info.id), os.O_RDONLY)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
        return True

    @contextmanager
    def writing(self, info: UploadInfo) -> Iterator[int]:
        """The part file's descriptor, locked against other writers, opened for append."""
        try:
            fd = os.open(self.part(info.id), os.O_WRONLY)
        except FileNotFoundError as exc:  # finished by a request that ran meanwhile
            raise UploadLocked("the upload was just finished or removed", {}) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise UploadLocked("another request is writing this upload", {}) from exc
            # A stop asked of an earlier writer is answered now that it has let go.
            self.stop_path(info.id).unlink(missing_ok=True)
            os.lseek(fd, 0, os.SEEK_END)
            yield fd
        finally:
            os.close(fd)  # closing drops the lock

    def expired(self, now_ms: int) -> list[UploadInfo]:
        out = []
        for path in self.dir.glob("*.json"):
            info = self.get(path.stem)
            if info is not None and info.expires_ms <= now_ms:
                out.append(info)
        return out

    def open_for_device(self, device_id: str, now_ms: int) -> list[UploadInfo]:
        """Unfinished, unexpired uploads of a device (they count against its daily cap).
        Only this device's markers are read (reading every record on each creation grew with
        the uploads of the last day). A marker whose upload is finished (its part file moved
        into the blob store), done or gone is stale and dropped here. Uploads created before
        the markers (their ids began with a hash of the device) have none: they keep working
        but no longer count, for at most their expiry."""
        folder = self.devices / device_key(device_id)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            info = self.get(name)
            if info is None or info.done or not self.part(name).exists():
                (folder / name).unlink(missing_ok=True)
            elif info.device_id == device_id and info.expires_ms > now_ms:
                out.append(info)
        return out

    def lock_device(self, device_id: str) -> int:
        """Wait for the device's reservation lock (``flock``: every worker on this disk sees
        it); its descriptor, for ``unlock_device``. Held while the daily cap is checked and
        the upload that counts against it is made: twenty parallel creations each passed the
        same check before any was made (security review, 2026-12-05)."""
        self.locks.mkdir(exist_ok=True)
        fd = os.open(self.locks / device_key(device_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def unlock_device(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def clean_expired(self, now_ms: int | None = None) -> int:
        """Remove expired partial uploads; how many went."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        gone = 0
        for info in self.expired(now):
            self.delete(info.id)
            gone += 1
        # A device folder empties when its uploads end; kept, there would be one for every
        # device that ever uploaded. rmdir takes only an empty one (create() makes it again).
        for folder in self.devices.iterdir():
            with contextlib.suppress(OSError):  # not empty, or not a folder
                folder.rmdir()
        return gone

    def _marker(self, info: UploadInfo) -> Path:
        return self.devices / device_key(info.device_id) / info.id

    def _info_path(self, upload_id: str) -> Path:
        return self.dir / f"{upload_id}.json"

    def _write_info(self, info: UploadInfo, durable: bool = True) -> None:
        tmp = self.dir / f".{info.id}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(asdict(info), f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, self._info_path(info.id))
        if durable:  # the rename, and the part file made at creation, survive a power cut
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
