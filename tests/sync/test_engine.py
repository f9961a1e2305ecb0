from __future__ import annotations

import orjson

from sync.clock import HybridClock
from sync.engine import SyncEngine
from tests.support import People, batch, incident, new_id


async def pull_all(engine: SyncEngine, who, cursor: str = "") -> list[dict]:
    out = []
    while True:
        page = orjson.loads(await engine.pull(who, cursor, 100))
        out.extend(page["changes"])
        cursor = page["cursor"]
        if not page["has_more"]:
            return out


async def test_push_then_pull_roundtrip(engine: SyncEngine, people: People) -> None:
    clock = HybridClock()
    rid = new_id()
    outcome = await engine.push(people.officer_a, batch([incident(rid, clock)]))
    answer = orjson.loads(outcome.answer)
    assert answer["results"][0]["status"] == "applied"
    assert answer["results"][0]["seq"] == 1
    changes = await pull_all(engine, people.officer_a2)
    assert [c["id"] for c in changes] == [rid]
    assert changes[0]["fields"]["category"] == "robo"
