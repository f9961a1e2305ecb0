"""Writing an upload's part file: each block hashed and written in one thread call, handed
to the disk as it arrives, and the fsync that makes an answered offset safe
(server/routes/uploads.py reads the request body and calls these in the attachment threads).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from typing import Any


def _start_writeback() -> Callable[[int, int, int], None]:
    """Linux's ``sync_file_range(SYNC_FILE_RANGE_WRITE)``: start writing these bytes to disk
    now, without waiting. Each block of an upload is sent to the disk as it arrives, so the
    fsync at the end of the PATCH finds little left to write (without it, 16 uploads received
    together were all flushed together at the end: the network, then the disk, never both).
    A no-op where the call is missing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError, TypeError):
        return lambda fd, offset, count: None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]

    def start(fd: int, offset: int, count: int) -> None:
        call(fd, offset, count, SYNC_FILE_RANGE_WRITE)  # an error only means no head start

    return start


SYNC_FILE_RANGE_WRITE = 2
start_writeback = _start_writeback()


def write_all(fd: int, chunks: list[bytes], hashes: tuple[Any, ...] = ()) -> int:
    """Write ``chunks`` in order as one buffer and feed each running sha256 of ``hashes`` with
    it; runs in the attachment threads, not the event loop. The bytes written.

    One buffer, not the chunks one by one (uvicorn hands the body over in 64-256 KiB pieces):
    hashlib lets go of the GIL for each ``update`` and must take it back after, and while the
    event loop runs Python that wait is up to the interpreter's switch interval (5 ms), so a
    1 MiB block hashed piece by piece waited for the GIL up to 16 times. Joining costs one
    memory copy of the block (a fraction of a millisecond)."""
    block = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    for digest in hashes:
        digest.update(block)
    offset = os.lseek(fd, 0, os.SEEK_CUR)
    view, total = memoryview(block), len(block)
    while view:
        view = view[os.write(fd, view) :]
    start_writeback(fd, offset, total)
    return total


def write_last(fd: int, chunks: list[bytes], hashes: tuple[Any, ...]) -> int:
    """The PATCH's last block, then the fsync that makes its offset safe to answer."""
    written = write_all(fd, chunks, hashes) if chunks else 0
    os.fsync(fd)
    return written
