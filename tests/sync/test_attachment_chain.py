"""Attachments of a patrol-log entry sit in its body, so the chain hash covers them."""

from __future__ import annotations

import copy

from sync.chain import verify_chain
from sync.clock import HybridClock
from sync.protocol import entry_hash, log_body, parse_change
from sync.store.records import StoredRecord
from tests.support import log_entry

ATTACHMENT = {
    "sha256": "a" * 64,
    "media_type": "image/jpeg",
    "size": 1234,
    "captured_at": "2026-11-20T22:15:00-05:00",
}


def stored(device: str, entry: dict[str, object]) -> StoredRecord:
    change, _ = parse_change(entry)
    doc = {**entry, "body": log_body(change)}  # type: ignore[arg-type]
    return StoredRecord(
        "patrol_logs", str(entry["id"]), "st-a", 1, False, doc, {}, None, "o", device
    )


def test_a_swapped_attachment_hash_breaks_the_entry_and_the_chain() -> None:
    body = {"kind": "note", "at": "2026-11-20T22:15:00-05:00", "attachments": [ATTACHMENT]}
    entry = log_entry("dev-1", 1, "", HybridClock(), body)
    change, _ = parse_change(entry)
    assert entry_hash("dev-1", change) == entry["hash"]  # type: ignore[arg-type]
    swapped = copy.deepcopy(entry)
    swapped["body"]["attachments"][0]["sha256"] = "b" * 64
    change, _ = parse_change(swapped)
    assert entry_hash("dev-1", change) != entry["hash"]  # type: ignore[arg-type]
    assert verify_chain("dev-1", [stored("dev-1", entry)]).intact
    report = verify_chain("dev-1", [stored("dev-1", swapped)])
    assert report.tampered == [1]
