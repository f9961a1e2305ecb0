# Over 400 lines: one class over one SQLite file; each method is one transaction on its tables.
"""The device's durable state: outbox, in-flight batch, pulled records, clock, rejections.

One SQLite file (WAL, ``synchronous=FULL``) holds everything a device must not lose: a local
edit is in the outbox, with its clock stamp, in the same transaction that advances the
persistent clock.  A batch is written down *before* it is sent, so after a crash or a lost
answer the very same batch id and changes go out again (promise 2).  Settling an answer is one
transaction too: what the server took leaves the outbox, what it refused for good moves to the
``rejected`` table for the user, and what can be fixed (clock skew, chain position) is fixed
and stays pending.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sync import resync
from sync.clock import HybridClock, Stamp, now_ms, parse_stamp
from sync.protocol import LogEntryChange, entry_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    ord INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, record_id TEXT NOT NULL,
    change TEXT NOT NULL, batch_id TEXT, created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_record ON outbox (record_id);
CREATE TABLE IF NOT EXISTS batch (
    batch_id TEXT PRIMARY KEY, ords TEXT NOT NULL, changes BLOB NOT NULL,
    created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS record (
    collection TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (collection, id));
CREATE TABLE IF NOT EXISTS local_pii (id TEXT PRIMARY KEY, pii TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS own_chain (n INTEGER PRIMARY KEY, id TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
    ord INTEGER PRIMARY KEY, collection TEXT NOT NULL, record_id TEXT NOT NULL,
    change TEXT NOT NULL, error TEXT NOT NULL, rejected_ms INTEGER NOT NULL);
"""

# Refusals the device can fix by itself; every other refusal goes to the user.
FIXABLE = frozenset({"clock_skew", "chain_gap", "chain_broken"})
ZERO_HASH = "0" * 64


class DeviceClock(HybridClock):
    """A hybrid clock on a device wall clock that may be wrong (injectable for simulations)."""

    def __init__(self, wall: Any = now_ms, last: Stamp | None = None, offset_ms: int = 0) -> None:
        super().__init__(last, offset_ms)
        self.wall = wall

    def _physical(self) -> int:
        return int(self.wall()) + self.offset_ms


@dataclass(frozen=True, slots=True)
class Batch:
    batch_id: str
    ords: list[int]
    changes: bytes  # the exact JSON array sent, every time this batch is sent


@dataclass(frozen=True, slots=True)
class RejectedChange:
    ord: int
    collection: str
    record_id: str
    change: dict[str, Any]
    error: dict[str, Any]
    rejected_ms: int


@dataclass(slots=True)
class Settled:
    """What one answer did to the outbox."""

    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    fixable: int = 0
    conflicts: int = 0
    restamped: int = 0
    relinked: int = 0


