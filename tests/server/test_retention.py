"""Retention (server/retention, docs/operations.md "Retention"): plan, archive, removal.

The world below is built at known times with known content, and every expected count comes
from how it was built (or from plain SQL over the tables), never from the retention code.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import h3
import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from server.cli import main
from server.retention.archive import read_rows, verify_archive
from server.retention.run import apply, plan
from server.retention.settings import RetentionSettings
from server.settings import Settings
from sync.chain import verify_chain
from sync.clock import HybridClock, now_ms
from sync.engine import SyncEngine
from sync.store.records import AuditEvent, Identity, PointQuery, PublicSnapshot
from sync.store.sql import SQLStore
from tests.server.conftest import Served
from tests.support import People, batch, incident, log_entry, new_id, open_store, seed_people
from tests.support import store_params as kinds

NOW = now_ms()
DAY = 86_400_000
# Beyond every default period (at most 5 years); 15:00 UTC, 10:00 in Lima, so that a few
# minutes of positions stay within one shift and one month.
OLD = (NOW - 6 * 365 * DAY) // DAY * DAY + 15 * 3_600_000
RECENT = NOW - 20 * DAY  # within every default period (batch answers: 30 days)
LIMA = timedelta(hours=-5)
POINT_COLUMNS = ("id", "station_id", "category", "occurred_s", "lon", "lat", "district", "cell")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone(LIMA)).isoformat(timespec="seconds")


@dataclass
class World:
    store: SQLStore
    people: People
    old_entries: list[str] = field(default_factory=list)  # device A's, received at OLD
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    closed_old: str = ""
    open_old: str = ""
    closed_recent: str = ""
    closed_old_plain: str = ""
    old_audit: int = 0


def place(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stand-in for the geocoder: the fix itself, its H3 cell and one district."""
    out: list[dict[str, Any]] = []
    for item in items:
        where = item.get("location")
        if not where:
            out.append({})
            continue
        cell = h3.latlng_to_cell(where["lat"], where["lon"], 9)
        out.append({"lon": where["lon"], "lat": where["lat"], "cell": cell, "district": "150101"})
    return out


class Pusher:
    """Pushes as ``who`` with both clocks (server and device) at ``at_ms``."""

    def __init__(self, store: SQLStore, at_ms: int) -> None:
        self.engine = SyncEngine(store, enricher=place, clock=lambda: at_ms)
        self.clock = HybridClock(offset_ms=at_ms - now_ms())

    async def push(self, who: Identity, changes: list[dict[str, Any]]) -> dict[str, Any]:
        outcome = await self.engine.push(who, batch(changes))
        answer: dict[str, Any] = orjson.loads(outcome.answer)
        assert all(r["status"] == "applied" for r in answer["results"]), answer
        return answer


async def append_entries(
    world: World, who: Identity, at_ms: int, count: int, fix: bool = True
) -> list[str]:
    """``count`` entries of ``who``'s chain received at ``at_ms``, a fix a minute apart."""
    pusher = Pusher(world.store, at_ms)
    n, prev = world.heads.get(who.device_id, (0, ""))
    changes, ids = [], []
    for i in range(count):
        n += 1
        body: dict[str, Any] = {"kind": "checkpoint", "at": iso(at_ms + i * 60_000)}
        if fix:
            body |= {"lon_e6": -77_030_000 + i * 100, "lat_e6": -12_050_000}
        entry = log_entry(who.device_id, n, prev, pusher.clock, body)
        changes.append(entry)
        ids.append(entry["id"])
        prev = entry["hash"]
    await pusher.push(who, changes)
    world.heads[who.device_id] = (n, prev)
    return ids


def fields(at_ms: int, status: str, description: str = "") -> dict[str, Any]:
    out = {
        "category": "robo",
        "occurred_at": iso(at_ms),
        "status": status,
        "location": {"lon": -77.03, "lat": -12.05},
    }
    if description:
        out["description"] = description
    return out


VICTIM = {"victims": [{"name": "María Pérez", "dni": "12345678"}]}


