"""Patrol plans: hot cells turned into assignments, written as records phones pull.

A published plan is written straight through a store push unit, not through the push path
(``SyncEngine.push``): the push path is where devices' edits are validated, merged per field
on hybrid clocks and numbered, and a plan is none of that. It has one author (the station's
chief), is replaced or withdrawn whole, and no device may write one; putting it in
``sync.protocol.COLLECTIONS`` would let every phone push plans and need a merge rule for
them. A push unit still gives the plan a sequence number in the one total order, under the
store's write lock and atomically, so pulls, snapshots and resyncs carry it like any record;
the engine's listeners are told as after a push. The chief's web device
(``web-<officer>``, as for conflict review) is named as the writing device.

Plans are listed with ``store.records_of`` (current, not withdrawn, in the caller's stations,
newest first).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import h3
import numpy as np
import orjson

from geo.analysis.plan_dosage import GAP_CAP_S, PlannedCells, plan_dosage
from server.conflict_decide import web_identity
from sync.clock import now_ms
from sync.engine import Committed, SyncEngine
from sync.errors import Forbidden, InvalidRequest, NotFound
from sync.protocol_plans import PLANS, PlanBody, plan_doc
from sync.store.records import AuditEvent, Identity, PointQuery, RecordWrite, StoredRecord

PUBLISH_ROLES = ("chief",)
READ_ROLES = ("officer", "chief", "analyst")
DOSAGE_ROLES = ("chief", "analyst")
LIST_LIMIT = 500  # plans read back when listing (newest first)


async def station_sectors(engine: SyncEngine, station_id: str) -> dict[str, str]:
    """The station's sectors, code to name (empty when no sector layer was imported)."""
    return {
        b.code: b.name
        for b in await engine.store.boundaries("sectors")
        if b.props.get("station_code") == station_id
    }


def cell_boundary(cell: str) -> list[list[float]]:
    """The cell's polygon as [lon, lat] pairs, first point not repeated."""
    return [[round(lng, 7), round(lat, 7)] for lat, lng in h3.cell_to_boundary(cell)]


def _check_cells(body: PlanBody) -> dict[str, list[list[float]]]:
    cells = {c for a in body.assignments for c in a.cells}
    bad = sorted(c for c in cells if not h3.is_valid_cell(c) or not 5 <= h3.get_resolution(c) <= 9)
    if bad:
        raise InvalidRequest("these are not H3 cells of resolution 5 to 9", {"cells": bad[:10]})
    return {c: cell_boundary(c) for c in cells}


async def publish(engine: SyncEngine, who: Identity, body: PlanBody) -> dict[str, Any]:
    """Write a new plan for the chief's station; its document (with ``seq``)."""
    if who.role not in PUBLISH_ROLES or who.station_id is None:
        raise Forbidden("only a station chief publishes patrol plans", {"role": who.role})
    sectors = await station_sectors(engine, who.station_id)
    unknown = sorted({a.sector for a in body.assignments} - set(sectors)) if sectors else []
    if unknown:
        raise InvalidRequest("these sectors are not the station's", {"sectors": unknown})
    boundaries = _check_cells(body)
    device = await web_identity(engine.store, who) if not who.device_id else who
    now = now_ms()
    plan_id = f"plan-{secrets.token_hex(8)}"
    doc = plan_doc(plan_id, who.station_id, who.officer_id, body, now, boundaries, sectors)
    seq = await _write(engine, doc, device, deleted=False, is_new=True)
    details = {
        "station_id": who.station_id,
        "date": body.date,
        "assignments": len(body.assignments),
        "cells": sum(len(a.cells) for a in body.assignments),
        "seq": seq,
        "device_id": device.device_id,
    }
    await engine.store.add_audit(AuditEvent(now, who.officer_id, "publish_plan", plan_id, details))
    return {**doc, "seq": seq}


async def withdraw(engine: SyncEngine, who: Identity, plan_id: str) -> dict[str, Any]:
    """Withdraw a plan: a deleted version, so phones drop it on their next pull."""
    if who.role not in PUBLISH_ROLES:
        raise Forbidden("only a station chief withdraws patrol plans", {"role": who.role})
    record = await find(engine, who, plan_id)
    if record.deleted:
        raise NotFound("this patrol plan was withdrawn already", {"plan_id": plan_id})
    device = await web_identity(engine.store, who) if not who.device_id else who
    doc = {**record.doc, "deleted": True}
    doc.pop("seq", None)
    seq = await _write(engine, doc, device, deleted=True, is_new=False)
    details = {"station_id": record.station_id, "seq": seq, "device_id": device.device_id}
    await engine.store.add_audit(
        AuditEvent(now_ms(), who.officer_id, "withdraw_plan", plan_id, details)
    )
    return {**doc, "seq": seq}


async def _write(
    engine: SyncEngine, doc: dict[str, Any], device: Identity, *, deleted: bool, is_new: bool
) -> int:
    async with engine.store.push_unit() as unit:
        seq = await unit.allocate(1)
        write = RecordWrite(
            collection=PLANS,
            id=doc["id"],
            station_id=doc["station_id"],
            seq=seq,
            deleted=deleted,
            doc=orjson.dumps({**doc, "seq": seq}).decode(),
            clocks="{}",
            pii=None,
            author_officer=doc["author"],
            author_device=device.device_id,
            chain_n=None,
            updated_ms=now_ms(),
            is_new=is_new,
        )
        await unit.save([write], [], [], None)
    committed = Committed(frozenset({PLANS}), frozenset({doc["station_id"]}), seq, seq, False)
    for listener in engine.listeners:
        listener(committed)
    return seq