class Outbox:
    """Durable device state in one SQLite file; every method is one transaction."""

    def __init__(self, path: str | Path, wall: Any = now_ms) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA + resync.SCHEMA)
        state = self.get("clock", {})
        last = parse_stamp(state["last"]) if state.get("last") else None
        self.clock = DeviceClock(wall, last, int(state.get("offset_ms", 0)))
        self.resend_own = True  # after a resync, queue again what the server lost of ours
        self.resent = 0

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- meta ---
    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        """Write one meta value (inside the caller's transaction, if any)."""
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, orjson.dumps(value).decode()),
        )

    def save_clock(self) -> None:
        self.put("clock", {"last": str(self.clock.last), "offset_ms": self.clock.offset_ms})

    def confirm(self, stamp: Stamp) -> None:
        """Remember the greatest stamp the server holds; re-stamping never goes below it."""
        current = self.get("confirmed")
        if current is None or parse_stamp(current) < stamp:
            self.put("confirmed", str(stamp))

    def confirmed(self) -> Stamp:
        value = self.get("confirmed")
        return parse_stamp(value) if value else Stamp(0, 0)

    # --- local edits ---
    def enqueue(self, change: dict[str, Any]) -> None:
        """Append a stamped change (the clock was ticked by the caller) in one transaction."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO outbox (collection, record_id, change, created_ms) VALUES (?,?,?,?)",
                (change["collection"], change["id"], orjson.dumps(change).decode(), now_ms()),
            )
            self.save_clock()
            if change["collection"] == "patrol_logs":
                self.put("chain_head", {"n": change["n"], "hash": change["hash"]})

    def chain_head(self) -> tuple[int, str]:
        head = self.get("chain_head", {"n": 0, "hash": ""})
        return int(head["n"]), str(head["hash"])

    def pending(self, record_id: str | None = None) -> list[tuple[int, dict[str, Any]]]:
        """Outbox rows (sent or not) in order, for one record or all."""
        if record_id is None:
            rows = self.db.execute("SELECT ord, change FROM outbox ORDER BY ord").fetchall()
        else:
            rows = self.db.execute(
                "SELECT ord, change FROM outbox WHERE record_id = ? ORDER BY ord", (record_id,)
            ).fetchall()
        return [(ord_, orjson.loads(change)) for ord_, change in rows]

    def pending_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    # --- batches ---
    def current_batch(self) -> Batch | None:
        row = self.db.execute("SELECT batch_id, ords, changes FROM batch").fetchone()
        return Batch(row[0], orjson.loads(row[1]), bytes(row[2])) if row else None

    def open_batch(self, batch_id: str, limit: int) -> Batch | None:
        """Write down the next batch before it is sent; None when nothing is pending."""
        with self.tx() as db:
            rows = db.execute(
                "SELECT ord, change FROM outbox WHERE batch_id IS NULL ORDER BY ord LIMIT ?",
                (limit,),
            ).fetchall()
            if not rows:
                return None
            ords = [r[0] for r in rows]
            changes = b"[" + b",".join(r[1].encode() for r in rows) + b"]"
            db.execute(
                "INSERT INTO batch (batch_id, ords, changes, created_ms) VALUES (?,?,?,?)",
                (batch_id, orjson.dumps(ords).decode(), changes, now_ms()),
            )
            db.executemany(
                "UPDATE outbox SET batch_id = ? WHERE ord = ?", [(batch_id, o) for o in ords]
            )
        return Batch(batch_id, ords, changes)

    def drop_batch(self, batch: Batch) -> None:
        """Forget a batch the server refused as a whole (nothing of it was applied)."""
        with self.tx() as db:
            db.execute("DELETE FROM batch WHERE batch_id = ?", (batch.batch_id,))
            db.execute("UPDATE outbox SET batch_id = NULL WHERE batch_id = ?", (batch.batch_id,))

    def settle(self, batch: Batch, answer: dict[str, Any], device_id: str) -> Settled:
        """Apply a push answer to the outbox, atomically."""
        out = Settled()
        changes = orjson.loads(batch.changes)
        skew_time: int | None = None
        chain_hint: dict[str, Any] | None = None
        with self.tx() as db:
            for result in answer.get("results", []):
                index = result.get("index")
                if not isinstance(index, int) or not 0 <= index < len(batch.ords):
                    continue
                ord_, change = batch.ords[index], changes[index]
                status = result.get("status")
                if status in ("applied", "unchanged"):
                    setattr(out, status, getattr(out, status) + 1)
                    out.conflicts += int(result.get("conflicts") or 0)
                    self._accepted(ord_, change)
                    continue
                error = result.get("error") or {"code": "unknown", "message": "", "details": {}}
                code = error.get("code")
                if code in FIXABLE:
                    out.fixable += 1
                    if code == "clock_skew":
                        skew_time = int(error.get("details", {}).get("server_time_ms", 0))
                    elif chain_hint is None:
                        chain_hint = dict(error.get("details", {}))
                    continue
                out.rejected += 1
                self._reject(ord_, change, error)
                if change.get("collection") == "patrol_logs":
                    chain_hint = chain_hint or {}
            db.execute("DELETE FROM batch WHERE batch_id = ?", (batch.batch_id,))
            db.execute("UPDATE outbox SET batch_id = NULL WHERE batch_id = ?", (batch.batch_id,))
            if skew_time:
                out.restamped = self._restamp(skew_time)
                chain_hint = chain_hint or {}
            if chain_hint is not None:
                out.relinked = self._relink(device_id, chain_hint)
            self.save_clock()
        return out

    def _accepted(self, ord_: int, change: dict[str, Any]) -> None:
        self.db.execute("DELETE FROM outbox WHERE ord = ?", (ord_,))
        self.confirm(parse_stamp(change["hlc"]))
        if change["collection"] == "patrol_logs":
            self.db.execute(
                "INSERT OR REPLACE INTO own_chain (n, id, hash) VALUES (?,?,?)",
                (change["n"], change["id"], change["hash"]),
            )
            n, _ = self.acked_head()
            if change["n"] > n:
                self.put("acked_head", {"n": change["n"], "hash": change["hash"]})
        elif change.get("pii"):
            self._merge_local_pii(change["id"], change["pii"])

    def _reject(self, ord_: int, change: dict[str, Any], error: dict[str, Any]) -> None:
        self.db.execute("DELETE FROM outbox WHERE ord = ?", (ord_,))
        self.db.execute(
            "INSERT INTO rejected (ord, collection, record_id, change, error, rejected_ms) "
            "VALUES (?,?,?,?,?,?)",
            (
                ord_,
                str(change.get("collection")),
                str(change.get("id")),
                orjson.dumps(change).decode(),
                orjson.dumps(error).decode(),
                now_ms(),
            ),
        )

    def _restamp(self, server_time_ms: int) -> int:
        """Correct the clock to the server's time and stamp every pending change again.

        Stamps move by the correction (so an edit keeps its true time), never past the server's
        time, in outbox order, and above every stamp the server already holds from us.
        """
        clock = self.clock
        new_offset = server_time_ms - int(clock.wall())
        delta = new_offset - clock.offset_ms
        clock.offset_ms = new_offset
        prev = self.confirmed()
        rows = self.db.execute("SELECT ord, change FROM outbox ORDER BY ord").fetchall()
        for ord_, text in rows:
            change = orjson.loads(text)
            old = parse_stamp(change["hlc"])
            wall = min(old.wall_ms + delta, server_time_ms)
            prev = Stamp(wall, 0) if wall > prev.wall_ms else _next(prev)
            change["hlc"] = str(prev)
            self.db.execute(
                "UPDATE outbox SET change = ? WHERE ord = ?", (orjson.dumps(change).decode(), ord_)
            )
        clock.last = prev
        return len(rows)

    def acked_head(self) -> tuple[int, str]:
        head = self.get("acked_head", {"n": 0, "hash": ""})
        return int(head["n"]), str(head["hash"])

    def _relink(self, device_id: str, hint: dict[str, Any]) -> int:
        """Renumber and re-hash the pending patrol-log entries after the server's chain head.

        Only entries the server refused or never saw are pending, so none of them is part of
        the server's chain yet: re-linking them is safe and keeps the chain without holes.
        """
        n, prev_hash = self._chain_start(hint)
        return self._number_pending_entries(device_id, n, prev_hash)

    def _chain_start(self, hint: dict[str, Any]) -> tuple[int, str]:
        n, head_hash = self.acked_head()
        expected = hint.get("expected_n")
        if isinstance(expected, int) and expected - 1 != n:
            if expected == 1:
                return 0, ""
            row = self.db.execute("SELECT hash FROM own_chain WHERE n = ?", (expected - 1,))
            found = row.fetchone()
            if found:
                return expected - 1, str(found[0])
        prev = hint.get("expected_prev_hash")
        if isinstance(prev, str) and isinstance(hint.get("n"), int) and hint["n"] - 1 == n:
            return n, prev
        return n, head_hash

    # --- records pulled from the server ---
    def store_page(self, docs: list[dict[str, Any]], cursor: str, last: bool = False) -> int:
        """Keep a pulled page and advance the cursor, in one transaction.  The ``last`` page
        of a resync ends it; returns how many records it dropped (see ``sync.resync``)."""
        with self.tx() as db:
            resync.seen(db, docs)
            for doc in docs:
                db.execute(
                    "INSERT OR REPLACE INTO record (collection, id, seq, doc) VALUES (?,?,?,?)",
                    (doc["collection"], doc["id"], doc["seq"], orjson.dumps(doc).decode()),
                )
                if isinstance(doc.get("pii"), dict):
                    db.execute(
                        "INSERT OR REPLACE INTO local_pii (id, pii) VALUES (?, ?)",
                        (doc["id"], orjson.dumps(doc["pii"]).decode()),
                    )
                stamp = doc.get("hlc")
                if stamp:
                    self.clock.observe(parse_stamp(stamp))
                    self.confirm(parse_stamp(stamp))
            self.put("cursor", cursor)
            self.save_clock()
            if not last or not resync.active(db):
                return 0
            moved = resync.finish(db)
            if self.resend_own and moved:
                me = self.get("me") or {}
                resent = resync.resend(db, me.get("officer_id"), me.get("device_id"))
                if resent and me.get("device_id"):
                    self._rechain(str(me["device_id"]))
                self.resent += resent
            return moved

    def _rechain(self, device_id: str) -> None:
        """After a resync queued lost log entries again: number the queued entries on from
        the head of this device's chain as the server now has it (the resync just pulled it).
        Entries written offline may have been pushed since the restore and taken the lost
        ones' places; numbered on, every entry the device holds gets back into the chain."""
        batched = "SELECT 1 FROM outbox WHERE collection = 'patrol_logs' AND batch_id IS NOT NULL"
        if self.db.execute(batched).fetchone():
            return  # a batch in flight goes out as it is; the server's chain hints fix it
        n, prev_hash = 0, ""
        for (text,) in self.db.execute("SELECT doc FROM record WHERE collection = 'patrol_logs'"):
            doc = orjson.loads(text)
            if doc.get("device_id") == device_id and int(doc["n"]) > n:
                n, prev_hash = int(doc["n"]), str(doc["hash"])
        self.put("acked_head", {"n": n, "hash": prev_hash})
        self.db.execute("DELETE FROM own_chain WHERE n > ?", (n,))
        self._number_pending_entries(device_id, n, prev_hash)

    def _number_pending_entries(self, device_id: str, n: int, prev_hash: str) -> int:
        """Number and hash the pending patrol-log entries on from entry ``n`` (hash
        ``prev_hash``), in outbox order; the new chain head is kept. Returns how many."""
        rows = self.db.execute(
            "SELECT ord, change FROM outbox WHERE collection = 'patrol_logs' ORDER BY ord"
        ).fetchall()
        for ord_, text in rows:
            change = orjson.loads(text)
            n += 1
            change["n"], change["prev_hash"] = n, prev_hash
            change["hash"] = hash_entry(device_id, change)
            prev_hash = change["hash"]
            self.db.execute(
                "UPDATE outbox SET change = ? WHERE ord = ?", (orjson.dumps(change).decode(), ord_)
            )
        self.put("chain_head", {"n": n, "hash": prev_hash})
        return len(rows)

    def start_resync(self) -> int:
        """Pull everything again from no cursor (the server refused the cursor)."""
        with self.tx() as db:
            return resync.start(db)

    def seq_base(self, collection: str, record_id: str) -> int:
        """The ``base_seq`` for an edit of a pulled record (0 if unknown in this epoch)."""
        doc = self.record(collection, record_id)
        if doc is None or not resync.current(self.db, collection, record_id):
            return 0
        return int(doc["seq"])

    def dropped(self) -> list[dict[str, Any]]:
        """Records a resync found the server no longer has (kept for the user)."""
        return resync.dropped(self.db)

    def record(self, collection: str, record_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT doc FROM record WHERE collection = ? AND id = ?", (collection, record_id)
        ).fetchone()
        return orjson.loads(row[0]) if row else None

    def record_ids(self, collection: str) -> list[str]:
        rows = self.db.execute("SELECT id FROM record WHERE collection = ?", (collection,))
        return [r[0] for r in rows.fetchall()]

    def records(self, collection: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT doc FROM record WHERE collection = ? ORDER BY seq", (collection,)
        ).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def local_pii(self, record_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT pii FROM local_pii WHERE id = ?", (record_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def _merge_local_pii(self, record_id: str, pii: dict[str, Any]) -> None:
        merged = self.local_pii(record_id) or {}
        for name, value in pii.items():
            if value:
                merged[name] = value
            else:
                merged.pop(name, None)
        self.db.execute(
            "INSERT OR REPLACE INTO local_pii (id, pii) VALUES (?, ?)",
            (record_id, orjson.dumps(merged).decode()),
        )

    # --- refusals kept for the user ---
    def rejected(self) -> list[RejectedChange]:
        rows = self.db.execute(
            "SELECT ord, collection, record_id, change, error, rejected_ms "
            "FROM rejected ORDER BY ord"
        ).fetchall()
        return [
            RejectedChange(r[0], r[1], r[2], orjson.loads(r[3]), orjson.loads(r[4]), r[5])
            for r in rows
        ]

    def dismiss(self, ord_: int) -> bool:
        with self.tx() as db:
            return db.execute("DELETE FROM rejected WHERE ord = ?", (ord_,)).rowcount > 0


def hash_entry(device_id: str, change: dict[str, Any]) -> str:
    """The chain hash of a patrol-log change, by the server's own function."""
    model = LogEntryChange.model_validate({**change, "hash": ZERO_HASH})
    return entry_hash(device_id, model)


def _next(stamp: Stamp) -> Stamp:
    if stamp.counter >= 99_999:
        return Stamp(stamp.wall_ms + 1, 0)
    return Stamp(stamp.wall_ms, stamp.counter + 1)