async def build(store: SQLStore) -> World:
    world = World(store, await seed_people(store))
    p = world.people
    # Device A: 6 entries with positions six years ago, then 3 recent ones; B: 2 recent.
    world.old_entries = await append_entries(world, p.officer_a, OLD, 6)
    await append_entries(world, p.officer_a, RECENT, 3)
    await append_entries(world, p.officer_b, RECENT, 2)
    old = Pusher(store, OLD)
    world.closed_old, world.open_old = new_id(), new_id()
    world.closed_old_plain, world.closed_recent = new_id(), new_id()
    await old.push(
        p.officer_a,
        [
            incident(
                world.closed_old, old.clock, fields(OLD, "closed", "la Sra. Pérez"), 0, VICTIM
            ),
            incident(world.open_old, old.clock, fields(OLD, "open"), 0, VICTIM),
            incident(world.closed_old_plain, old.clock, fields(OLD, "closed")),
        ],
    )
    # The author and the chief change the victims concurrently: one conflict on pii.victims.
    seen = (await store.record("incidents", world.closed_old)).seq  # type: ignore[union-attr]
    other = {"victims": [{"name": "María Pérez Soto"}]}
    same = {"status": "closed"}
    await old.push(p.chief_a, [incident(world.closed_old, old.clock, same, seen, other)])
    await old.push(p.officer_a, [incident(world.closed_old, old.clock, same, seen, VICTIM)])
    recent = Pusher(store, RECENT)
    await recent.push(
        p.officer_a,
        [incident(world.closed_recent, recent.clock, fields(RECENT, "closed"), 0, VICTIM)],
    )
    for i in range(3):
        await store.add_audit(AuditEvent(OLD + i, "chief-a", "view_pii", world.closed_old))
    await store.add_audit(AuditEvent(RECENT, "chief-a", "view_pii", world.closed_recent))
    world.old_audit = 3
    published = PublicSnapshot("2020-11", "districts", "{}", '{"month":"2020-11"}', OLD)
    await store.add_public_snapshots([published])
    return world


@pytest.fixture(params=kinds())
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    opened = open_store(request.param, tmp_path)
    store = await anext(opened)
    try:
        assert isinstance(store, SQLStore)
        yield await build(store)
    finally:
        await opened.aclose()


async def scalar(store: SQLStore, sql: str, **params: Any) -> Any:
    async with store.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def table_counts(store: SQLStore) -> dict[str, int]:
    names = ("record", "track_point", "conflict", "audit", "batch_answer", "chain_base")
    return {name: await scalar(store, f"SELECT count(*) FROM {name}") for name in names}


async def expected(world: World) -> dict[str, int]:
    s = world.store
    conflicts = await s.conflicts(None, 0, 1000)
    return {
        "track_points": len(world.old_entries),
        "patrol_logs": len(world.old_entries),
        "incident_pii": 1,  # closed_old only: open_old is open, closed_old_plain holds none
        "pii_files": 0,  # no attachments here (tests/attachments/test_retention_files.py)
        "conflict_pii": sum(
            1
            for _, c in conflicts
            if c.record_id == world.closed_old and c.field.startswith("pii.")
        ),
        "conflicts": sum(1 for _, c in conflicts if c.created_ms < NOW - 2 * 365 * DAY),
        "audit": world.old_audit,
        "batch_answers": await scalar(
            s, "SELECT count(*) FROM batch_answer WHERE created_ms < :t", t=NOW - 30 * DAY
        ),
    }


def settings(**policy: Any) -> Settings:
    base = Settings(_env_file=None)
    return base.model_copy(update={"retention": RetentionSettings(**policy)})


async def points(store: SQLStore) -> list[tuple[Any, ...]]:
    cols = await store.points(PointQuery(), POINT_COLUMNS)
    return sorted(zip(*(cols[c].tolist() for c in POINT_COLUMNS), strict=True))


