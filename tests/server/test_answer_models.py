"""The sync hot paths, and the hotspot and emerging analyses (one object per cell), write
their JSON directly (server/answers/__init__.py says why), so here real answers of push,
pull, snapshot, hotspots and emerging are read back with their answer models, strictly:
every member declared with its type, nothing undeclared, and nothing lost (the model's JSON
is the answer's JSON, nulls and absent members alike). The models are the spec's schemas,
so this keeps the bytes and /openapi.json together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel

from server.answers import answer
from server.answers.analysis import EmergingAnswer, HotspotAnswer
from server.answers.sync import PullAnswer, PushAnswer, SnapshotLine
from sync.clock import HybridClock
from tests.server.conftest import Served, served_on_both_backends
from tests.server.test_analysis import _city
from tests.support import batch, incident, log_entry, new_id

served = served_on_both_backends()


def read_back(model: type[BaseModel], raw: bytes) -> dict[str, Any]:
    """``raw`` validated strictly by ``model``; its JSON again must be the same value."""
    parsed = model.model_validate_json(raw)  # strict: the models say so
    value: dict[str, Any] = orjson.loads(raw)
    assert answer(parsed) == value
    return value


async def _fill(served: Served) -> None:
    """Every kind of document a pull carries: an incident with personal data, a conflict
    and a tombstone, a patrol-log entry, a plan, a notice (and one withdrawn), an ack."""
    client, clock, rid = served.client, HybridClock(), new_id()
    device = served.people.officer_a.device_id
    pii = {"victims": [{"name": "María Torres", "age": 34}]}
    changes = [incident(rid, clock, pii=pii), log_entry(device, 1, "", clock)]
    pushed = await client.post(
        "/v1/sync/push", json={**batch(changes), "device_time_ms": 1}, headers=served.auth("off-a")
    )
    assert read_back(PushAnswer, pushed.content)["summary"]["applied"] == 2
    other = incident(rid, HybridClock(offset_ms=1000), {"status": "closed"}, base_seq=0)
    delete = incident(rid, HybridClock(offset_ms=2000), op="delete", base_seq=1)
    refused = {"collection": "vehicles", "id": "x"}
    mixed = await client.post(
        "/v1/sync/push", json=batch([other, refused]), headers=served.auth("off-a2")
    )
    assert read_back(PushAnswer, mixed.content)["summary"]["rejected"] == 1
    await client.post("/v1/sync/push", json=batch([delete]), headers=served.auth("chief-a"))
    plan = {
        "date": "2026-11-20",
        "note": "Refuerzo",
        "assignments": [
            {"sector": "s1", "shift": "14-22", "minutes": 10, "cells": ["898e62c2a5bffff"]}
        ],
    }
    made = await client.post("/v1/plans", json=plan, headers=served.auth("chief-a"))
    assert made.status_code == 201, made.text
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    notice_ids = []
    for text in ("Moto roja", "Retirado"):
        body = {"text": text, "category": "robo", "expires_at": expires}
        posted = await client.post("/v1/notices", json=body, headers=served.auth("chief-a"))
        assert posted.status_code == 201, posted.text
        notice_ids.append(posted.json()["notice"]["notice_id"])
    gone = await client.delete(f"/v1/notices/{notice_ids[1]}", headers=served.auth("chief-a"))
    assert gone.status_code == 200, gone.text
    ack = {
        "collection": "notice_acks",
        "id": notice_ids[0],
        "op": "ack",
        "hlc": str(clock.tick()),
        "at": datetime.now(UTC).isoformat(),
    }
    acked = await client.post("/v1/sync/push", json=batch([ack]), headers=served.auth("off-a"))
    assert read_back(PushAnswer, acked.content)["summary"]["applied"] == 1


async def test_pull_and_push_answers_read_back_strictly(served: Served) -> None:
    await _fill(served)
    for who in ("off-a", "chief-a", "analyst", "off-b"):
        cursor, kinds = "", set[str]()
        while True:
            params: dict[str, str | int] = {"cursor": cursor, "limit": 2}
            page = await served.client.get("/v1/sync/pull", params=params, headers=served.auth(who))
            assert page.status_code == 200, page.text
            value = read_back(PullAnswer, page.content)
            kinds |= {c["collection"] for c in value["changes"]}
            cursor = value["cursor"]
            if not value["has_more"]:
                break
        if who == "chief-a":
            everything = {"incidents", "patrol_logs", "patrol_plans", "notices", "notice_acks"}
            assert kinds == everything


async def test_snapshot_lines_read_back_strictly(served: Served) -> None:
    await _fill(served)
    for who in ("off-a", "chief-a", "analyst"):
        answer_ = await served.client.get("/v1/sync/snapshot", headers=served.auth(who))
        assert answer_.status_code == 200
        lines = answer_.content.splitlines()
        for line in lines:
            parsed = SnapshotLine.model_validate_json(line)
            assert parsed.model_dump(mode="json", exclude_unset=True) == orjson.loads(line)
        assert orjson.loads(lines[-1])["complete"] is True


async def test_hotspot_and_emerging_answers_read_back_strictly(served: Served) -> None:
    await _city(served)
    window = {"start": "2026-10-01", "end": "2026-11-01"}
    for who in ("chief-a", "analyst"):
        hot = await served.client.get(
            "/v1/analysis/hotspots", params=window, headers=served.auth(who)
        )
        assert hot.status_code == 200, hot.text
        assert read_back(HotspotAnswer, hot.content)["cells"]
        params: dict[str, str | int] = {"end": "2026-11-01", "slices": 6}
        emerging = await served.client.get(
            "/v1/analysis/emerging", params=params, headers=served.auth(who)
        )
        assert emerging.status_code == 200, emerging.text
        assert len(read_back(EmergingAnswer, emerging.content)["slice_edges"]) == 7
