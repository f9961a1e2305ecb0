"""The reference client's local view: what a device shows from its own database, with no
network. A record is the server's document (pulled) overlaid by this device's pending edits;
patrol-log entries, plans and notices are read the same way (``sync.client`` delegates here).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sync.outbox import Outbox


def me(box: Outbox) -> dict[str, Any]:
    """Who this device is, as the server said (empty until it has)."""
    return dict(box.get("me") or {})


def incident(box: Outbox, record_id: str) -> dict[str, Any] | None:
    """The server's document overlaid by this device's pending edits (None if unknown)."""
    doc = box.record("incidents", record_id)
    pending = [c for _, c in box.pending(record_id) if c["collection"] == "incidents"]
    if doc is None and not pending:
        return None
    view = copy.deepcopy(doc) if doc else _new_doc(box, record_id)
    if "pii" not in view:
        local = box.local_pii(record_id)
        if local:
            view["pii"] = local
    for change in pending:
        _overlay(view, change)
    return view


def _new_doc(box: Outbox, record_id: str) -> dict[str, Any]:
    who = me(box)
    return {
        "collection": "incidents",
        "id": record_id,
        "seq": 0,
        "station_id": who.get("station_id"),
        "author": who.get("officer_id"),
        "deleted": False,
        "hlc": "",
        "fields": {},
        "derived": {},
    }


def incidents(box: Outbox) -> list[dict[str, Any]]:
    ids = dict.fromkeys(box.record_ids("incidents"))
    ids.update(dict.fromkeys(c["id"] for _, c in box.pending() if c["collection"] == "incidents"))
    views = [incident(box, i) for i in ids]
    return [v for v in views if v is not None]


def log_entries(box: Outbox) -> list[dict[str, Any]]:
    """Patrol-log entries: pulled ones, then this device's pending ones."""
    docs = box.records("patrol_logs")
    who = me(box)
    for _, change in box.pending():
        if change["collection"] == "patrol_logs":
            doc = {k: change[k] for k in ("id", "hlc", "n", "prev_hash", "hash", "body")}
            doc.update(collection="patrol_logs", seq=0, deleted=False)
            doc.update(station_id=who.get("station_id"), author=who.get("officer_id"))
            doc["device_id"] = who.get("device_id")
            docs.append(doc)
    return docs


def plans(box: Outbox) -> list[dict[str, Any]]:
    """Patrol plans pulled for this device's station (withdrawn ones left out), in the
    order the server wrote them (docs/protocol.md, "Patrol plans")."""
    return [d for d in box.records("patrol_plans") if not d.get("deleted")]


def notices(box: Outbox, at_ms: int) -> list[dict[str, Any]]:
    """Notices in force for this device's station at ``at_ms`` by this device's clock: pulled,
    not ended, not expired (docs/protocol.md, "Notices"), newest first."""
    live = [d for d in box.records("notices") if not d.get("deleted") and d.get("body")]
    live = [d for d in live if _epoch_ms(d["expires_at"]) > at_ms]
    return sorted(live, key=lambda d: d["posted_at"], reverse=True)


def acknowledged_notices(box: Outbox) -> set[str]:
    """Notice ids this officer acknowledged: pulled acknowledgements and queued ones."""
    officer = me(box).get("officer_id")
    done = {d["notice_id"] for d in box.records("notice_acks") if d["officer_id"] == officer}
    done |= {c["id"] for _, c in box.pending() if c["collection"] == "notice_acks"}
    return done


def _overlay(view: dict[str, Any], change: dict[str, Any]) -> None:
    if change["op"] == "delete":
        view["deleted"] = True
    else:
        view["deleted"] = False
        view["fields"].update(change.get("fields", {}))
        if change.get("pii"):
            pii = view.setdefault("pii", {})
            for name, value in change["pii"].items():
                if value:
                    pii[name] = value
                else:
                    pii.pop(name, None)
    view["hlc"] = max(view.get("hlc") or "", change["hlc"])


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