def sha256sums_hold(archive: Path) -> bool:
    """Checked as ``sha256sum -c SHA256SUMS`` would: every listed file's bytes."""
    lines = (archive / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ")[1]: line.split("  ")[0] for line in lines}
    files = {p.name for p in archive.glob("*.jsonl")}
    return set(listed) == files and all(
        hashlib.sha256((archive / name).read_bytes()).hexdigest() == digest
        for name, digest in listed.items()
    )


async def test_plan_counts_and_changes_nothing(world: World) -> None:
    want = await expected(world)
    assert want["conflict_pii"] == 1 and want["batch_answers"] >= 4
    before = await table_counts(world.store)
    report = await plan(world.store, settings(), NOW)
    assert report.counts == want
    assert report.chains == 1 and report.dosage_rows == 1
    kept_text = await plan(world.store, settings(pii_clear_description=False), NOW)
    assert kept_text.counts["incident_pii"] == 1
    assert await table_counts(world.store) == before


async def test_apply_archives_then_removes(world: World, tmp_path: Path) -> None:
    s, p = world.store, world.people
    want = await expected(world)
    before_points = await points(s)
    before_snapshots = await s.public_snapshots()
    before = await table_counts(s)
    report = await apply(s, settings(), tmp_path / "archive", NOW)
    assert report.counts == want
    archive = report.archive
    assert archive is not None and archive.parent == tmp_path / "archive"
    assert verify_archive(archive) == [] and sha256sums_hold(archive)
    assert not list((tmp_path / "archive").glob("*.partial"))
    # Without pii_archive no personal data reaches the archive: not a name, not a DNI, not a
    # reversible hash of one (review finding: conflicts kept their losing victims whole).
    raw = b"".join(f.read_bytes() for f in archive.iterdir())
    assert "Pérez".encode() not in raw and b"12345678" not in raw
    personal = [r for r in read_rows(archive, "conflicts") if r["field"].startswith("pii.")]
    assert personal and all(r["losing_value"] is None for r in personal)
    assert all(r["had_pii"] for r in read_rows(archive, "incident_pii"))
    # Only the archive's owner may read it.
    assert archive.stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in archive.iterdir())
    # The archive holds exactly the old entries, and their dosage: 5 one-minute intervals.
    assert [r["id"] for r in read_rows(archive, "patrol_logs")] == world.old_entries
    assert {r["entry_id"] for r in read_rows(archive, "track_points")} == set(world.old_entries)
    assert sum(r["minutes"] for r in read_rows(archive, "dosage")) == pytest.approx(5.0)
    # What went is gone, and only that.
    after = await table_counts(s)
    assert after["track_point"] == before["track_point"] - 6
    assert after["record"] == before["record"] - 6
    assert after["audit"] == before["audit"] - 3 + 2  # two audit rows of the run itself
    assert after["batch_answer"] == before["batch_answer"] - want["batch_answers"]
    assert after["conflict"] == before["conflict"] - want["conflicts"]
    # The chain still verifies, from its archived head; then takes new entries.
    chain = await s.chain(p.officer_a.device_id)
    report_a = verify_chain(p.officer_a.device_id, chain, await s.chain_base(p.officer_a.device_id))
    assert report_a.intact and report_a.archived_n == 6 and report_a.head_n == 9
    assert report_a.entries == 3
    await append_entries(world, p.officer_a, NOW, 1)
    chain = await s.chain(p.officer_a.device_id)
    assert verify_chain(
        p.officer_a.device_id, chain, await s.chain_base(p.officer_a.device_id)
    ).intact
    # Without its base the stored part does not verify: the base is what links it.
    assert not verify_chain(p.officer_a.device_id, chain).intact
    # Personal data of the old closed incident is gone; its facts stay for statistics.
    gone = await s.record("incidents", world.closed_old)
    assert gone is not None and gone.pii == {} and gone.doc["fields"]["description"] == ""
    assert gone.doc["fields"]["category"] == "robo"
    for kept in (world.open_old, world.closed_recent):
        assert (await s.record("incidents", kept)).pii == VICTIM  # type: ignore[union-attr]
    assert await points(s) == before_points
    assert await s.public_snapshots() == before_snapshots


async def test_device_pulls_the_erasure(world: World, tmp_path: Path) -> None:
    s, p = world.store, world.people
    engine = SyncEngine(s)
    first = orjson.loads(await engine.pull(p.chief_a, None, 5000))
    held = {c["id"]: c for c in first["changes"]}
    assert held[world.closed_old]["pii"] == VICTIM
    await apply(s, settings(), tmp_path / "archive", NOW)
    page = orjson.loads(await engine.pull(p.chief_a, first["cursor"], 5000))
    changed = {c["id"]: c for c in page["changes"]}
    # A new version with an empty pii object: a device replaces what it holds with nothing.
    assert set(changed) == {world.closed_old}
    assert changed[world.closed_old]["pii"] == {}
    assert "María" not in orjson.dumps(page).decode()


