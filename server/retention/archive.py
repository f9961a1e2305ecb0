"""The archive one retention run writes before it removes anything, and its verification.

An archive is a folder ``<root>/<run id>/`` of JSON Lines files (one row a line), a
``MANIFEST.json`` (policy, cut-offs, per file its SHA-256, size and row count, per device the
archived chain segment) and ``SHA256SUMS`` (``sha256sum -c`` checks it). It is written under
``<run id>.partial``, every file fsynced, then renamed: a folder without ``.partial`` is
complete, and nothing is removed from the database before that rename is durable.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from server.durable import fsync_path
from sync.chain import stored_hash

MANIFEST = "MANIFEST.json"
SUMS = "SHA256SUMS"
FORMAT = "ronda-retention-archive/1"


@dataclass(slots=True)
class _Part:
    handle: IO[bytes]
    digest: Any = field(default_factory=hashlib.sha256)
    rows: int = 0
    size: int = 0


class ArchiveWriter:
    """JSON Lines files, hashed as they are written; ``finish`` makes the archive durable."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.root = root
        self.name = run_id
        self.partial = root / f"{run_id}.partial"
        # Officers' positions, the audit trail, maybe personal data: the archive's own user
        # only (review finding: the default umask left it readable by every local account).
        root.mkdir(parents=True, exist_ok=True)
        self.partial.mkdir(mode=0o700, exist_ok=False)
        self._parts: dict[str, _Part] = {}

    def write(self, kind: str, row: dict[str, Any]) -> None:
        part = self._parts.get(kind)
        if part is None:
            part = self._parts[kind] = _Part(_private(self.partial / f"{kind}.jsonl"))
        line = orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n"
        part.handle.write(line)
        part.digest.update(line)
        part.rows += 1
        part.size += len(line)

    def rows(self, kind: str) -> int:
        part = self._parts.get(kind)
        return part.rows if part else 0

    def finish(self, meta: dict[str, Any]) -> Path:
        """Close and fsync every file, write the manifest, rename the folder; its path."""
        files = {}
        for kind, part in sorted(self._parts.items()):
            part.handle.flush()
            os.fsync(part.handle.fileno())
            part.handle.close()
            files[f"{kind}.jsonl"] = {
                "sha256": part.digest.hexdigest(),
                "bytes": part.size,
                "rows": part.rows,
            }
        manifest = {"format": FORMAT, "name": self.name, **meta, "files": files}
        _durable(self.partial / MANIFEST, orjson.dumps(manifest, option=_PRETTY))
        sums = "".join(f"{f['sha256']}  {name}\n" for name, f in files.items())
        _durable(self.partial / SUMS, sums.encode())
        fsync_path(self.partial)
        final = self.root / self.name
        os.rename(self.partial, final)
        fsync_path(self.root)
        return final

    def abandon(self) -> None:
        for part in self._parts.values():
            part.handle.close()


def read_rows(archive: Path, kind: str) -> Iterator[dict[str, Any]]:
    """The rows of one kind, in the order they were written (none if the file is absent)."""
    path = archive / f"{kind}.jsonl"
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for line in handle:
            yield orjson.loads(line)


def manifest(archive: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((archive / MANIFEST).read_bytes())
    return loaded


def verify_archive(archive: Path) -> list[str]:
    """Problems found (empty: intact): every file's hash, size and row count as the manifest
    says, and every archived chain segment re-hashed entry by entry and linked from its
    predecessor's hash to its recorded head."""
    problems: list[str] = []
    meta = manifest(archive)
    for name, expected in meta["files"].items():
        path = archive / name
        if not path.exists():
            problems.append(f"{name}: missing")
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != expected["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest")
        if len(data) != expected["bytes"] or data.count(b"\n") != expected["rows"]:
            problems.append(f"{name}: size or row count differs from the manifest")
    problems += _verify_chains(archive, meta.get("chains", []))
    return problems


def _verify_chains(archive: Path, segments: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    wanted = {s["device_id"]: s for s in segments}
    walk: dict[str, tuple[int, str]] = {
        d: (s["from_n"] - 1, s["prev_hash"]) for d, s in wanted.items()
    }
    for row in read_rows(archive, "patrol_logs"):
        device, doc = row["author_device"], row["doc"]
        if device not in walk:
            problems.append(f"patrol_logs: entry {row['id']} of a device without a segment")
            continue
        prev_n, prev_hash = walk[device]
        n = int(doc["n"])
        if stored_hash(device, doc) != doc["hash"]:
            problems.append(f"patrol_logs: {device} n={n} does not hash to its hash")
        if n != prev_n + 1 or doc["prev_hash"] != prev_hash:
            problems.append(f"patrol_logs: {device} n={n} does not link to n={prev_n}")
        walk[device] = (n, doc["hash"])
    for device, segment in wanted.items():
        if walk[device] != (segment["to_n"], segment["head_hash"]):
            problems.append(f"patrol_logs: {device} does not end at its recorded head")
    return problems


_PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def _private(path: Path) -> IO[bytes]:
    """A new file only its owner may read or write."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _durable(path: Path, data: bytes) -> None:
    with _private(path) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
