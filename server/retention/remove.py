"""Removal, after the archive is durable: in batches of ``batch_rows``, one short transaction
each, driven by the archive's own files (only what was archived is removed).

Every batch is idempotent and leaves the database consistent, so a run may stop between any
two and a new run completes the work: a chain's ``chain_base`` moves with the entries removed
in the same transaction, and an incident's personal data is removed by a new record version
(a new sequence number) that devices pull like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from itertools import groupby, islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable

from server.retention import select as due
from server.retention.archive import read_rows
from server.retention.files import PiiFiles, pii_shas, with_marks, without_pii_files
from sync.push_writes import server_version
from sync.store import sql_tables as t
from sync.store.records import RecordWrite, StoredRecord
from sync.store.sql import SQLStore
from sync.store.sql_rows import dialect_insert

Progress = Callable[[str, int], None]


class Remover:
    def __init__(
        self,
        store: SQLStore,
        archive: Path,
        batch: int,
        now_ms: int,
        progress: Progress,
        files: PiiFiles,
    ) -> None:
        self.store, self.archive, self.batch = store, archive, batch
        self.now_ms, self.progress, self.files = now_ms, progress, files
        self.files_removed = 0

    def _chunks(self, rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        while chunk := list(islice(rows, self.batch)):
            yield chunk

    async def _tx(self, work: Callable[[AsyncConnection], Awaitable[Any]]) -> None:
        async with self.store.engine.connect() as conn:
            if self.store.is_sqlite:  # take the write lock up front, as every writer does
                conn = await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            async with conn.begin():
                await work(conn)

    async def _exec(self, stmt: Executable) -> None:
        async def work(conn: AsyncConnection) -> None:
            await conn.execute(stmt)

        await self._tx(work)

    async def track_points(self) -> int:
        done = 0
        for chunk in self._chunks(read_rows(self.archive, "track_points")):
            ids = [row["entry_id"] for row in chunk]
            stmt = delete(t.track_point).where(t.track_point.c.entry_id.in_(ids))
            await self._exec(stmt)
            done += len(ids)
            self.progress("track_points", len(ids))
        return done

    async def patrol_logs(self) -> int:
        done = 0
        rows = read_rows(self.archive, "patrol_logs")
        for device, entries in groupby(rows, key=lambda row: row["author_device"]):
            for chunk in self._chunks(iter(entries)):
                await self._tx(partial(self._cut_chain, device=device, chunk=chunk))
                done += len(chunk)
                self.progress("patrol_logs", len(chunk))
        return done

    async def _cut_chain(
        self, conn: AsyncConnection, device: str, chunk: list[dict[str, Any]]
    ) -> None:
        ids = [row["id"] for row in chunk]
        r = t.record.c
        await conn.execute(delete(t.track_point).where(t.track_point.c.entry_id.in_(ids)))
        await conn.execute(
            delete(t.record).where(
                r.collection == "patrol_logs", r.author_device == device, r.id.in_(ids)
            )
        )
        last = chunk[-1]
        stmt = dialect_insert(self.store.is_sqlite, t.chain_base).values(
            device_id=device,
            n=last["chain_n"],
            hash=last["doc"]["hash"],
            archive=self.archive.name,
            archived_ms=self.now_ms,
        )
        # Never backwards: the base is the newest entry no longer stored.
        stmt = stmt.on_conflict_do_update(
            index_elements=["device_id"],
            set_={
                "n": stmt.excluded.n,
                "hash": stmt.excluded.hash,
                "archive": stmt.excluded.archive,
                "archived_ms": stmt.excluded.archived_ms,
            },
            where=t.chain_base.c.n < stmt.excluded.n,
        )
        await conn.execute(stmt)

    async def incident_pii(self, clear_description: bool) -> int:
        done = 0
        for chunk in self._chunks(read_rows(self.archive, "incident_pii")):
            seqs = {row["id"]: row["seq"] for row in chunk}
            fields = await self._pii_files(seqs)
            async with self.store.push_unit() as unit:
                found = await unit.load("incidents", list(seqs))
                # An incident changed since it was archived is left for the next run.
                records = [rec for rid, rec in found.items() if rec.seq == seqs[rid]]
                if records:
                    first = await unit.allocate(len(records))
                    writes = [
                        _erased(rec, fields.get(rec.id), first + i, self.now_ms, clear_description)
                        for i, rec in enumerate(records)
                    ]
                    await unit.save(writes, [], [], None)
            done += len(records)
            self.progress("incident_pii", len(records))
        return done

    async def _pii_files(self, seqs: dict[str, int]) -> dict[str, dict[str, Any]]:
        """Remove the files these incidents mark as personal data, before their new versions
        (see server/retention/files.py); each incident's fields with every file ever marked
        marked (``files.with_marks``), read before the removal forgets the marks."""
        r = t.record.c
        query = select(r.id, r.seq, r.doc).where(r.collection == "incidents", r.id.in_(seqs))
        rows = [
            (record_id, orjson.loads(doc).get("fields", {}))
            for record_id, seq, doc in await due.fetch(self.store, query)  # one read a batch
            if seq == seqs[record_id]
        ]
        every = await with_marks(self.store, [fields for _, fields in rows])
        shas = {sha for fields in every for sha in pii_shas(fields)}
        leaving = {("incidents", record_id) for record_id in seqs}
        removed = await self.files.remove(shas, leaving)
        self.files_removed += removed
        if removed:
            self.progress("pii_files", removed)
        return {record_id: fields for (record_id, _), fields in zip(rows, every, strict=True)}

    async def conflict_pii(self, clear_description: bool) -> int:
        """Personal values that lost a merge, of incidents whose personal data is removed."""
        ids = [
            r[0]
            for r in await due.fetch(self.store, due.conflict_pii_query(None, clear_description))
        ]
        for start in range(0, len(ids), self.batch):
            part = ids[start : start + self.batch]
            stmt = update(t.conflict).where(t.conflict.c.id.in_(part)).values(losing_value="null")
            await self._exec(stmt)
            self.progress("conflict_pii", len(part))
        return len(ids)

    async def conflicts(self) -> int:
        done = 0
        for chunk in self._chunks(read_rows(self.archive, "conflicts")):
            await self._tx(partial(_drop_conflicts, chunk=chunk))
            done += len(chunk)
            self.progress("conflicts", len(chunk))
        return done

    async def audit(self) -> int:
        done = 0
        for chunk in self._chunks(read_rows(self.archive, "audit")):
            stmt = delete(t.audit).where(t.audit.c.id.in_([row["id"] for row in chunk]))
            await self._exec(stmt)
            done += len(chunk)
            self.progress("audit", len(chunk))
        return done


async def _drop_conflicts(conn: AsyncConnection, chunk: list[dict[str, Any]]) -> None:
    reviewed = [row["id"] for row in chunk if row["review"] is not None]
    if reviewed:
        await conn.execute(
            delete(t.conflict_review).where(t.conflict_review.c.conflict_id.in_(reviewed))
        )
    # A conflict reviewed after it was archived keeps its row (and its review) for next time.
    sql = text(
        "DELETE FROM conflict WHERE id IN :ids"
        " AND id NOT IN (SELECT conflict_id FROM conflict_review)"
    ).bindparams(bindparam("ids", expanding=True))
    await conn.execute(sql, {"ids": [row["id"] for row in chunk]})


def _erased(
    record: StoredRecord,
    marked: dict[str, Any] | None,
    seq: int,
    now: int,
    clear_description: bool,
) -> RecordWrite:
    """A new version of the incident without its personal data; ``pii`` is ``{}`` (not
    absent) so that a device that pulls it replaces the personal data it holds with nothing,
    and its attachments list without the files marked as personal data (now, or ever:
    ``marked``, its fields as ``Remover._pii_files`` read them)."""
    fields = without_pii_files(marked or dict(record.doc.get("fields", {})))
    if clear_description and fields.get("description"):
        fields["description"] = ""
    doc = {**record.doc, "seq": seq, "fields": fields}
    return server_version(record, doc, seq, now, due.ERASED)
