"""``plan`` (what would go, per kind) and ``apply`` (archive, then remove, audited)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.retention.archive import ArchiveWriter, manifest
from server.retention.collect import Collected, Context, CountingSink, collect
from server.retention.files import PiiFiles
from server.retention.policy import KINDS, Cutoffs, cutoffs
from server.retention.remove import Progress, Remover
from server.settings import Settings
from sync.clock import now_ms as wall_ms
from sync.errors import SyncError
from sync.store.records import AuditEvent
from sync.store.sql import SQLStore

LEASE = "retention"
LEASE_MS = 15 * 60_000
ACTOR = "retention"  # the audit's officer_id of a run (the OS user is in its details)


class RetentionBusy(SyncError):
    code = "retention_busy"


@dataclass(slots=True)
class Report:
    """Counts per kind (what would go, or what went), the cut-offs, the archive written."""

    cut: Cutoffs
    counts: dict[str, int] = field(default_factory=dict)
    dosage_rows: int = 0
    chains: int = 0
    archive: Path | None = None

    @property
    def nothing(self) -> bool:
        return not any(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "cutoffs": self.cut.as_dict(),
            "counts": self.counts,
            "dosage_rows": self.dosage_rows,
            "chains": self.chains,
            "archive": str(self.archive) if self.archive else None,
        }


def context(settings: Settings, now_ms: int) -> Context:
    policy = settings.retention
    return Context(
        policy=policy,
        cut=cutoffs(policy, settings.sync.answer_retention_days, now_ms),
        resolution=settings.analysis.default_resolution,
        utc_offset_s=settings.public.utc_offset_minutes * 60,
    )


def _report(ctx: Context, rows: dict[str, int], got: Collected) -> Report:
    counts = {kind: rows.get(kind, 0) for kind in KINDS}
    counts["conflict_pii"], counts["batch_answers"] = got.conflict_pii, got.answers
    counts["pii_files"] = got.pii_files
    return Report(ctx.cut, counts, rows.get("dosage", 0), len(got.segments))


async def plan(store: SQLStore, settings: Settings, now_ms: int) -> Report:
    """What ``apply`` would archive and remove now; changes nothing."""
    ctx = context(settings, now_ms)
    sink = CountingSink()
    got = await collect(store, ctx, sink)
    return _report(ctx, dict(sink.counts), got)


async def apply(
    store: SQLStore,
    settings: Settings,
    root: Path,
    now_ms: int,
    progress: Progress | None = None,
) -> Report:
    """Archive what is due under ``root``, make it durable, then remove it in batches.

    Safe to stop at any moment and to run again: a stopped run leaves either a
    ``.partial`` folder (nothing was removed; delete it) or a complete archive and some
    batches not yet removed, which the next run archives again and removes.
    """
    run_id = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id += "-" + uuid.uuid4().hex[:8]
    if not await store.take_lease(LEASE, run_id, wall_ms(), LEASE_MS):
        raise RetentionBusy("another retention run holds the lease", {"lease": LEASE})
    lost = asyncio.Event()
    main = asyncio.current_task()
    assert main is not None
    keeper = asyncio.create_task(_keep_lease(store, run_id, main, lost))
    try:
        return await _apply(store, settings, root, now_ms, run_id, progress or _quiet)
    except asyncio.CancelledError:
        if lost.is_set():  # stopped between batches: safe, and the next run completes it
            main.uncancel()
            raise RetentionBusy("this run lost its lease and stopped", {"lease": LEASE}) from None
        raise
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await store.drop_lease(LEASE, run_id)


async def _keep_lease(
    store: SQLStore, run_id: str, main: asyncio.Task[Any], lost: asyncio.Event
) -> None:
    """Renew the lease while the run lasts (a first run on a large database takes longer
    than one lease); if it cannot, stop the run, so two runs never overlap."""
    while True:
        await asyncio.sleep(LEASE_MS / 3 / 1000)
        try:
            kept = await store.take_lease(LEASE, run_id, wall_ms(), LEASE_MS)
        except Exception:  # unsure is lost: stop rather than overlap
            kept = False
        if not kept:
            lost.set()
            main.cancel()
            return


async def _apply(
    store: SQLStore, settings: Settings, root: Path, now_ms: int, run_id: str, progress: Progress
) -> Report:
    ctx = context(settings, now_ms)
    writer = ArchiveWriter(root, run_id)
    try:
        got = await collect(store, ctx, writer)
    except BaseException:
        writer.abandon()
        raise
    rows = {kind: writer.rows(kind) for kind in (*KINDS, "dosage")}
    report = _report(ctx, rows, got)
    if not any(rows.values()):
        writer.abandon()
        shutil.rmtree(writer.partial)
    else:
        meta = {
            "created": ctx.cut.as_dict()["now"],
            "database": "sqlite" if store.is_sqlite else "postgresql",
            "policy": ctx.policy.model_dump(),
            "cutoffs": ctx.cut.as_dict(),
            "chains": got.segments,
        }
        report.archive = writer.finish(meta)
    if report.nothing:
        return report
    await _audit(store, "retention_archive", report, run_id)
    await _remove(store, settings, ctx, report, progress)
    await _audit(store, "retention_apply", report, run_id)
    return report


async def _remove(
    store: SQLStore, settings: Settings, ctx: Context, report: Report, progress: Progress
) -> None:
    clear = ctx.policy.pii_clear_description
    done = report.counts
    if report.archive is not None:
        files = PiiFiles(store, settings.attachments)
        remover = Remover(
            store, report.archive, ctx.policy.batch_rows, ctx.cut.now_ms, progress, files
        )
        done["track_points"] = await remover.track_points()
        done["patrol_logs"] = await remover.patrol_logs()
        done["incident_pii"] = await remover.incident_pii(clear)
        done["pii_files"] = remover.files_removed
        done["conflict_pii"] = await remover.conflict_pii(clear)
        done["conflicts"] = await remover.conflicts()
        done["audit"] = await remover.audit()
    done["batch_answers"] = await store.prune_answers(ctx.cut.answers_ms)
    progress("batch_answers", done["batch_answers"])


async def _audit(store: SQLStore, action: str, report: Report, run_id: str) -> None:
    details: dict[str, Any] = {"run": run_id, "counts": dict(report.counts), "os_user": _user()}
    if report.archive is not None:
        details["archive"] = str(report.archive)
        details["manifest_files"] = manifest(report.archive)["files"]
    target = report.archive.name if report.archive else run_id
    await store.add_audit(AuditEvent(wall_ms(), ACTOR, action, target, details))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _quiet(kind: str, rows: int) -> None:
    return None