async def test_recent_conflict_values_are_scrubbed(world: World, tmp_path: Path) -> None:
    s = world.store
    report = await apply(s, settings(conflict_years=10), tmp_path / "archive", NOW)
    assert report.counts["conflicts"] == 0 and report.counts["conflict_pii"] == 1
    rows = [c for _, c in await s.conflicts(None, 0, 1000) if c.record_id == world.closed_old]
    assert rows and all(c.losing_value == "null" for c in rows if c.field.startswith("pii."))


async def test_rerun_is_a_no_op(world: World, tmp_path: Path) -> None:
    s = world.store
    await apply(s, settings(), tmp_path / "a", NOW)
    before = await table_counts(s)
    seq = await s.last_seq()
    again = await apply(s, settings(), tmp_path / "b", NOW)
    assert again.nothing and again.archive is None
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
    assert await table_counts(s) == before and await s.last_seq() == seq
    assert (await plan(s, settings(), NOW)).nothing


class Stop(Exception):
    pass


async def test_interrupted_run_completes_when_run_again(world: World, tmp_path: Path) -> None:
    s, p = world.store, world.people
    want = await expected(world)
    calls: list[str] = []

    def stop_after_two(kind: str, rows: int) -> None:
        calls.append(kind)
        if len(calls) == 2:
            raise Stop

    policy = settings(batch_rows=2)
    with pytest.raises(Stop):
        await apply(s, policy, tmp_path / "archive", NOW, stop_after_two)
    # Stopped mid-way: 4 of 6 positions gone, the chain untouched, yet all archived.
    assert await scalar(s, "SELECT count(*) FROM chain_base") == 0
    assert len(await s.chain(p.officer_a.device_id)) == 9
    second = await apply(s, policy, tmp_path / "archive", NOW)
    assert second.counts["track_points"] == 2 and second.counts["patrol_logs"] == 6
    assert second.counts["incident_pii"] == want["incident_pii"]
    archives = sorted((tmp_path / "archive").iterdir())
    assert len(archives) == 2 and all(verify_archive(a) == [] for a in archives)
    chain = await s.chain(p.officer_a.device_id)
    base = await s.chain_base(p.officer_a.device_id)
    assert verify_chain(p.officer_a.device_id, chain, base).intact and base is not None
    assert base.n == 6
    assert (await s.record("incidents", world.closed_old)).pii == {}  # type: ignore[union-attr]
    assert (await plan(s, policy, NOW)).nothing


async def seed_file(url: str) -> None:
    store = SQLStore(url)
    await store.open()
    try:
        await build(store)
    finally:
        await store.close()


def test_cli_plan_and_apply(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    asyncio.run(seed_file(url))
    runner = CliRunner()
    planned = runner.invoke(main, ["--db", url, "retention", "plan", "--json"])
    assert planned.exit_code == 0, planned.output
    assert orjson.loads(planned.output)["counts"]["patrol_logs"] == 6
    done = runner.invoke(
        main, ["--db", url, "retention", "apply", "--archive", str(tmp_path / "a")]
    )
    assert done.exit_code == 0, done.output
    (archive,) = (tmp_path / "a").iterdir()
    checked = runner.invoke(main, ["retention", "verify", str(archive)])
    assert checked.exit_code == 0 and "intact" in checked.output
    (archive / "audit.jsonl").write_bytes(b"{}\n")
    assert runner.invoke(main, ["retention", "verify", str(archive)]).exit_code != 0


async def test_chain_route_starts_at_the_archived_head(served: Served, tmp_path: Path) -> None:
    store = served.store
    assert isinstance(store, SQLStore)
    world = World(store, served.people)
    device = served.people.officer_a.device_id
    await append_entries(world, served.people.officer_a, OLD, 4)
    await append_entries(world, served.people.officer_a, RECENT, 2)
    await apply(store, settings(), tmp_path / "archive", NOW)
    answer = await served.client.get(f"/v1/chains/{device}", headers=served.auth("chief-a"))
    report = answer.json()
    assert answer.status_code == 200 and report["intact"] is True, report
    assert (report["archived_n"], report["entries"], report["head_n"]) == (4, 2, 6)
    # A base that does not match what is stored is reported, not trusted.
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE chain_base SET hash = :h"), {"h": "0" * 64})
    report = (
        await served.client.get(f"/v1/chains/{device}", headers=served.auth("chief-a"))
    ).json()
    assert report["intact"] is False and report["broken_links"] == [5]


async def test_re_placement_does_not_put_off_the_removal(world: World) -> None:
    """A boundary import rewrites incidents with a new version and a new updated_ms; what
    counts is when a device last edited them."""

    def moved(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**d, "district": "150102"} if d else d for d in place(items)]

    rewritten = await SyncEngine(world.store, enricher=moved, clock=lambda: RECENT).rederive()
    assert rewritten == 4  # every placed incident moved district
    record = await world.store.record("incidents", world.closed_old)
    assert record is not None and record.doc["derived"]["district"] == "150102"
    assert (await plan(world.store, settings(), NOW)).counts["incident_pii"] == 1


