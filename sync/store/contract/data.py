"""Small records the contract's checks write and read: an incident version, a batch answer,
two stations with two officers, an incident's map point.
"""

from __future__ import annotations

import orjson

from sync.store.base import Store
from sync.store.records import (
    IncidentPoint,
    Officer,
    RecordWrite,
    Station,
    StoredAnswer,
)


def record_write(rid: str, seq: int, station: str = "s1", **extra: object) -> RecordWrite:
    doc = {"collection": "incidents", "id": rid, "seq": seq, "fields": {"n": seq}}
    values = {
        "collection": "incidents",
        "id": rid,
        "station_id": station,
        "seq": seq,
        "deleted": False,
        "doc": orjson.dumps(doc).decode(),
        "clocks": '{"n":["0000000000001-00000","d1",1]}',
        "pii": None,
        "author_officer": "o1",
        "author_device": "d1",
        "chain_n": None,
        "updated_ms": 1,
        "is_new": True,
    }
    values.update(extra)
    return RecordWrite(**values)  # type: ignore[arg-type]


def stored_answer(batch: str, body: bytes = b'{"ok":1}') -> StoredAnswer:
    return StoredAnswer("d1", batch, "h-" + batch, body, 1)


async def seed(store: Store) -> None:
    await store.put_station(Station("s1", "Uno", "150101"))
    await store.put_station(Station("s2", "Dos", None))
    await store.put_officer(Officer("o1", "Ana", "officer", "s1"))
    await store.put_officer(Officer("o2", "Rosa", "chief", "s1"))


def incident_point(rid: str, seq: int, **extra: object) -> IncidentPoint:
    values: dict[str, object] = {
        "id": rid,
        "station_id": "s1",
        "category": "robo",
        "occurred_s": 1000,
        "lon": -77.0,
        "lat": -12.0,
        "district": "150101",
        "sector": "s1-a",
        "cell": 617733150781865983,
        "deleted": False,
        "seq": seq,
    }
    values.update(extra)
    return IncidentPoint(**values)  # type: ignore[arg-type]
