"""Verification of a device's stored patrol-log chain (promise 9)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sync.store.records import ChainHead, StoredRecord
from sync.wire_json import canonical_json


@dataclass(slots=True)
class ChainReport:
    device_id: str
    entries: int = 0
    head_n: int = 0
    archived_n: int = 0  # the last entry retention archived (0: none); the walk starts after it
    gaps: list[dict[str, int]] = field(default_factory=list)
    broken: list[int] = field(default_factory=list)
    tampered: list[int] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not (self.gaps or self.broken or self.tampered)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "entries": self.entries,
            "head_n": self.head_n,
            "archived_n": self.archived_n,
            "intact": self.intact,
            "gaps": self.gaps,
            "broken_links": self.broken,
            "tampered": self.tampered,
        }


def stored_hash(device_id: str, doc: dict[str, Any]) -> str:
    """Recompute an entry's hash from what is stored, as the device computed it."""
    material = {
        "body": doc["body"],
        "device_id": device_id,
        "hlc": doc["hlc"],
        "id": doc["id"],
        "n": doc["n"],
        "prev_hash": doc["prev_hash"],
    }
    return hashlib.sha256(canonical_json(material)).hexdigest()


def verify_chain(
    device_id: str, entries: list[StoredRecord], base: ChainHead | None = None
) -> ChainReport:
    """Walk the entries in order: every hash recomputed, every link and number checked.

    ``base`` is where the stored chain starts once retention archived its older entries: the
    first stored entry must link to it as to its predecessor (the archive verifies the rest).
    """
    prev_n, prev_hash = (base.n, base.hash) if base is not None else (0, "")
    report = ChainReport(device_id, entries=len(entries), archived_n=prev_n)
    for entry in entries:
        doc = entry.doc
        n = int(doc["n"])
        if stored_hash(device_id, doc) != doc["hash"]:
            report.tampered.append(n)
        if n != prev_n + 1:
            report.gaps.append({"after": prev_n, "next": n})
        elif doc["prev_hash"] != prev_hash:
            report.broken.append(n)
        prev_n, prev_hash = n, doc["hash"]
    report.head_n = prev_n
    return report