async def test_a_run_that_loses_its_lease_stops(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run longer than one lease renews it; when it cannot (another run took it after it
    # expired, or the database is unreachable), it stops instead of overlapping (review
    # finding: the lease was taken once for 15 minutes and never renewed).
    import server.retention.run as run
    from server.retention.run import RetentionBusy

    s = world.store
    monkeypatch.setattr(run, "LEASE_MS", 300)  # renewed every 0.1 s
    slow = asyncio.Event()

    async def long_apply(*args: Any) -> Any:
        await slow.wait()  # a run that never ends by itself

    renewals: list[bool] = []
    real_take = s.take_lease

    async def take(name: str, holder: str, now: int, ttl: int) -> bool:
        if name == run.LEASE and renewals.count(True) >= 2:
            renewals.append(False)
            return False  # someone else holds it now
        renewals.append(True)
        return await real_take(name, holder, now, ttl)

    monkeypatch.setattr(run, "_apply", long_apply)
    monkeypatch.setattr(s, "take_lease", take)
    with pytest.raises(RetentionBusy):
        await asyncio.wait_for(apply(s, settings(), tmp_path / "archive", NOW), 10)
    assert renewals == [True, True, False]  # taken, renewed once, then lost: stopped


async def test_descriptions_kept_once_are_emptied_when_the_policy_changes(
    world: World, tmp_path: Path
) -> None:
    """Review finding (2026-12-05): an incident anonymised while descriptions were kept was
    never read again, so turning ``pii_clear_description`` on later emptied none."""
    s = world.store
    kept = await apply(s, settings(pii_clear_description=False), tmp_path / "a", NOW)
    assert kept.counts["incident_pii"] == 1
    record = await s.record("incidents", world.closed_old)
    assert record is not None and record.pii == {}
    assert record.doc["fields"]["description"] == "la Sra. Pérez"
    assert (await plan(s, settings(), NOW)).counts["incident_pii"] == 1
    await apply(s, settings(), tmp_path / "b", NOW)
    record = await s.record("incidents", world.closed_old)
    assert record is not None and record.doc["fields"]["description"] == ""
    assert (await plan(s, settings(), NOW)).counts["incident_pii"] == 0


async def test_a_deleted_incident_loses_its_people_as_a_closed_one_does(
    world: World, tmp_path: Path
) -> None:
    """Review finding (2026-12-05): an incident deleted while open was never due, and the
    chief's pull kept serving its victims."""
    s, p = world.store, world.people
    old, deleted = Pusher(s, OLD), new_id()
    victim = {"victims": [{"name": "Zoila Quispe", "dni": "77777777"}]}
    await old.push(p.officer_a, [incident(deleted, old.clock, fields(OLD, "open"), 0, victim)])
    seq = (await s.record("incidents", deleted)).seq  # type: ignore[union-attr]
    await old.push(p.chief_a, [incident(deleted, old.clock, None, seq, op="delete")])
    want = await expected(world)
    assert (await plan(s, settings(), NOW)).counts["incident_pii"] == want["incident_pii"] + 1
    await apply(s, settings(), tmp_path / "archive", NOW)
    gone = await s.record("incidents", deleted)
    assert gone is not None and gone.deleted and gone.pii == {}
    page = orjson.loads(await SyncEngine(s).pull(p.chief_a, None, 5000))
    assert "Zoila" not in orjson.dumps(page).decode()
    assert (await s.record("incidents", world.open_old)).pii == VICTIM  # type: ignore[union-attr]
