"""What was written made to survive a power cut: fsync of a file or a folder by its path."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """fsync ``path``: a file's bytes, or a folder's entries (so that a rename into it or a
    new file in it is durable, not only the file's bytes)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