async def find(engine: SyncEngine, who: Identity, plan_id: str) -> StoredRecord:
    """A plan this identity may read (its station; analysts any)."""
    record = await engine.store.record(PLANS, plan_id)
    stations = engine.scope(who).station_ids
    if record is None or (stations is not None and record.station_id not in stations):
        raise NotFound("no such patrol plan", {"plan_id": plan_id[:64]})
    return record


async def plans(
    engine: SyncEngine, who: Identity, day: str | None, station: str | None = None
) -> list[dict[str, Any]]:
    """Published plans in scope (not withdrawn), newest first; of one Lima day if given."""
    stations = engine.scope(who).station_ids
    if station is not None:
        if stations is not None and station not in stations:
            raise Forbidden("this station is outside your jurisdiction", {"station": station})
        stations = (station,)
    # The caller's stations first, then the cut: cutting the city's newest publications
    # first hid a station's plans once other stations had published LIST_LIMIT after them.
    rows = await engine.store.records_of(PLANS, stations, live_only=True, limit=LIST_LIMIT)
    return [r.doc for r in rows if day is None or r.doc.get("date") == day]


def _planned(doc: dict[str, Any]) -> list[PlannedCells]:
    out = []
    for a in doc["assignments"]:
        ids = [h3.str_to_int(c["cell"]) for c in a["cells"]]
        out.append(
            PlannedCells(
                cells=np.array(ids, dtype=np.int64),
                resolutions=np.array([h3.get_resolution(c["cell"]) for c in a["cells"]]),
                start_s=int(datetime.fromisoformat(a["starts_at"]).timestamp()),
                end_s=int(datetime.fromisoformat(a["ends_at"]).timestamp()),
            )
        )
    return out


async def dosage(engine: SyncEngine, who: Identity, plan_id: str) -> dict[str, Any]:
    """Minutes spent in the plan's cells per assignment (sector and shift) and officer."""
    if who.role not in DOSAGE_ROLES:
        raise Forbidden("only chiefs and analysts read dosage", {"role": who.role})
    record = await find(engine, who, plan_id)
    doc = record.doc
    planned = _planned(doc)
    since = min(p.start_s for p in planned)
    # An interval that starts before the end closes on a position up to the gap cap later.
    until = max(p.end_s for p in planned) + GAP_CAP_S + 1
    query = PointQuery((record.station_id,), since, until)
    tracks = await engine.store.tracks(query, ("officer_id", "at_s", "lon", "lat"))
    result = plan_dosage(
        tracks["officer_id"], tracks["at_s"], tracks["lon"], tracks["lat"], planned
    )
    answer = {
        "plan_id": plan_id,
        "station_id": record.station_id,
        "date": doc["date"],
        "version": f"{result.version}.{record.seq}",
        "rules": {
            "gap_cap_s": result.gap_cap_s,
            "max_speed_mps": result.max_speed_mps,
            "attributed_to": "first_position",
        },
        "assignments": [_assignment(i, a, result) for i, a in enumerate(doc["assignments"])],
    }
    details = {"station_id": record.station_id, "date": doc["date"]}
    await engine.store.add_audit(
        AuditEvent(now_ms(), who.officer_id, "view_plan_dosage", plan_id, details)
    )
    return answer


def _assignment(index: int, a: dict[str, Any], result: Any) -> dict[str, Any]:
    rows = result.assignment == index
    per_cell: dict[str, float] = {c["cell"]: 0.0 for c in a["cells"]}
    per_officer: dict[str, dict[str, float]] = {}
    for officer, cell, secs in zip(
        result.officer[rows], result.cell[rows], result.seconds[rows], strict=True
    ):
        name, minutes = h3.int_to_str(int(cell)), int(secs) / 60
        per_cell[name] = per_cell.get(name, 0.0) + minutes
        cells = per_officer.setdefault(str(officer), {})
        cells[name] = cells.get(name, 0.0) + minutes
    asked = a["minutes"]
    done = sum(min(m, asked) for m in per_cell.values())
    return {
        "sector": a["sector"],
        "sector_name": a.get("sector_name", a["sector"]),
        "shift": a["shift"],
        "starts_at": a["starts_at"],
        "ends_at": a["ends_at"],
        "minutes_per_cell": asked,
        "planned_minutes": asked * len(a["cells"]),
        "minutes": round(sum(per_cell.values()), 2),
        "progress": round(done / (asked * len(a["cells"])), 4),
        "cells": [{"cell": c, "minutes": round(m, 2)} for c, m in per_cell.items()],
        "officers": [
            {
                "officer_id": officer,
                "minutes": round(sum(cells.values()), 2),
                "cells": [{"cell": c, "minutes": round(m, 2)} for c, m in sorted(cells.items())],
            }
            for officer, cells in sorted(per_officer.items())
        ],
    }
