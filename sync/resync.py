"""A device's resync after the server refused its pull cursor (``invalid_cursor``).

The server's database was restored from a backup or replaced: its sequence numbers were
given again, so the device pulls its whole scope again from no cursor.  Until the last page
has come, the records it holds stay visible (a resync cut short by a lost signal leaves the
officer's view whole).  When it has come, records the server did not send again leave the
view for the ``dropped`` table, where they stay readable: after a restore they may be the only
copy left of records the server lost.  The outbox is untouched (nothing queued is lost); the
pending edits not yet sent lose their ``base_seq``, a sequence number of the old database,
so the server treats them as concurrent with every other device's values (extra entries in the
conflict log rather than a silently missed one).  Then the device sends again what it holds
of its own that the server lost (``resend``): the incidents its officer wrote and its own
patrol-log entries, as pulled, ahead of the edits still queued.  Every step runs inside the
caller's transaction on the device database.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from sync.clock import now_ms

SCHEMA = """
CREATE TABLE IF NOT EXISTS resync_seen (
    collection TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (collection, id));
CREATE TABLE IF NOT EXISTS dropped (
    collection TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, dropped_ms INTEGER NOT NULL,
    PRIMARY KEY (collection, id));
"""

_ACTIVE = "SELECT 1 FROM meta WHERE key = 'resync'"
_UNSEEN = (
    "NOT EXISTS (SELECT 1 FROM resync_seen s WHERE s.collection = record.collection"
    " AND s.id = record.id)"
)


def active(db: sqlite3.Connection) -> bool:
    return db.execute(_ACTIVE).fetchone() is not None


def start(db: sqlite3.Connection) -> int:
    """Forget the cursor and begin a resync; returns how many pending edits lost base_seq."""
    db.execute("DELETE FROM resync_seen")
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('resync', 'true'), ('cursor', '\"\"')"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )
    # A batch in flight is sent again byte for byte (its id must keep meaning the same
    # changes); only edits not yet in a batch are rewritten.
    rows = db.execute(
        "SELECT ord, change FROM outbox WHERE collection = 'incidents' AND batch_id IS NULL"
    ).fetchall()
    changed = 0
    for ord_, text in rows:
        change: dict[str, Any] = orjson.loads(text)
        if change.get("base_seq"):
            change["base_seq"] = 0
            db.execute(
                "UPDATE outbox SET change = ? WHERE ord = ?", (orjson.dumps(change).decode(), ord_)
            )
            changed += 1
    return changed


def seen(db: sqlite3.Connection, docs: list[dict[str, Any]]) -> None:
    """Note the records of a page pulled during a resync."""
    if active(db):
        db.executemany(
            "INSERT OR IGNORE INTO resync_seen (collection, id) VALUES (?, ?)",
            [(doc["collection"], doc["id"]) for doc in docs],
        )


def finish(db: sqlite3.Connection) -> int:
    """After the last page of a resync: move what the server did not send again to
    ``dropped``; returns how many records moved."""
    if not active(db):
        return 0
    db.execute(
        "INSERT OR REPLACE INTO dropped (collection, id, doc, dropped_ms)"
        f" SELECT collection, id, doc, ? FROM record WHERE {_UNSEEN}",
        (now_ms(),),
    )
    moved = db.execute(f"DELETE FROM record WHERE {_UNSEEN}").rowcount
    db.execute("DELETE FROM resync_seen")
    db.execute("DELETE FROM meta WHERE key = 'resync'")
    return int(moved)


def resend(db: sqlite3.Connection, officer_id: str | None, device_id: str | None) -> int:
    """After ``finish``: queue again, from ``dropped``, the incidents written by this device's
    officer and this device's own patrol-log entries (the server lost them in a restore; the
    device's copy may be the only one left).  They go ahead of the edits still queued and not
    yet in a batch, so an edit of a lost incident reaches the server after the incident.
    An incident goes as a create with the values last pulled and their stamp (later edits,
    stamped later, still win); a log entry exactly as it was chained (n, hashes, stamp), so
    the server's chain continues where the restored one stops.  Returns how many."""
    own: list[tuple[str, str, dict[str, Any]]] = []
    for collection, record_id, text in db.execute(
        "SELECT collection, id, doc FROM dropped ORDER BY collection, id"
    ).fetchall():
        doc: dict[str, Any] = orjson.loads(text)
        if doc.get("deleted"):
            continue
        if collection == "incidents" and officer_id and doc.get("author") == officer_id:
            change = {"collection": "incidents", "id": record_id, "op": "upsert", "base_seq": 0}
            change.update(fields=doc.get("fields") or {}, hlc=doc["hlc"])
            pii = doc.get("pii") or _local_pii(db, record_id)
            if pii:
                change["pii"] = pii
            own.append((collection, record_id, change))
        elif collection == "patrol_logs" and device_id and doc.get("device_id") == device_id:
            keys = ("id", "hlc", "n", "prev_hash", "hash", "body")
            change = {"collection": "patrol_logs", "op": "append", **{k: doc[k] for k in keys}}
            own.append((collection, record_id, change))
    if not own:
        return 0
    own.sort(key=lambda item: (item[0] != "patrol_logs", item[2].get("n", 0), item[1]))
    queued = db.execute(
        "SELECT collection, record_id, change, created_ms FROM outbox WHERE batch_id IS NULL"
        " ORDER BY ord"
    ).fetchall()
    db.execute("DELETE FROM outbox WHERE batch_id IS NULL")
    made = now_ms()
    rows = [(c, i, orjson.dumps(ch).decode(), made) for c, i, ch in own] + list(queued)
    db.executemany(
        "INSERT INTO outbox (collection, record_id, change, created_ms) VALUES (?,?,?,?)", rows
    )
    db.executemany(
        "DELETE FROM dropped WHERE collection = ? AND id = ?", [(c, i) for c, i, _ in own]
    )
    return len(own)


def _local_pii(db: sqlite3.Connection, record_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT pii FROM local_pii WHERE id = ?", (record_id,)).fetchone()
    return orjson.loads(row[0]) if row else None


def current(db: sqlite3.Connection, collection: str, record_id: str) -> bool:
    """Whether the local copy of a record comes from the server's current database (not
    from before a resync that has not reached it yet): only then is its ``seq`` a base."""
    if not active(db):
        return True
    found = db.execute(
        "SELECT 1 FROM resync_seen WHERE collection = ? AND id = ?", (collection, record_id)
    )
    return found.fetchone() is not None


def dropped(db: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = db.execute("SELECT doc FROM dropped ORDER BY collection, id").fetchall()
    return [orjson.loads(r[0]) for r in rows]


__all__ = ["SCHEMA", "active", "current", "dropped", "finish", "resend", "seen", "start"]
